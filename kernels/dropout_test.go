package kernels

import (
	"math"
	"testing"
)

// Known-answer vectors of Philox4x32-10 from Random123's kat_vectors
// (counter, key, result).
func TestPhilox4x32KnownAnswers(t *testing.T) {
	for _, c := range []struct {
		ctr  [4]uint32
		k    [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{^uint32(0), ^uint32(0), ^uint32(0), ^uint32(0)}, [2]uint32{^uint32(0), ^uint32(0)}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	} {
		if got := Philox4x32(c.ctr, c.k[0], c.k[1]); got != c.want {
			t.Errorf("Philox4x32(%08x, %08x) = %08x, want %08x", c.ctr, c.k, got, c.want)
		}
	}
}

func TestDropout(t *testing.T) {
	const n, p = 100003, 0.3
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i%17) - 8
	}
	x[5] = float32(math.NaN())
	scale := float32(1 / (1 - p))
	dst := make([]float32, n)
	Dropout(dst, x, 42, p, scale)
	kept := 0
	for i := range dst {
		keep := DropoutKeep(42, i, p)
		want := float32(0)
		if keep {
			kept++
			want = x[i] * scale
		}
		if dst[i] != want && !(keep && math.IsNaN(float64(x[i])) && math.IsNaN(float64(dst[i]))) {
			t.Fatalf("element %d: %v, want %v (keep %v)", i, dst[i], want, keep)
		}
	}
	// The kept fraction is binomial: 1-p within five standard deviations.
	if f, sd := float64(kept)/n, math.Sqrt(p*(1-p)/n); math.Abs(f-(1-p)) > 5*sd {
		t.Fatalf("kept %.4f of the elements, want %.4f ± %.4f", f, 1-p, 5*sd)
	}
	// In place, and the same seed gives the same mask; another seed does not.
	y := append([]float32(nil), x...)
	Dropout(y, y, 42, p, scale)
	other := make([]float32, n)
	Dropout(other, x, 43, p, scale)
	same := 0
	for i := range y {
		if y[i] != dst[i] && !(math.IsNaN(float64(y[i])) && math.IsNaN(float64(dst[i]))) {
			t.Fatalf("in place: element %d differs", i)
		}
		if (other[i] == 0) == (dst[i] == 0) {
			same++
		}
	}
	if same == n {
		t.Fatal("seeds 42 and 43 drew the same mask")
	}
}
