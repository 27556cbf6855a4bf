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
