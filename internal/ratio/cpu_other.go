//go:build !linux

package ratio

import "time"

// threadCPU is not measured here: Loop falls back to wall-clock time.
func threadCPU() time.Duration { return 0 }
