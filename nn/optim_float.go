package nn

import (
	"math"
	"math/big"
)

// powInt returns b**n correctly rounded to float64, as C's pow (which
// Python's ** calls) returns it for the integer exponents of Adam's bias
// correction; math.Pow's repeated squaring can be an ulp or two away.
func powInt(b float64, n int64) float64 {
	if n == 0 {
		return 1
	}
	if n < 0 || b <= 0 || math.IsInf(b, 0) || math.IsNaN(b) {
		return math.Pow(b, float64(n))
	}
	// 53 bits times the number of squarings and products is far more
	// precision than the exact power needs to round correctly here: each
	// step loses at most one bit at this width.
	const prec = 2048
	x := new(big.Float).SetPrec(prec).SetFloat64(b)
	r := new(big.Float).SetPrec(prec).SetFloat64(1)
	for k := n; k > 0; k >>= 1 {
		if k&1 == 1 {
			r.Mul(r, x)
		}
		if k > 1 {
			x.Mul(x, x)
		}
	}
	f, _ := r.Float64()
	return f
}
