package kernels

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestSum64 checks Sum64 against the exact sum (math/big) within the bound
// its comment promises, on lengths that exercise the four-way loop and its
// tail, including heavy cancellation.
func TestSum64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 67, 1000, 1 << 20} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3)))
		}
		exact, abs := new(big.Float).SetPrec(2048), 0.0
		for _, v := range x {
			exact.Add(exact, new(big.Float).SetFloat64(float64(v)))
			abs += math.Abs(float64(v))
		}
		want, _ := exact.Float64()
		got := Sum64(x)
		if bound := float64(n+1) * 0x1p-53 * abs; math.Abs(got-want) > bound {
			t.Errorf("n=%d: Sum64 = %v, exact %v, error %g > bound %g", n, got, want, math.Abs(got-want), bound)
		}
	}
}
