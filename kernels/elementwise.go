package kernels

import "fmt"

// The exported kernels below check lengths, then run either the AVX2(+FMA)
// assembly or its pure-Go twin (the *Generic functions), chosen by useAVX2.
// The twins are the specification: the assembly computes bit for bit the same
// results, except where a kernel's comment says otherwise (Exp and Log, whose
// assembly fuses multiply-adds, and the sign of a zero returned by Max).
//
// Where a kernel allows dst to alias an input, it means dst and that input are
// the same slice (same first element); partially overlapping slices are not
// supported.

// checkLen2 panics unless dst and a have the same length, naming the kernel.
func checkLen2(kernel, dstName string, dst int, aName string, a int) {
	if dst != a {
		panic(fmt.Sprintf("kernels.%s: length mismatch: len(%s)=%d, len(%s)=%d", kernel, dstName, dst, aName, a))
	}
}

// checkLen3 panics unless dst, a and b all have the same length.
func checkLen3(kernel string, dst, a, b int) {
	checkLen2(kernel, "dst", dst, "a", a)
	checkLen2(kernel, "dst", dst, "b", b)
}

// Add sets dst[i] = a[i] + b[i]. All slices have the same length; dst may be
// a or b.
func Add(dst, a, b []float32) {
	checkLen3("Add", len(dst), len(a), len(b))
	if useAVX2 {
		addAVX2(dst, a, b)
		return
	}
	addGeneric(dst, a, b)
}

// Sub sets dst[i] = a[i] - b[i]. All slices have the same length; dst may be
// a or b.
func Sub(dst, a, b []float32) {
	checkLen3("Sub", len(dst), len(a), len(b))
	if useAVX2 {
		subAVX2(dst, a, b)
		return
	}
	subGeneric(dst, a, b)
}

// Mul sets dst[i] = a[i] * b[i]. All slices have the same length; dst may be
// a or b.
func Mul(dst, a, b []float32) {
	checkLen3("Mul", len(dst), len(a), len(b))
	if useAVX2 {
		mulAVX2(dst, a, b)
		return
	}
	mulGeneric(dst, a, b)
}

// Div sets dst[i] = a[i] / b[i] (IEEE division: x/0 is ±Inf or NaN). All
// slices have the same length; dst may be a or b.
func Div(dst, a, b []float32) {
	checkLen3("Div", len(dst), len(a), len(b))
	if useAVX2 {
		divAVX2(dst, a, b)
		return
	}
	divGeneric(dst, a, b)
}

// Axpy sets y[i] += alpha * x[i]. The product is rounded to float32 before
// the addition (no fused multiply-add), so both paths agree bit for bit.
func Axpy(alpha float32, x, y []float32) {
	checkLen2("Axpy", "y", len(y), "x", len(x))
	if useAVX2 {
		axpyAVX2(alpha, x, y)
		return
	}
	axpyGeneric(alpha, x, y)
}

// Scale sets dst[i] = alpha * x[i]; dst may be x.
func Scale(dst []float32, alpha float32, x []float32) {
	checkLen2("Scale", "dst", len(dst), "x", len(x))
	if useAVX2 {
		scaleAVX2(dst, alpha, x)
		return
	}
	scaleGeneric(dst, alpha, x)
}

// AddScalar sets dst[i] = x[i] + s; dst may be x.
func AddScalar(dst []float32, s float32, x []float32) {
	checkLen2("AddScalar", "dst", len(dst), "x", len(x))
	if useAVX2 {
		addScalarAVX2(dst, s, x)
		return
	}
	addScalarGeneric(dst, s, x)
}

// Relu sets dst[i] = max(x[i], 0); dst may be x. NaN stays NaN and -0 stays
// -0 (only values below zero are replaced).
func Relu(dst, x []float32) {
	checkLen2("Relu", "dst", len(dst), "x", len(x))
	if useAVX2 {
		reluAVX2(dst, x)
		return
	}
	reluGeneric(dst, x)
}

// ReluBackward sets dst[i] = grad[i] where x[i] > 0 and 0 elsewhere (a NaN x
// gives 0), the gradient of Relu with respect to its input x. dst may be grad
// or x.
func ReluBackward(dst, grad, x []float32) {
	checkLen2("ReluBackward", "dst", len(dst), "grad", len(grad))
	checkLen2("ReluBackward", "dst", len(dst), "x", len(x))
	if useAVX2 {
		reluBackwardAVX2(dst, grad, x)
		return
	}
	reluBackwardGeneric(dst, grad, x)
}

// Exp sets dst[i] = e^x[i]; dst may be x. The relative error is below 3e-7
// wherever the result is a normal float32; results that are subnormal
// (x between about -103.97 and -87.34) are computed, not flushed, within
// about one subnormal ulp. Exp(-Inf) = 0, Exp(+Inf) = +Inf, Exp(NaN) = NaN,
// overflow gives +Inf. The assembly uses fused multiply-adds, so its results
// may differ from the pure-Go path in the last bit.
func Exp(dst, x []float32) {
	checkLen2("Exp", "dst", len(dst), "x", len(x))
	if useAVX2 {
		expAVX2(dst, x)
		return
	}
	expGeneric(dst, x)
}

// Log sets dst[i] = ln x[i]; dst may be x. The relative error is below 3e-7
// for every positive finite input, subnormals included (Log(1) is exactly
// 0). Log(±0) = -Inf, Log(x<0) = NaN, Log(+Inf) = +Inf, Log(NaN) = NaN. The
// assembly uses fused multiply-adds, so its results may differ from the
// pure-Go path in the last bit.
func Log(dst, x []float32) {
	checkLen2("Log", "dst", len(dst), "x", len(x))
	if useAVX2 {
		logAVX2(dst, x)
		return
	}
	logGeneric(dst, x)
}

// Sum returns the sum of x (0 for an empty slice). It adds in 32 interleaved
// partial sums (the order the 4×8-lane assembly uses) on both paths, so the
// result is the same on every CPU, and its error is bounded by about
// len(x)/32 + 5 roundings of magnitude eps*sum|x[i]| rather than len(x).
func Sum(x []float32) float32 {
	if useAVX2 {
		return sumAVX2(x)
	}
	return sumGeneric(x)
}

// Max returns the largest element of x; it panics on an empty slice. A NaN
// anywhere in x makes the result NaN, as torch.max does. When the maximum is
// zero, its sign is unspecified if x holds both +0 and -0.
func Max(x []float32) float32 {
	if len(x) == 0 {
		panic("kernels.Max: empty slice")
	}
	if useAVX2 {
		return maxAVX2(x)
	}
	return maxGeneric(x)
}

// Sum64 returns the sum of x accumulated in float64: the exact sum rounded
// once for any realistic length (error about len(x)*2^-53 relative to
// sum|x|), and independent of the kernel path. Four accumulators break the
// add dependency chain. Reductions whose result must not depend on the
// summation order or drift with length (tensor sums, bias gradients) use it.
func Sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}
