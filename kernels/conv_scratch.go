package kernels

import "sync"

// Convolution and pooling need large temporary matrices (the unfolded
// input, a batch's worth of output rows) on every call. Allocating them each
// time would make a training step allocate hundreds of megabytes for the
// garbage collector to clear, so they come from this small free list and go
// back to it. sync.Pool is not used because the collector empties it, which
// would bring the allocations back after every GC cycle.

// maxFreeScratch bounds how many idle buffers are kept; a backward call
// on the per-worker schedule holds three per worker, so this covers two
// workers with some to spare.
const maxFreeScratch = 8

var (
	scratchMu   sync.Mutex
	scratchFree [][]float32
)

// getScratch returns a slice of n floats with arbitrary contents: the
// smallest idle buffer that is large enough, or a new one.
func getScratch(n int) []float32 {
	scratchMu.Lock()
	best := -1
	for i, b := range scratchFree {
		if cap(b) >= n && (best < 0 || cap(b) < cap(scratchFree[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := scratchFree[best]
		last := len(scratchFree) - 1
		scratchFree[best] = scratchFree[last]
		scratchFree[last] = nil
		scratchFree = scratchFree[:last]
		scratchMu.Unlock()
		return b[:n]
	}
	scratchMu.Unlock()
	return make([]float32, n)
}

// putScratch returns b to the free list; when the list is full the
// smallest buffer is dropped, since large ones are the costly ones to make.
func putScratch(b []float32) {
	if cap(b) == 0 {
		return
	}
	scratchMu.Lock()
	defer scratchMu.Unlock()
	if len(scratchFree) < maxFreeScratch {
		scratchFree = append(scratchFree, b)
		return
	}
	small := 0
	for i, f := range scratchFree {
		if cap(f) < cap(scratchFree[small]) {
			small = i
		}
	}
	if cap(scratchFree[small]) < cap(b) {
		scratchFree[small] = b
	}
}
