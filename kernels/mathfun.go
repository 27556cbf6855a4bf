package kernels

import "math"

// Single-precision exp and log, shared by the pure-Go twins below and the
// AVX2 assembly (elementwise_amd64.s), which reads its constants from
// mathConsts so that both paths use one set of numbers.
//
// exp(x): n = round(x*log2(e)), r = x - n*ln2 (ln2 split in two so that
// n*ln2Hi is exact), |r| <= ln2/2 + tiny; exp(r) = 1 + r + r²·q(r) with q a
// degree-5 polynomial; then exp(x) = exp(r)·2^(n>>1)·2^(n-(n>>1)). Scaling
// in two exact steps lets n reach 128 (results up to MaxFloat32) and -150
// (subnormal results rounded once, not flushed), and x is clamped to
// [-104, 89] first so that n stays in that range: beyond the clamp the
// result has already underflowed to 0 or overflowed to +Inf. The clamp lets
// NaN through, and NaN then propagates through the arithmetic.
//
// log(x): x = 2^e·m with m in [sqrt(1/2), sqrt(2)), found with one integer
// add that carries into the exponent exactly when the mantissa is at least
// sqrt(2); subnormal x are first scaled by 2^23. With f = m-1 in
// [-0.2929, 0.4142], log(m) = f - f²/2 + f³·g(f), g of degree 8, and
// log(x) = e·ln2Hi + (log(m) + e·ln2Lo). Near x = 1 (e = 0) the result is f
// plus a correction of relative size |f|/2, so no cancellation loses bits;
// for e != 0 the result is at least ln2/2 in magnitude and |log(m)| at most
// that, so the final addition cannot cancel badly either.
//
// The polynomial coefficients are Chebyshev fits (mpmath.chebyfit, 40 digits)
// of (exp(r)-1-r)/r² on [-ln2/2, ln2/2] and of (log(1+f)-f+f²/2)/f³ on
// [sqrt(1/2)-1, sqrt(2)-1], rounded to float32; their approximation errors
// (about 2e-10 and 6e-9 relative) are small next to float32 rounding.

const (
	expClampLo = -104 // exp(-104) < MinFloat32Subnormal/2: rounds to 0
	expClampHi = 89   // exp(89) > MaxFloat32: overflows to +Inf
	log2E      = 1.44269504088896340736
	// ln2Hi has 12 significant bits, so n*ln2Hi is exact for |n| < 4096.
	ln2Hi     = 2839.0 / 4096.0
	ln2Lo     = 0.693147180559945309417232121458 - ln2Hi
	expQ5     = 0.00019890980911441147
	expQ4     = 0.0013933641603216529
	expQ3     = 0.00833331048488617
	expQ2     = 0.04166646674275398
	expQ1     = 0.1666666716337204
	expQ0     = 0.5
	logG8     = 0.06971611827611923
	logG7     = -0.11479733884334564
	logG6     = 0.11685419827699661
	logG5     = -0.12425687164068222
	logG4     = 0.14249058067798615
	logG3     = -0.1666780263185501
	logG2     = 0.20000715553760529
	logG1     = -0.2499999701976776
	logG0     = 0.3333333134651184
	minNormal = 0x1p-126
	// logMantOffset added to the bits of x carries into the exponent field
	// exactly when the mantissa is >= sqrt(2) (0x3504f3 is the mantissa
	// field of float32(sqrt(2))); logSqrtHalf is the bit pattern of the
	// float32 just below sqrt(1/2), to which the low 23 bits are re-added.
	logMantOffset = 0x00800000 - 0x003504f3
	logSqrtHalf   = 0x3f3504f3
)

// Row indices of mathConsts. elementwise_amd64.s addresses row k at byte
// offset 32*k: keep its #defines in step with this list.
const (
	mcExpLo = iota
	mcExpHi
	mcLog2E
	mcLn2Hi
	mcLn2Lo
	mcExpQ5
	mcExpQ4
	mcExpQ3
	mcExpQ2
	mcExpQ1
	mcExpQ0
	mcOne
	mcBias // int32 127
	mcMinNormal
	mcTwo23
	mcTwentyThree
	mcLogMantOffset // int32
	mcMantMask      // int32 0x007fffff
	mcLogSqrtHalf   // int32
	mcLogG8
	mcLogG7
	mcLogG6
	mcLogG5
	mcLogG4
	mcLogG3
	mcLogG2
	mcLogG1
	mcLogG0
	mcNegHalf
	mcZero
	mcPosInf
	mcNegInf
	mcRows
)

// mathConsts holds each constant the assembly needs broadcast to 8 lanes, as
// raw bits, so that vector instructions can take them as memory operands.
var mathConsts = func() (t [mcRows][8]uint32) {
	f := func(v float32) uint32 { return math.Float32bits(v) }
	vals := [mcRows]uint32{
		mcExpLo: f(expClampLo), mcExpHi: f(expClampHi), mcLog2E: f(log2E),
		mcLn2Hi: f(ln2Hi), mcLn2Lo: f(ln2Lo),
		mcExpQ5: f(expQ5), mcExpQ4: f(expQ4), mcExpQ3: f(expQ3),
		mcExpQ2: f(expQ2), mcExpQ1: f(expQ1), mcExpQ0: f(expQ0),
		mcOne: f(1), mcBias: 127, mcMinNormal: f(minNormal), mcTwo23: f(0x1p23),
		mcTwentyThree: f(23), mcLogMantOffset: logMantOffset, mcMantMask: 0x007fffff,
		mcLogSqrtHalf: logSqrtHalf,
		mcLogG8:       f(logG8), mcLogG7: f(logG7), mcLogG6: f(logG6), mcLogG5: f(logG5),
		mcLogG4: f(logG4), mcLogG3: f(logG3), mcLogG2: f(logG2), mcLogG1: f(logG1),
		mcLogG0: f(logG0), mcNegHalf: f(-0.5), mcZero: 0,
		mcPosInf: f(float32(math.Inf(1))), mcNegInf: f(float32(math.Inf(-1))),
	}
	for i, v := range vals {
		for j := range t[i] {
			t[i][j] = v
		}
	}
	return t
}()

// tailMask is read by the assembly at offset 32-4r to get a mask whose first
// r lanes are set, for the masked loads and stores of a loop's last r < 8
// elements.
var tailMask = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1}

func expGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = exp32(v)
	}
}

func logGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = log32(v)
	}
}

// exp32 is the scalar form of expAVX2, operation for operation, except that
// Go does not fuse the multiply-adds on amd64 (it may on other CPUs).
func exp32(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expClampLo), expClampHi)
	const magic = 0x1.8p23 // adding it rounds |t| < 2^22 to an integer
	t := x * log2E
	nf := (t + magic) - magic
	r := x - nf*ln2Hi
	r -= nf * ln2Lo
	q := float32(expQ5)
	q = q*r + expQ4
	q = q*r + expQ3
	q = q*r + expQ2
	q = q*r + expQ1
	q = q*r + expQ0
	p := 1 + (r*r*q + r)
	n := int32(nf)
	n1 := n >> 1
	n2 := n - n1
	return p * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(n2+127)<<23)
}

// log32 is the scalar form of logAVX2, operation for operation, except that
// Go does not fuse the multiply-adds on amd64 (it may on other CPUs).
func log32(x float32) float32 {
	switch {
	case !(x >= 0): // negative or NaN
		return float32(math.NaN())
	case x == 0:
		return float32(math.Inf(-1))
	case x > math.MaxFloat32:
		return x
	}
	var eadj float32
	if x < minNormal {
		x *= 0x1p23
		eadj = 23
	}
	b := math.Float32bits(x) + logMantOffset
	e := float32(int32(b>>23)-127) - eadj
	f := math.Float32frombits(b&0x007fffff+logSqrtHalf) - 1
	g := float32(logG8)
	g = g*f + logG7
	g = g*f + logG6
	g = g*f + logG5
	g = g*f + logG4
	g = g*f + logG3
	g = g*f + logG2
	g = g*f + logG1
	g = g*f + logG0
	g = g*f - 0.5
	y := f*f*g + f
	y += e * ln2Lo
	y += e * ln2Hi
	return y
}
