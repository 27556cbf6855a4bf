package kernels

// The reductions and passes of batch normalization over one channel plane.
// The float64 sums keep 16 lanes (element i in lane i mod 16), reduce them
// in a fixed tree and add the last len%16 elements in order, on every path,
// so that batch statistics and their gradients are bit-identical whether
// the assembly or the Go twin ran. Products are rounded before they are
// added (no fused multiply-add), for the same reason.

// SumDiff64 returns Σ(x[i]-m) and Σ(x[i]-m)², accumulated in float64: the
// two sums of a two-pass variance (m the mean of the first pass, the first
// sum the residual that corrects it).
func SumDiff64(x []float32, m float64) (s, sq float64) {
	n := len(x) &^ 15
	if useAVX2 && n > 0 {
		var out [2]float64
		sumDiff64AVX2(&x[0], n, m, &out)
		s, sq = out[0], out[1]
	} else {
		s, sq = sumDiff64Go(x[:n], m)
	}
	for _, v := range x[n:] {
		d := float64(v) - m
		s += d
		sq += float64(d * d)
	}
	return s, sq
}

// SumProdDiff64 returns Σg[i] and Σg[i]·(x[i]-m), accumulated in float64:
// the bias and scale gradients of batch normalization (before the scale
// by 1/σ). x must be at least as long as g.
func SumProdDiff64(g, x []float32, m float64) (sg, sgx float64) {
	x = x[:len(g)]
	n := len(g) &^ 15
	if useAVX2 && n > 0 {
		var out [2]float64
		sumProdDiff64AVX2(&g[0], &x[0], n, m, &out)
		sg, sgx = out[0], out[1]
	} else {
		sg, sgx = sumProdDiff64Go(g[:n], x[:n], m)
	}
	for i := n; i < len(g); i++ {
		d := float64(g[i])
		sg += d
		sgx += float64(d * (float64(x[i]) - m))
	}
	return sg, sgx
}

// ScaleShift sets dst[i] = x[i]*a + b, the product rounded first: a batch
// norm's normalization and affine step in one pass.
func ScaleShift(dst, x []float32, a, b float32) {
	checkLen2("ScaleShift", "dst", len(dst), "x", len(x))
	n := len(dst) &^ 7
	if useAVX2 && n > 0 {
		scaleShiftAVX2(&dst[0], &x[0], n, a, b)
	} else {
		scaleShiftGo(dst[:n], x[:n], a, b)
	}
	scaleShiftGo(dst[n:], x[n:], a, b)
}

// BatchNormInputGrad sets dst[i] = g[i]*a - (x[i]-m)*b - d, each product
// rounded first: the input gradient of batch normalization in training
// mode, with a = γ/σ, b = γ/σ³·mean(g·(x-m)) and d = γ/σ·mean(g).
func BatchNormInputGrad(dst, g, x []float32, a, b, m, d float32) {
	checkLen3("BatchNormInputGrad", len(dst), len(g), len(x))
	n := len(dst) &^ 7
	if useAVX2 && n > 0 {
		bnInputGradAVX2(&dst[0], &g[0], &x[0], n, a, b, m, d)
	} else {
		bnInputGradGo(dst[:n], g[:n], x[:n], a, b, m, d)
	}
	bnInputGradGo(dst[n:], g[n:], x[n:], a, b, m, d)
}

// reduce16 is the assembly's reduction tree of its 16 lanes.
func reduce16(acc *[16]float64) float64 {
	var r [4]float64
	for l := range r {
		r[l] = (acc[l] + acc[4+l]) + (acc[8+l] + acc[12+l])
	}
	return (r[0] + r[2]) + (r[1] + r[3])
}

// sumDiff64Go is the specification of sumDiff64AVX2, for len(x) a
// multiple of 16.
func sumDiff64Go(x []float32, m float64) (s, sq float64) {
	var as, aq [16]float64
	for i := 0; i+16 <= len(x); i += 16 {
		for l, v := range x[i : i+16] {
			d := float64(v) - m
			as[l] += d
			aq[l] += float64(d * d)
		}
	}
	return reduce16(&as), reduce16(&aq)
}

// sumProdDiff64Go is the specification of sumProdDiff64AVX2, for len(g) a
// multiple of 16.
func sumProdDiff64Go(g, x []float32, m float64) (sg, sgx float64) {
	var as, ap [16]float64
	for i := 0; i+16 <= len(g); i += 16 {
		xs := x[i : i+16]
		for l, v := range g[i : i+16] {
			d := float64(v)
			as[l] += d
			ap[l] += float64(d * (float64(xs[l]) - m))
		}
	}
	return reduce16(&as), reduce16(&ap)
}

func scaleShiftGo(dst, x []float32, a, b float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = float32(x[i]*a) + b
	}
}

func bnInputGradGo(dst, g, x []float32, a, b, m, d float32) {
	g, x = g[:len(dst)], x[:len(dst)]
	for i := range dst {
		dst[i] = float32(g[i]*a) - float32((x[i]-m)*b) - d
	}
}
