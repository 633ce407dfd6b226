// Package ratio measures a benchmark's operation against its floor in one
// run: the ratios of BENCHMARKS.md hold under load from other processes
// because both sides of each ratio share it.
package ratio

import (
	"testing"
	"time"
)

// Loop runs op and floor back to back in every iteration, in alternating
// order (so that neither always pays for the other's garbage or cache
// effects), and reports their time ratio as the "ratio" metric.
func Loop(b *testing.B, op, floor func()) {
	var opT, floorT time.Duration
	i := 0
	for b.Loop() {
		first, second := op, floor
		if i%2 == 1 {
			first, second = floor, op
		}
		t0 := time.Now()
		first()
		t1 := time.Now()
		second()
		t2 := time.Now()
		if i%2 == 0 {
			opT, floorT = opT+t1.Sub(t0), floorT+t2.Sub(t1)
		} else {
			floorT, opT = floorT+t1.Sub(t0), opT+t2.Sub(t1)
		}
		i++
	}
	if floorT > 0 {
		b.ReportMetric(float64(opT)/float64(floorT), "ratio")
	}
}
