package tensor

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vmdls-go/vmdls/parallel"
)

// Recycling of CPU storage. A training step allocates the same few hundred
// large tensors every time, and making each afresh costs a page fault per
// 4 KiB and the collector's work: on two cores 15% of a ResNet-18 step,
// serial, while the other core waits. Go cannot tell when a storage is
// dead (a slice from Data may outlive its tensor), so nothing is recycled
// behind anyone's back: only a caller that knows a storage has no other
// user hands it back with Recycle, and autograd's Backward does so for the
// gradients it made and consumed itself. Alloc then takes a storage of the
// same length from the cache, cleared, instead of making one.

// EnvRecycle names the environment variable that sets what Recycle does:
// "on" (the default) caches the storage for reuse, "off" drops it to the
// collector, and "poison" fills it with NaN and never reuses it, so that
// any use after Recycle shows up as NaN in a test's results.
const EnvRecycle = "VMDLS_RECYCLE"

const (
	recycleOn = iota
	recycleOff
	recyclePoison
)

var recycleModeNames = []string{recycleOn: "on", recycleOff: "off", recyclePoison: "poison"}

// recycleMode is read from EnvRecycle at start-up (anything else than
// "off" or "poison" means on) and changed only by SetRecycle.
var recycleMode = max(recycleOn, slices.Index(recycleModeNames, os.Getenv(EnvRecycle)))

// SetRecycle sets what Recycle does, as EnvRecycle ("on", "off" or
// "poison"), for tests and comparisons, and returns the previous setting;
// it changes nothing and fails for another name. It is not safe to call
// while other goroutines run tensor ops.
func SetRecycle(mode string) (prev string, err error) {
	prev = recycleModeNames[recycleMode]
	if i := slices.Index(recycleModeNames, mode); i >= 0 {
		recycleMode = i
		return prev, nil
	}
	return prev, fmt.Errorf("tensor.SetRecycle: unknown mode %q (want on, off or poison)", mode)
}

// minRecycled is the least length worth caching: below 64 KiB Go's own
// allocator is about as fast and faults no pages.
const minRecycled = 1 << 14

// maxCachedFloats bounds the idle storage the cache holds (256 MiB), the
// oldest going first: a backward pass reuses a few buffers of each size as
// it walks down the layers, and what it frees last is what the next
// forward pass asks for first. DenseNet's gradients come in dozens of
// sizes; a 1 GiB cache held so many that its training step peaked above
// PyTorch's.
const maxCachedFloats = 1 << 26

// allocSeq numbers CPU storages in the order they were made or reused.
var allocSeq atomic.Uint64

var cpuCache struct {
	mu     sync.Mutex
	free   []*cpuStorage // oldest first
	floats int           // their total length
}

// AllocMark returns a mark of the allocations made so far: Recycle(t,
// mark) recycles only storage made (or reused) after it.
func AllocMark() uint64 { return allocSeq.Load() }

// Recycle hands t's storage back for reuse if it is CPU storage made after
// mark (AllocMark) and not recycled already, and reports whether it did.
// The caller promises that neither t, nor any view of its storage, nor any
// slice Data returned for them will be used again: the memory will hold
// another tensor's values. The mark keeps storages the caller did not
// make itself out of reach.
func Recycle(t *Tensor, mark uint64) bool {
	if !MadeSince(t, mark) {
		return false
	}
	s := t.st.(*cpuStorage)
	s.recycled = true
	switch recycleMode {
	case recycleOff:
		return true
	case recyclePoison:
		nan := float32(math.NaN())
		for i := range s.data {
			s.data[i] = nan
		}
		return true
	}
	n := len(s.data)
	if n < minRecycled || n > maxCachedFloats {
		return true
	}
	cpuCache.mu.Lock()
	defer cpuCache.mu.Unlock()
	drop := 0
	for cpuCache.floats+n > maxCachedFloats {
		cpuCache.floats -= len(cpuCache.free[drop].data)
		cpuCache.free[drop] = nil
		drop++
	}
	cpuCache.free = append(cpuCache.free[drop:], s)
	cpuCache.floats += n
	return true
}

// MadeSince reports whether t's storage is CPU storage made after mark and
// not recycled: one that Recycle(t, mark) would take.
func MadeSince(t *Tensor, mark uint64) bool {
	s, ok := t.st.(*cpuStorage)
	return ok && !s.recycled && s.seq > mark
}

// SameStorage reports whether a and b are views of one storage.
func SameStorage(a, b *Tensor) bool { return a.st == b.st }

// DropRecycled empties the cache of recycled storage, leaving it to the
// collector (between phases of a program that allocate different shapes).
func DropRecycled() {
	cpuCache.mu.Lock()
	defer cpuCache.mu.Unlock()
	cpuCache.free, cpuCache.floats = nil, 0
}

// allocCPU returns a zero-filled CPU storage of n elements: a recycled one
// of that length, cleared, if the cache has one, else a new one.
func allocCPU(n int) *cpuStorage {
	var s *cpuStorage
	if n >= minRecycled {
		cpuCache.mu.Lock()
		free := cpuCache.free
		for i := len(free) - 1; i >= 0; i-- { // the newest is likeliest in cache
			if len(free[i].data) == n {
				s = free[i]
				cpuCache.free = slices.Delete(free, i, i+1)
				cpuCache.floats -= n
				break
			}
		}
		cpuCache.mu.Unlock()
	}
	if s == nil {
		return &cpuStorage{data: make([]float32, n), seq: allocSeq.Add(1)}
	}
	d := s.data
	parallel.For(n, grainElementwise*4, func(lo, hi int) { clear(d[lo:hi]) })
	// A fresh record, so that a stale *cpuStorage (the recycled one) can
	// never be recycled again into the tensor that now owns the memory.
	return &cpuStorage{data: d, seq: allocSeq.Add(1)}
}
