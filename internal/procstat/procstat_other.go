//go:build !unix

package procstat

import "time"

// CPUTime is not read on this platform: 0.
func CPUTime() time.Duration { return 0 }

// PeakRSSMiB is not read on this platform: 0.
func PeakRSSMiB() float64 { return 0 }
