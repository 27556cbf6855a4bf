package nn

import (
	"math"
	"math/big"
)

// fma32 returns x*y+z rounded once to float32, what the vectorized kernels
// PyTorch's CPU build uses for add(alpha=) and addcmul compute (they call
// fused multiply-add instructions), so that optimizer updates agree with
// PyTorch's bit for bit rather than to within a rounding.
//
// The product of two float32 values is exact in float64, so only the sum
// rounds, first to float64 and then to float32. That double rounding differs
// from a single rounding only when the float64 sum lands exactly halfway
// between two float32 values while the exact sum does not; the error term of
// the sum (Knuth's TwoSum) tells which way to break that tie.
func fma32(x, y, z float32) float32 {
	p := float64(float64(x) * float64(y)) // exact: 24+24 significant bits
	zz := float64(z)
	s := p + zz
	r := float32(s)
	if float64(r) == s || math.IsInf(s, 0) || math.IsNaN(s) {
		return r
	}
	// Error of the float64 sum, exact by TwoSum.
	bv := s - p
	e := (p - (s - bv)) + (zz - bv)
	if e == 0 {
		return r
	}
	// r2 is the float32 neighbour of r on the other side of s.
	var r2 float32
	if float64(r) < s {
		r2 = math.Nextafter32(r, float32(math.Inf(1)))
	} else {
		r2 = math.Nextafter32(r, float32(math.Inf(-1)))
	}
	if s-float64(r) != float64(r2)-s {
		return r // not a tie: both roundings agree
	}
	// A tie in float64 that is not one in exact arithmetic: round toward e.
	if (e > 0) == (r2 > r) {
		return r2
	}
	return r
}

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
