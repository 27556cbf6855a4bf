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
