package nn

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// fmaExact is x*y+z computed exactly and rounded once to float32.
func fmaExact(x, y, z float32) float32 {
	p := new(big.Float).SetPrec(200).SetFloat64(float64(x))
	p.Mul(p, new(big.Float).SetPrec(200).SetFloat64(float64(y)))
	p.Add(p, new(big.Float).SetPrec(200).SetFloat64(float64(z)))
	f, _ := p.Float32()
	return f
}

func TestFMA32(t *testing.T) {
	src := rand.New(rand.NewPCG(1, 2))
	check := func(x, y, z float32) {
		t.Helper()
		if got, want := fma32(x, y, z), fmaExact(x, y, z); got != want && !(got != got && want != want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, exact rounding gives %g", x, y, z, got, want)
		}
	}
	for range 200000 {
		x := float32(src.NormFloat64())
		y := float32(src.NormFloat64() * math.Exp2(float64(src.IntN(60)-30)))
		z := float32(src.NormFloat64() * math.Exp2(float64(src.IntN(60)-30)))
		check(x, y, z)
	}
	// Double-rounding traps: x*y = ulp/2 * (1 - 2^-2k) puts the exact sum
	// a hair below the float32 midpoint base + ulp/2, close enough that the
	// float64 sum rounds onto the midpoint; ties-to-even from there goes the
	// wrong way for odd bases. Both signs and both parities are covered.
	traps := 0
	for range 20000 {
		base := float32(1 + src.Float64())
		if src.IntN(2) == 0 {
			base = -base
		}
		base *= float32(math.Exp2(float64(src.IntN(40) - 20)))
		ulp := math.Abs(float64(math.Nextafter32(base, float32(math.Inf(1))) - base))
		k := 14 + src.IntN(10)
		x := float32(ulp / 2 * (1 + math.Exp2(-float64(k))))
		y := float32(1 - math.Exp2(-float64(k)))
		if src.IntN(2) == 0 {
			y = -y
		}
		if float64(float32(float64(x)*float64(y)+float64(base))) != fmaExactF64(x, y, base) {
			traps++
		}
		check(x, y, base)
		check(y, x, base)
	}
	if traps == 0 {
		t.Error("no case exercised the double-rounding correction")
	}
	check(float32(math.Inf(1)), 1, 1)
	check(0, 0, float32(math.Copysign(0, -1)))
	check(1e30, 1e30, 1)   // overflow
	check(1e-30, 1e-30, 0) // underflow to subnormal/zero
}

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

func fmaExactF64(x, y, z float32) float64 { return float64(fmaExact(x, y, z)) }
