package nn

import (
	"math/big"
	"testing"
)

func TestPowInt(t *testing.T) {
	for _, b := range []float64{0.9, 0.999, 0.5, 0.1, 1.0000001} {
		for _, n := range []int64{0, 1, 2, 3, 7, 10, 100, 1000, 12345} {
			want := new(big.Float).SetPrec(4000).SetFloat64(1)
			x := new(big.Float).SetPrec(4000).SetFloat64(b)
			for range n {
				want.Mul(want, x)
			}
			w, _ := want.Float64()
			if got := powInt(b, n); got != w {
				t.Errorf("powInt(%v, %d) = %v, want %v", b, n, got, w)
			}
		}
	}
}
