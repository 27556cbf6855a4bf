package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestScheduleDoesNotChangeRounding: an element of C depends on its row of
// op(A), its column of op(B) and k alone, bit for bit, whichever schedule
// the product's size picks (the small-M one for a wide product, the
// general one for a narrow slice of it, the shared-A one on two threads) —
// what lets an image score the same alone as in a batch. It fails when the
// schedules block k differently.
func TestScheduleDoesNotChangeRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kern := range kernelsForTest() {
		for _, k := range []int{kern.blk.kc - 8, kern.blk.kc + 40, 3*kern.blk.kc + 5} {
			m := 2*kern.mr + 1
			wide := 8 * m * kern.nr // n >= 4m: the small-M schedule
			if (m+kern.mr-1)/kern.mr*kern.mr*k > kern.blk.smallA {
				t.Fatalf("%s: %dx%d is too big for the small-M schedule: the test covers nothing", kern.name, m, k)
			}
			a := randSlice(rng, m*k)
			b := randSlice(rng, k*wide)
			want := make([]float32, m*wide)
			sgemmWith(kern, 1, false, false, m, wide, k, 1, a, k, b, wide, 0, want, wide)
			for _, narrow := range []struct {
				rows, cols, threads int
			}{{m, kern.nr + 3, 1}, {m, 2 * kern.nr, 2}, {1, wide, 1}, {m, wide, 2}} {
				got := make([]float32, narrow.rows*narrow.cols)
				sgemmWith(kern, narrow.threads, false, false, narrow.rows, narrow.cols, k, 1, a, k, b, wide, 0, got, narrow.cols)
				for i := 0; i < narrow.rows; i++ {
					for j := 0; j < narrow.cols; j++ {
						if g, w := got[i*narrow.cols+j], want[i*wide+j]; math.Float32bits(g) != math.Float32bits(w) {
							t.Fatalf("%s k=%d: C[%d,%d] of a %dx%d product on %d threads = %g, of the %dx%d one %g",
								kern.name, k, i, j, narrow.rows, narrow.cols, narrow.threads, g, m, wide, w)
						}
					}
				}
			}
		}
	}
}
