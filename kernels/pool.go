package kernels

import "runtime"

// Threads reports how many workers parallel kernels split their work over.
//
// TEMPORARY stub: replaced by the persistent worker pool.
func Threads() int { return runtime.GOMAXPROCS(0) }

// SetThreads sets the number of workers parallel kernels use (n < 1 means
// GOMAXPROCS) and returns the previous setting.
func SetThreads(n int) int { return Threads() }

// ParallelFor splits [0, n) into contiguous chunks of at least grain items
// and calls fn(lo, hi) on them from the worker pool, returning when all are
// done. fn must be safe to call concurrently on disjoint ranges.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n > 0 {
		fn(0, n)
	}
}
