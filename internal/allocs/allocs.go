// Package allocs is test support: it counts the allocations of a call for
// the tests that check a kernel or the worker pool allocates nothing once
// warm. Only test files import it.
package allocs

import "runtime"

// PerRun is testing.AllocsPerRun without its GOMAXPROCS(1), which would
// leave the pool's workers no processor to run on: the average number of
// allocations per call of f over runs calls, rounded down, after one
// warm-up call.
func PerRun(runs int, f func()) uint64 {
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.Mallocs - before.Mallocs) / uint64(runs)
}
