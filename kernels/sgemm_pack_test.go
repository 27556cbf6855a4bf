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
