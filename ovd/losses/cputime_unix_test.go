//go:build unix

package losses

import (
	"syscall"
	"time"
)

// processCPU is the user+system CPU time of the process so far: on a
// machine shared with other jobs it measures the work done, where wall time
// also counts the waits for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
