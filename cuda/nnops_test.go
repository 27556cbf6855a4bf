package cuda

import (
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/tensor"
)

func TestIndexCSR(t *testing.T) {
	start, pos := indexCSR([]int{2, 0, 2, 3, 2}, 5)
	if want := []int32{0, 1, 1, 4, 5, 5}; !slices.Equal(start, want) {
		t.Fatalf("start %v, want %v", start, want)
	}
	// Destination 2 collects positions 0, 2, 4 in that order.
	if want := []int32{1, 0, 2, 4, 3}; !slices.Equal(pos, want) {
		t.Fatalf("pos %v, want %v", pos, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an index outside the axis did not panic")
		}
	}()
	indexCSR([]int{5}, 5)
}

func TestConvChunk(t *testing.T) {
	p := tensor.ConvParams{N: 128, C: 64, KH: 3, KW: 3, OH: 32, OW: 32}
	// 576 column rows of 1,024 positions each: 113 images fit in 2^26 floats.
	if got := convChunk(p); got != 113 {
		t.Fatalf("chunk %d, want 113", got)
	}
	p.N = 7
	if got := convChunk(p); got != 7 {
		t.Fatalf("chunk %d, want the whole batch of 7", got)
	}
	p.C, p.OH, p.OW = 1<<12, 128, 128 // one image alone exceeds the bound
	if got := convChunk(p); got != 1 {
		t.Fatalf("chunk %d, want 1", got)
	}
}

// TestGCPacer follows the pacer through one cycle: no collection below the
// floor, one once live bytes would pass it, and a target of twice what
// survived the collection afterwards.
func TestGCPacer(t *testing.T) {
	a := newCachingAlloc(&fakeMem{capacity: 1 << 30, live: map[uintptr]int{}})
	a.pace.minTarget = 8 << 10
	var held [][2]int
	take := func() {
		p, c, err := a.get(1 << 10)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, [2]int{int(p), c})
	}
	for range 8 {
		if a.needGC(1 << 10) {
			t.Fatalf("collection asked for at %d live bytes, under the floor", a.Stats().LiveBytes)
		}
		take()
	}
	if !a.needGC(1 << 10) {
		t.Fatal("no collection asked for past the floor")
	}
	a.collected()
	// The cleanups return all but two blocks after the collection.
	for _, h := range held[2:] {
		a.put(uintptr(h[0]), h[1])
	}
	held = held[:2]
	if a.needGC(1 << 10) {
		t.Fatal("collection asked for right after one")
	}
	if a.pace.target != 4<<10 || a.Stats().Collections != 1 {
		t.Fatalf("target %d after a collection left 2 KiB live, collections %d", a.pace.target, a.Stats().Collections)
	}
	// Above the floor the target, twice the survivors, decides.
	a.pace.minTarget = 1 << 10
	take()
	if a.needGC(1 << 10) {
		t.Fatal("collection asked for at 3 KiB live and a 4 KiB target")
	}
	take()
	if !a.needGC(1 << 10) {
		t.Fatal("no collection asked for at 4 KiB live and a 4 KiB target")
	}
}
