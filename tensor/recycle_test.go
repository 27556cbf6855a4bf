package tensor

import (
	"math"
	"sync"
	"testing"
)

func withRecycle(t *testing.T, mode string) {
	t.Helper()
	prev, err := SetRecycle(mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { SetRecycle(prev) })
}

func TestRecycleReusesClearedStorage(t *testing.T) {
	withRecycle(t, "on")
	DropRecycled()
	old := Ones(3, minRecycled)
	mark := AllocMark()
	a := Ones(3, minRecycled)
	if Recycle(old, mark) {
		t.Error("Recycle took storage made before the mark")
	}
	if !MadeSince(a, mark) || !Recycle(a, mark) {
		t.Fatal("Recycle refused storage made after the mark")
	}
	if Recycle(a, mark) || Recycle(a.Reshape(3*minRecycled), mark) {
		t.Error("the same storage recycled twice")
	}
	b := Zeros(minRecycled, 3) // same length, another shape
	if &b.Data()[0] != &a.Data()[0] {
		t.Error("a storage of the recycled length was made afresh, not reused")
	}
	for i, v := range b.Data() {
		if v != 0 {
			t.Fatalf("reused storage not cleared: element %d = %v", i, v)
		}
	}
	// The stale tensor's record stays recycled, so it cannot hand back the
	// memory b now owns.
	if Recycle(a, mark) {
		t.Error("a stale tensor recycled the memory of its storage's new owner")
	}
	if c := Zeros(3 * minRecycled); &c.Data()[0] == &b.Data()[0] {
		t.Error("storage in use handed out again")
	}
	small := Ones(8)
	if !Recycle(small, mark) {
		t.Error("small storage refused")
	}
	if s2 := Zeros(8); &s2.Data()[0] == &small.Data()[0] {
		t.Error("storage below minRecycled was cached")
	}
}

func TestRecyclePoisonAndOff(t *testing.T) {
	for _, mode := range []string{"poison", "off"} {
		withRecycle(t, mode)
		DropRecycled()
		mark := AllocMark()
		a := Ones(minRecycled)
		d := a.Data()
		if !Recycle(a, mark) {
			t.Fatalf("%s: Recycle refused", mode)
		}
		if b := Zeros(minRecycled); &b.Data()[0] == &d[0] {
			t.Errorf("%s: recycled storage reused", mode)
		}
		want := float32(1)
		if mode == "poison" {
			want = float32(math.NaN())
		}
		if v := d[minRecycled/2]; !(v == want || (v != v && want != want)) {
			t.Errorf("%s: recycled element %v, want %v", mode, v, want)
		}
	}
	if _, err := SetRecycle("sometimes"); err == nil {
		t.Error("unknown mode accepted")
	}
}

// TestRecycleConcurrent runs allocations and recycling from several
// goroutines at once (for -race), each checking that what it gets is
// zeroed and stays its own.
func TestRecycleConcurrent(t *testing.T) {
	withRecycle(t, "on")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				mark := AllocMark()
				x := Zeros(minRecycled + i%3)
				d := x.Data()
				for j := range d {
					if d[j] != 0 {
						t.Errorf("goroutine %d: allocation not zeroed", g)
						return
					}
					d[j] = float32(g + 1)
				}
				for j := range d {
					if d[j] != float32(g+1) {
						t.Errorf("goroutine %d: storage written by another goroutine", g)
						return
					}
				}
				Recycle(x, mark)
			}
		}()
	}
	wg.Wait()
}

// TestRecycleStepAndTrim checks the step storage of RecycleStep: it is not
// bound by the cache's size limit, TrimRecycled drops only what came back
// before its mark, and what came back after stays to be reused.
func TestRecycleStepAndTrim(t *testing.T) {
	withRecycle(t, "on")
	DropRecycled()
	mark := AllocMark()
	// More step storage than maxCachedFloats lets Recycle keep.
	big := make([]*Tensor, 5)
	for i := range big {
		big[i] = Zeros(maxCachedFloats / 4)
	}
	for _, b := range big {
		if !RecycleStep(b, mark) {
			t.Fatal("RecycleStep refused storage made after the mark")
		}
	}
	stepStart := AllocMark()
	late := Zeros(2 * minRecycled)
	RecycleStep(late, mark)
	if got := cachedEntries(); got != 6 {
		t.Fatalf("cache holds %d entries, want all 6 step storages", got)
	}
	TrimRecycled(stepStart)
	if got := cachedEntries(); got != 1 {
		t.Fatalf("after the trim the cache holds %d entries, want only the one that came back after the mark", got)
	}
	if r := Zeros(2 * minRecycled); &r.Data()[0] != &late.Data()[0] {
		t.Error("the storage that came back after the trim's mark was not reused")
	}
	if r := Zeros(maxCachedFloats / 4); &r.Data()[0] == &big[4].Data()[0] {
		t.Error("trimmed storage was reused")
	}
}

// TestRecycleBestFit checks which cached storage an allocation takes: the
// smallest that holds it, never one more than half as large again, and
// that a storage taken for fewer elements comes back whole.
func TestRecycleBestFit(t *testing.T) {
	withRecycle(t, "on")
	DropRecycled()
	const n = 4 * minRecycled
	mark := AllocMark()
	wide, snug, small := Zeros(n+n/4), Zeros(n+n/8), Zeros(n-1)
	for _, x := range []*Tensor{wide, snug, small} {
		RecycleStep(x, mark)
	}
	got := Zeros(n)
	if &got.Data()[0] != &snug.Data()[0] {
		t.Fatal("an allocation of n did not take the smallest cached storage that holds n")
	}
	if got.Numel() != n || len(got.Data()) != n {
		t.Fatalf("a reused larger storage gave %d elements, want %d", len(got.Data()), n)
	}
	if tooBig := Zeros(wide.Numel() / 2); &tooBig.Data()[0] == &wide.Data()[0] {
		t.Error("an allocation took a storage twice its size")
	}
	// The larger storage comes back whole, and fits its own size again.
	RecycleStep(got, mark)
	if r := Zeros(n + n/8); &r.Data()[0] != &snug.Data()[0] {
		t.Error("a storage reused for fewer elements did not come back at its full size")
	}
}

// TestAllocUninit checks the fast path for outputs an op overwrites whole:
// recycled storage comes uncleared, new storage zeroed (as Go makes it),
// and in poison mode a new one is all NaN so that an op failing to write
// an element shows it.
func TestAllocUninit(t *testing.T) {
	withRecycle(t, "on")
	DropRecycled()
	mark := AllocMark()
	a := Ones(minRecycled)
	d := a.Data()
	RecycleStep(a, mark)
	u := allocCPU(minRecycled, false)
	if &u.data[0] != &d[0] || u.data[minRecycled/2] != 1 {
		t.Errorf("uninitialized allocation: reused %v, element %v; want the recycled storage, uncleared", &u.data[0] == &d[0], u.data[minRecycled/2])
	}
	RecycleStep(&Tensor{shape: []int{minRecycled}, st: u, n: minRecycled, dev: CPU}, mark)
	if z := allocCPU(minRecycled, true); &z.data[0] != &d[0] || z.data[minRecycled/2] != 0 {
		t.Error("a zeroed allocation from the cache was not cleared")
	}
	withRecycle(t, "poison")
	if p := allocCPU(minRecycled, false); p.data[3] == p.data[3] {
		t.Errorf("poison mode: a new uninitialized storage holds %v, want NaN", p.data[3])
	}
	if z := allocCPU(minRecycled, true); z.data[3] != 0 {
		t.Errorf("poison mode: a zeroed allocation holds %v", z.data[3])
	}
}

// cachedEntries counts the storages in the cache.
func cachedEntries() int {
	cpuCache.mu.Lock()
	defer cpuCache.mu.Unlock()
	return len(cpuCache.free)
}

// TestRecycleMissEvicts checks that an allocation the cache cannot serve
// gives up as much of Recycle's storage, oldest first, and none of
// RecycleStep's.
func TestRecycleMissEvicts(t *testing.T) {
	withRecycle(t, "on")
	DropRecycled()
	const m = minRecycled
	mark := AllocMark()
	old, newer, step := Zeros(m), Zeros(m), Zeros(8*m)
	Recycle(old, mark)
	Recycle(newer, mark)
	RecycleStep(step, mark)
	Zeros(4 * m) // fits none of them: both of Recycle's go
	if got := cachedEntries(); got != 1 {
		t.Fatalf("after a miss the cache holds %d entries, want only the step storage", got)
	}
	if r := Zeros(8 * m); &r.Data()[0] != &step.Data()[0] {
		t.Error("the step storage did not survive the miss")
	}
	// Two storages of 2m; a miss of m (2m is too large to take for it)
	// evicts the older one only.
	c, d := Zeros(2*m), Zeros(2*m)
	Recycle(c, mark)
	Recycle(d, mark)
	Zeros(m)
	if got := cachedEntries(); got != 1 {
		t.Fatalf("a miss of %d elements left %d entries of %d, want 1", m, got, 2*m)
	}
	if r := Zeros(2 * m); &r.Data()[0] != &d.Data()[0] {
		t.Error("the miss evicted the newer storage, not the older")
	}
}
