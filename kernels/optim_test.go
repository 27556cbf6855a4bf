package kernels

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// optimValues draws n float32 values of mixed magnitudes, with signed
// zeros, subnormals, infinities and NaN sprinkled in when special is set.
func optimValues(rng *rand.Rand, n int, special bool) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
		if special && rng.IntN(50) == 0 {
			out[i] = []float32{0, float32(math.Copysign(0, -1)), 1e-42, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}[rng.IntN(6)]
		}
	}
	return out
}

// sameBits compares float32 slices bit for bit, NaNs equal to NaNs.
func optimSameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i
		}
	}
	return -1
}

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
		if got, want := FMA32(x, y, z), fmaExact(x, y, z); got != want && !(got != got && want != want) {
			t.Fatalf("FMA32(%g, %g, %g) = %g, exact rounding gives %g", x, y, z, got, want)
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

func fmaExactF64(x, y, z float32) float64 { return float64(fmaExact(x, y, z)) }

// TestSGDStepAsmMatchesTwin holds the AVX2 SGD update to its Go twin bit
// for bit, for every option combination and lengths around the 8-lane
// blocks and the parallel grain.
func TestSGDStepAsmMatchesTwin(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA on this CPU or path")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 8, 9, 63, 1000, optimGrain + 13} {
		for flags := 0; flags < 16; flags++ {
			o := SGDOptions{NegLR: -0.01, OneMinusDampening: 0.9}
			if flags&1 != 0 {
				o.WeightDecay = 1e-4
			}
			if flags&2 != 0 {
				o.Momentum = 0.9
			}
			o.First, o.Nesterov = flags&4 != 0, flags&8 != 0
			p, g, buf := optimValues(rng, n, true), optimValues(rng, n, true), optimValues(rng, n, true)
			p2, buf2 := slices.Clone(p), slices.Clone(buf)
			SGDStep(p, g, buf, o)
			sgdStepGeneric(p2, g, buf2, o)
			if i := optimSameBits(p, p2); i >= 0 {
				t.Fatalf("n %d %+v: p[%d] = %g, twin %g", n, o, i, p[i], p2[i])
			}
			if i := optimSameBits(buf, buf2); o.Momentum != 0 && i >= 0 {
				t.Fatalf("n %d %+v: buf[%d] = %g, twin %g", n, o, i, buf[i], buf2[i])
			}
		}
	}
}

// TestAdamStepAsmMatchesTwin does the same for Adam, with and without
// weight decay and AMSGrad.
func TestAdamStepAsmMatchesTwin(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA on this CPU or path")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 8, 15, 1000, optimGrain + 5} {
		for _, wd := range []float32{0, 0.01} {
			for _, ams := range []bool{false, true} {
				o := AdamOptions{WeightDecay: wd, Beta1: 0.9, Beta2: 0.999, OneMinusBeta1: float32(1 - 0.9), OneMinusBeta2: float32(1 - 0.999),
					NegStep: float32(-1e-3 / (1 - 0.9*0.9)), SqrtBiasCorr2: float32(math.Sqrt(1 - 0.999*0.999)), Eps: 1e-8}
				p, g, m := optimValues(rng, n, true), optimValues(rng, n, true), optimValues(rng, n, true)
				v := optimValues(rng, n, false)
				for i := range v {
					v[i] = v[i] * v[i]
				}
				var vmax, vmax2 []float32
				if ams {
					vmax = optimValues(rng, n, false)
					vmax2 = slices.Clone(vmax)
				}
				p2, m2, v2 := slices.Clone(p), slices.Clone(m), slices.Clone(v)
				AdamStep(p, g, m, v, vmax, o)
				adamStepGeneric(p2, g, m2, v2, vmax2, o)
				for name, pair := range map[string][2][]float32{"p": {p, p2}, "m": {m, m2}, "v": {v, v2}, "vmax": {vmax, vmax2}} {
					if i := optimSameBits(pair[0], pair[1]); i >= 0 {
						t.Fatalf("n %d wd %g amsgrad %v: %s[%d] = %g, twin %g", n, wd, ams, name, i, pair[0][i], pair[1][i])
					}
				}
			}
		}
	}
}

// TestOptimStepLengths checks the wrappers' length checks.
func TestOptimStepLengths(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("SGDStep with a short momentum buffer did not panic")
		}
	}()
	SGDStep(make([]float32, 4), make([]float32, 4), make([]float32, 3), SGDOptions{Momentum: 0.9})
}
