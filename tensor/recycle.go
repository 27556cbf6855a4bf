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
// gradients it made and consumed itself, and, when a training loop asks
// for it (autograd.RecycleValues), for the activations of the step as it
// releases the graph. Alloc then takes a storage of about that length from
// the cache instead of making one, and clears it only for an op that does
// not overwrite its output whole: Go clears every new allocation, a pass
// over memory that was 15% of a DenseNet training step's CPU profile.

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

// maxCachedFloats bounds the idle storage the cache holds (256 MiB) of
// what Recycle hands back, the oldest going first: a backward pass reuses
// a few buffers of each size as it walks down the layers, and what it
// frees last is what the next forward pass asks for first. DenseNet's
// gradients come in dozens of sizes; a 1 GiB cache held so many that its
// training step peaked above PyTorch's. Storage handed back by RecycleStep
// is not counted: TrimRecycled bounds it instead.
const maxCachedFloats = 1 << 26

// allocSeq numbers CPU storages (and devices' RecyclableStorage) in the
// order they were made or reused, and the cache's entries in the order they
// came back.
var allocSeq atomic.Uint64

// cachedStorage is an entry of the cache.
type cachedStorage struct {
	s *cpuStorage
	// at is allocSeq when the storage came back, for TrimRecycled.
	at uint64
	// step is set for RecycleStep's entries, which maxCachedFloats does
	// not count.
	step bool
}

var cpuCache struct {
	mu     sync.Mutex
	free   []cachedStorage // oldest first
	floats int             // the length of the entries Recycle made
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
func Recycle(t *Tensor, mark uint64) bool { return recycle(t, mark, false) }

// RecycleStep is Recycle for storage that the next pass of a loop that
// repeats the same shapes will ask for again: a training step's
// activations, handed back as its backward pass releases the graph
// (autograd.RecycleValues). Such storage is kept however much of it there
// is, since the next step needs all of it, until TrimRecycled drops what
// that step did not take.
func RecycleStep(t *Tensor, mark uint64) bool { return recycle(t, mark, true) }

func recycle(t *Tensor, mark uint64, step bool) bool {
	if !MadeSince(t, mark) {
		return false
	}
	if r, ok := t.st.(RecyclableStorage); ok {
		switch recycleMode {
		case recycleOn:
			r.Recycle(true)
		case recyclePoison:
			t.backend().Fill(Buf{S: t.st, N: t.st.Len()}, float32(math.NaN()))
			r.Recycle(false)
		default:
			r.Recycle(false)
		}
		return true
	}
	s := t.st.(*cpuStorage)
	s.recycled = true
	switch recycleMode {
	case recycleOff:
		return true
	case recyclePoison:
		fillNaN(s.data)
		return true
	}
	n := cap(s.data)
	if n < minRecycled || (!step && n > maxCachedFloats) {
		return true
	}
	cpuCache.mu.Lock()
	defer cpuCache.mu.Unlock()
	if !step {
		evictLocked(cpuCache.floats + n - maxCachedFloats)
		cpuCache.floats += n
	}
	cpuCache.free = append(cpuCache.free, cachedStorage{s: s, at: allocSeq.Add(1), step: step})
	return true
}

// TrimRecycled drops from the cache every storage that came back before
// mark (AllocMark) and has not been reused since. A loop that recycles its
// steps' storage calls it at the end of each step with a mark from the
// step's start: what the step's shapes did not ask for (a smaller last
// batch, another phase of the program) then goes to the collector after
// one step instead of adding to the peak.
func TrimRecycled(mark uint64) {
	cpuCache.mu.Lock()
	defer cpuCache.mu.Unlock()
	kept := cpuCache.free[:0]
	for _, e := range cpuCache.free {
		switch {
		case e.at > mark:
			kept = append(kept, e)
		case !e.step:
			cpuCache.floats -= cap(e.s.data)
		}
	}
	clear(cpuCache.free[len(kept):])
	cpuCache.free = kept
}

// MadeSince reports whether t's storage is CPU storage, or a device's
// RecyclableStorage, made after mark and not recycled: one that Recycle(t,
// mark) would take.
func MadeSince(t *Tensor, mark uint64) bool {
	if r, ok := t.st.(RecyclableStorage); ok {
		return r.Seq() > mark
	}
	s, ok := t.st.(*cpuStorage)
	return ok && !s.recycled && s.seq > mark
}

// RecyclableStorage is a device Storage that takes part in recycling as CPU
// storage does: the tensor layer numbers it when it is made (SetSeq, from
// the sequence AllocMark reads), so that MadeSince and Recycle know it, and
// Recycle gives its memory back to the device's allocator at once, where
// otherwise only the garbage collector, finding the storage unreachable,
// would. A GPU step's activations and gradients then return to the cache as
// the backward pass releases them, and the next step reuses them without
// waiting for a collection.
type RecyclableStorage interface {
	Storage
	// SetSeq records the storage's allocation number.
	SetSeq(seq uint64)
	// Seq returns it, or 0 once the storage is recycled.
	Seq() uint64
	// Recycle marks the storage recycled and, when release is set, returns
	// its memory to the device now; the storage must not be used after.
	Recycle(release bool)
}

// numbered gives a new device storage its allocation number when it takes
// part in recycling.
func numbered(st Storage) Storage {
	if r, ok := st.(RecyclableStorage); ok {
		r.SetSeq(allocSeq.Add(1))
	}
	return st
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

// allocCPU returns a CPU storage of n elements: the recycled one that fits
// n best (bestFitLocked) if the cache has one, else a new one. With zero set it is
// zero-filled; without, its contents are unspecified, for an output the op
// overwrites whole (in poison mode a new one is then filled with NaN, so a
// test sees any element such an op fails to write).
func allocCPU(n int, zero bool) *cpuStorage {
	var s *cpuStorage
	if n >= minRecycled {
		cpuCache.mu.Lock()
		if i := bestFitLocked(n); i >= 0 {
			e := cpuCache.free[i]
			s = e.s
			if !e.step {
				cpuCache.floats -= cap(s.data)
			}
			cpuCache.free = slices.Delete(cpuCache.free, i, i+1)
		} else {
			// A miss gives up as much of Recycle's storage, oldest first:
			// storage cached for sizes that are not asked for (an
			// inference pass's earlier, larger layers) then goes to the
			// collector, whose memory the new one can take, instead of
			// adding to the peak beside it. Step storage stays: the step
			// asks for it again.
			evictLocked(n)
		}
		cpuCache.mu.Unlock()
	}
	if s == nil {
		s = &cpuStorage{data: make([]float32, n), seq: allocSeq.Add(1)}
		if !zero && recycleMode == recyclePoison {
			fillNaN(s.data)
		}
		return s
	}
	d := s.data[:n]
	if zero {
		parallel.For(n, grainElementwise*4, func(lo, hi int) { clear(d[lo:hi]) })
	}
	// A fresh record, so that a stale *cpuStorage (the recycled one) can
	// never be recycled again into the tensor that now owns the memory.
	return &cpuStorage{data: d, seq: allocSeq.Add(1)}
}

// maxFitWaste bounds how much larger than asked a reused storage may be:
// n + n/maxFitWaste elements, so at most a third of it lies unused. Taking a slightly larger
// storage lets a backward pass put its gradients in the activations it has
// just released, which in DenseNet are each a few channels wider than the
// gradient asked for; an exact match would leave them idle while the
// gradients took fresh memory.
const maxFitWaste = 2

// bestFitLocked returns the index of the cached storage that fits n with
// the least to spare, the newest among equals (likeliest in the CPU's
// caches), or -1; cpuCache.mu is held.
func bestFitLocked(n int) int {
	best, bestCap := -1, 0
	limit := n + n/maxFitWaste
	free := cpuCache.free
	for i := len(free) - 1; i >= 0; i-- {
		c := cap(free[i].s.data)
		if c >= n && c <= limit && (best < 0 || c < bestCap) {
			best, bestCap = i, c
			if c == n {
				break
			}
		}
	}
	return best
}

// evictLocked drops the oldest of Recycle's entries (not RecycleStep's)
// until at least n elements of them have gone or none is left;
// cpuCache.mu is held.
func evictLocked(n int) {
	if n <= 0 {
		return
	}
	kept := cpuCache.free[:0]
	for _, e := range cpuCache.free {
		if n > 0 && !e.step {
			n -= cap(e.s.data)
			cpuCache.floats -= cap(e.s.data)
			continue
		}
		kept = append(kept, e)
	}
	clear(cpuCache.free[len(kept):])
	cpuCache.free = kept
}

// fillNaN sets every element of d to NaN.
func fillNaN(d []float32) {
	nan := float32(math.NaN())
	for i := range d {
		d[i] = nan
	}
}
