package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackBRows holds the assembly B packing to packBRowsGo, its
// specification, for every panel width the micro-kernels use and a few
// others, with NaN canaries after the packed panels and a source whose
// rows are longer than the panels read.
func TestPackBRows(t *testing.T) {
	if !useAVX2 {
		t.Skip("no assembly B packing on this path")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, nr := range []int{8, 16, 24, 32, 64} {
		for _, kc := range []int{1, 2, 3, 7, 64, 129} {
			for _, np := range []int{1, 2, 5, 17} {
				ldb := np*nr + rng.IntN(9)
				src := make([]float32, (kc-1)*ldb+np*nr)
				for i := range src {
					src[i] = rng.Float32()*2 - 1
				}
				want := make([]float32, np*kc*nr+5)
				got := make([]float32, len(want))
				for i := range got {
					got[i] = float32(math.NaN())
					want[i] = got[i]
				}
				packBRowsGo(want, src, kc, np, nr, ldb)
				if !packBRows(got, src, kc, np, nr, ldb) {
					t.Fatalf("packBRows refused nr=%d", nr)
				}
				name := fmt.Sprintf("nr=%d kc=%d np=%d ldb=%d", nr, kc, np, ldb)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: dst[%d] = %v, want %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
	if packBRows(make([]float32, 12), make([]float32, 12), 1, 1, 12, 12) {
		t.Error("packBRows accepted nr = 12, which is no multiple of 8")
	}
}

// TestTranspose8 holds the assembly 8×8 transposes to transpose8Go, their
// specification, for every row count and the strides packA (overlapping,
// lddst < 8) and packBPanels (lddst = nr) use, with NaN canaries past the
// last column written.
func TestTranspose8(t *testing.T) {
	if !useAVX2 {
		t.Skip("no assembly transposes on this path")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for rows := 1; rows <= 8; rows++ {
		for _, lddst := range []int{4, 6, 8, 16, 32} {
			for _, nblk := range []int{1, 2, 7} {
				ldsrc := 8*nblk + rng.IntN(5)
				src := make([]float32, (rows-1)*ldsrc+8*nblk)
				for i := range src {
					src[i] = rng.Float32()*2 - 1
				}
				n := (8*nblk-1)*lddst + 8 + 3
				want, got := make([]float32, n), make([]float32, n)
				for i := range got {
					got[i] = float32(math.NaN())
					want[i] = got[i]
				}
				transpose8Go(want, src, ldsrc, lddst, rows, nblk)
				if !transpose8(got, src, ldsrc, lddst, rows, nblk) {
					t.Fatal("transpose8 refused")
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("rows=%d lddst=%d nblk=%d: dst[%d] = %v, want %v", rows, lddst, nblk, i, got[i], want[i])
					}
				}
			}
		}
	}
}
