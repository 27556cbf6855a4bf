package kernels

import (
	"math/bits"

	"github.com/vmdls-go/vmdls/parallel"
)

// Dropout's mask comes from a counter-based generator, Philox4x32-10
// (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
// element i of a call keeps or drops by a pure function of (seed, i), so
// every device computes the same mask in any order and in parallel, a GPU
// without drawing anything on the host, and the backward pass recomputes
// the mask instead of storing it.

// Philox4x32's multipliers and Weyl key increments.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// Philox4x32 returns the ten-round Philox4x32 block of counter c under key
// (k0, k1): four uniformly distributed 32-bit words.
func Philox4x32(c [4]uint32, k0, k1 uint32) [4]uint32 {
	for range 10 {
		hi0, lo0 := bits.Mul32(philoxM0, c[0])
		hi1, lo1 := bits.Mul32(philoxM1, c[2])
		c = [4]uint32{hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0}
		k0 += philoxW0
		k1 += philoxW1
	}
	return c
}

// DropoutKeep reports whether element i of a dropout call with this seed
// keeps its value at drop probability p: word i%4 of the Philox block at
// counter i/4 (key: the seed's two halves), its top 24 bits read as a
// fraction u in [0, 1), keeps when u >= p. The GPU's vm_dropout computes
// the same.
func DropoutKeep(seed uint64, i int, p float32) bool {
	blk := uint64(i) >> 2
	w := Philox4x32([4]uint32{uint32(blk), uint32(blk >> 32), 0, 0}, uint32(seed), uint32(seed>>32))[i&3]
	return keeps(w, p)
}

// keeps reads a Philox word's top 24 bits as a fraction in [0, 1) and
// keeps the element when it is at least p.
func keeps(w uint32, p float32) bool { return float32(w>>8)*(1.0/(1<<24)) >= p }

// Dropout sets dst[i] = x[i]*scale where DropoutKeep(seed, i, p) and +0
// elsewhere (a dropped NaN gives 0 too); dst may be x. The forward pass
// and the backward pass (on the gradient) call it with the same seed.
func Dropout(dst, x []float32, seed uint64, p, scale float32) {
	checkLen2("Dropout", "dst", len(dst), "x", len(x))
	// Chunks start at multiples of 4 so each Philox block is drawn once.
	groups := (len(dst) + 3) / 4
	parallel.For(groups, 1<<12, func(lo, hi int) {
		k0, k1 := uint32(seed), uint32(seed>>32)
		for g := lo; g < hi; g++ {
			blk := uint64(g)
			w := Philox4x32([4]uint32{uint32(blk), uint32(blk >> 32), 0, 0}, k0, k1)
			for j := range 4 {
				i := 4*g + j
				if i >= len(dst) {
					break
				}
				if keeps(w[j], p) {
					dst[i] = x[i] * scale
				} else {
					dst[i] = 0
				}
			}
		}
	})
}
