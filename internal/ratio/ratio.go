// Package ratio measures a benchmark's operation against its floor in one
// run: the ratios of BENCHMARKS.md hold under load from other processes
// because both sides of each ratio share it.
package ratio

import (
	"runtime"
	"testing"
	"time"
)

// Loop runs op and floor back to back in every iteration, in alternating
// order (so that neither always pays for the other's garbage or cache
// effects), and reports their time ratio: "ratio" on the CPU time of the
// benchmark's thread (locked to it; immune to the other processes of a
// loaded machine, blind to garbage collection on other threads) and
// "wall-ratio" on elapsed time. Where the thread's CPU clock is not
// available, "ratio" is the wall-clock one.
func Loop(b *testing.B, op, floor func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var opT, floorT, opW, floorW time.Duration
	i := 0
	for b.Loop() {
		first, second := op, floor
		if i%2 == 1 {
			first, second = floor, op
		}
		c0, w0 := threadCPU(), time.Now()
		first()
		c1, w1 := threadCPU(), time.Now()
		second()
		c2, w2 := threadCPU(), time.Now()
		if i%2 == 0 {
			opT, floorT = opT+c1-c0, floorT+c2-c1
			opW, floorW = opW+w1.Sub(w0), floorW+w2.Sub(w1)
		} else {
			floorT, opT = floorT+c1-c0, opT+c2-c1
			floorW, opW = floorW+w1.Sub(w0), opW+w2.Sub(w1)
		}
		i++
	}
	if floorW > 0 {
		b.ReportMetric(float64(opW)/float64(floorW), "wall-ratio")
	}
	if floorT > 0 {
		b.ReportMetric(float64(opT)/float64(floorT), "ratio")
	} else if floorW > 0 {
		b.ReportMetric(float64(opW)/float64(floorW), "ratio")
	}
}
