package cuda

import (
	"errors"
	"math/bits"
	"sync"
)

// rawMem is the device's own allocator (cuMemAlloc/cuMemFree on the GPU, a
// fake in tests). Its methods are only called with the allocator's lock held
// and, on the GPU, from the goroutine that owns the CUDA context.
type rawMem interface {
	malloc(bytes int) (uintptr, error)
	free(p uintptr, bytes int) error
}

// AllocStats is the caching allocator's bookkeeping, in bytes of rounded
// block sizes and in counts of calls.
type AllocStats struct {
	LiveBytes   int64 // held by storages that are still alive
	CachedBytes int64 // freed by storages, kept for reuse, still on the device
	PeakBytes   int64 // the largest LiveBytes+CachedBytes seen
	Mallocs     int64 // calls to the device allocator
	Frees       int64 // blocks returned to the device (cache releases)
	Hits        int64 // requests served from the cache
	Retries     int64 // device allocations retried after releasing the cache
	Collections int64 // garbage collections the device bytes paced (see gcPacer)
}

// cachingAlloc keeps freed device blocks in free lists by size class so a
// training step, which allocates the same sizes every iteration, reaches a
// steady state without calling cuMemAlloc, which synchronizes the device and
// costs far more than a kernel launch. Blocks are reused only within their
// class; with four classes per power of two a block wastes at most a quarter
// of its size.
//
// Reuse is safe without events because the backend issues all work on one
// stream: a kernel that still reads a freed block is ordered before any
// kernel that writes the block's next owner.
type cachingAlloc struct {
	mu    sync.Mutex
	raw   rawMem
	free  map[int][]uintptr // size class in bytes -> cached blocks
	stats AllocStats
	pace  gcPacer
}

// gcPacer decides when device memory, rather than Go's heap, calls for a
// garbage collection. A device tensor's Go object is a few words, so the
// collector, paced by the Go heap, would rarely run while the device fills
// with blocks that only its cleanups return; a training step would reach
// out-of-memory before the first collection. Like GOGC=100 for the Go heap,
// the pacer asks for a collection whenever the bytes held by live storages
// would pass twice what they were after the previous one (and at least
// minTarget, so small workloads never collect on its account). The target
// is set at the first request after a collection, not at the collection
// itself, because the cleanups that return the unreachable storages' blocks
// run on their own goroutine after the collection ends.
type gcPacer struct {
	target    int64
	minTarget int64
	rebase    bool
}

// defaultGCMinTarget is the pacer's floor: below 1 GiB of live device
// memory the collector runs on the Go heap's schedule alone.
const defaultGCMinTarget = 1 << 30

func newCachingAlloc(raw rawMem) *cachingAlloc {
	return &cachingAlloc{raw: raw, free: map[int][]uintptr{}, pace: gcPacer{minTarget: defaultGCMinTarget}}
}

// minBlock is the smallest block handed out: cuMemAlloc aligns to at least
// 256 bytes anyway, and tiny tensors (scalars, biases) are many.
const minBlock = 512

// sizeClass rounds a request up to its block size: minBlock below minBlock,
// else the next multiple of a quarter of the request's power of two.
func sizeClass(bytes int) int {
	if bytes <= minBlock {
		return minBlock
	}
	p := 1 << (bits.Len(uint(bytes)) - 1) // largest power of two <= bytes
	step := p / 4
	return (bytes + step - 1) / step * step
}

// needGC reports whether a request of bytes should wait for a garbage
// collection first, by the pacer's rule.
func (a *cachingAlloc) needGC(bytes int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pace.rebase {
		a.pace.target, a.pace.rebase = 2*a.stats.LiveBytes, false
	}
	return a.stats.LiveBytes+int64(sizeClass(bytes)) > max(a.pace.target, a.pace.minTarget)
}

// collected records a paced collection; the next request sets the next
// target from the bytes then still live.
func (a *cachingAlloc) collected() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Collections++
	a.pace.rebase = true
}

// get returns a block of at least bytes bytes and its class. When the device
// is out of memory it returns every cached block to the device and tries
// once more before reporting the error.
func (a *cachingAlloc) get(bytes int) (ptr uintptr, class int, err error) {
	class = sizeClass(bytes)
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.free[class]; len(l) > 0 {
		ptr = l[len(l)-1]
		a.free[class] = l[:len(l)-1]
		a.stats.Hits++
		a.stats.CachedBytes -= int64(class)
		a.stats.LiveBytes += int64(class)
		return ptr, class, nil
	}
	ptr, err = a.raw.malloc(class)
	if err != nil && isOOM(err) && a.stats.CachedBytes > 0 {
		a.stats.Retries++
		if rerr := a.releaseLocked(); rerr != nil {
			return 0, 0, rerr
		}
		ptr, err = a.raw.malloc(class)
	}
	if err != nil {
		return 0, 0, err
	}
	a.stats.Mallocs++
	a.stats.LiveBytes += int64(class)
	a.stats.PeakBytes = max(a.stats.PeakBytes, a.stats.LiveBytes+a.stats.CachedBytes)
	return ptr, class, nil
}

// put returns a block to the cache. It never calls the device, so it may run
// on any goroutine (the garbage collector's cleanups call it).
func (a *cachingAlloc) put(ptr uintptr, class int) {
	a.mu.Lock()
	a.free[class] = append(a.free[class], ptr)
	a.stats.LiveBytes -= int64(class)
	a.stats.CachedBytes += int64(class)
	a.mu.Unlock()
}

// release returns every cached block to the device.
func (a *cachingAlloc) release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.releaseLocked()
}

func (a *cachingAlloc) releaseLocked() error {
	for class, l := range a.free {
		for i, p := range l {
			if err := a.raw.free(p, class); err != nil {
				// Keep what was not freed so the books stay right.
				a.free[class] = l[i:]
				return err
			}
			a.stats.Frees++
			a.stats.CachedBytes -= int64(class)
		}
		delete(a.free, class)
	}
	return nil
}

// Stats returns a snapshot of the bookkeeping.
func (a *cachingAlloc) Stats() AllocStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

func isOOM(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.OutOfMemory()
}
