package kernels

// Pure-Go twins of the elementwise and reduction kernels: the specification
// the assembly is tested against and the path on CPUs without AVX2+FMA. They
// assume the lengths were checked by the exported wrappers and index by the
// length of dst (or x), so a short input panics instead of being misread.

func addGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func subGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

func mulGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

func divGeneric(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] / b[i]
	}
}

func axpyGeneric(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i := range y {
		// The conversion rounds the product, forbidding the compiler to fuse
		// it with the addition (the Go spec allows fusion otherwise): the
		// assembly multiplies and adds separately too.
		y[i] += float32(alpha * x[i])
	}
}

func scaleGeneric(dst []float32, alpha float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = alpha * x[i]
	}
}

func addScalarGeneric(dst []float32, s float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = x[i] + s
	}
}

func reluGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		if x[i] < 0 {
			dst[i] = 0
		} else {
			dst[i] = x[i]
		}
	}
}

func reluBackwardGeneric(dst, grad, x []float32) {
	grad, x = grad[:len(dst)], x[:len(dst)]
	for i := range dst {
		if x[i] > 0 {
			dst[i] = grad[i]
		} else {
			dst[i] = 0
		}
	}
}

// sumGeneric adds x in the order sumAVX2 does: element i goes to partial sum
// i%32 while at least 32 elements remain, then to partial sum i%8 (the first
// vector accumulator); the 32 partial sums are then combined pairwise as the
// assembly's register reduction does. Matching the order makes the two
// paths agree bit for bit, and the 32 independent chains are also what makes
// this loop fast in Go.
func sumGeneric(x []float32) float32 {
	var acc [32]float32
	i := 0
	for ; len(x)-i >= 32; i += 32 {
		v := x[i : i+32]
		for j := range acc {
			acc[j] += v[j]
		}
	}
	for ; len(x)-i >= 8; i += 8 {
		v := x[i : i+8]
		for j := range v {
			acc[j] += v[j]
		}
	}
	for j, v := range x[i:] {
		acc[j] += v
	}
	var a [8]float32
	for j := range a {
		a[j] = (acc[j] + acc[8+j]) + (acc[16+j] + acc[24+j])
	}
	s0, s1, s2, s3 := a[0]+a[4], a[1]+a[5], a[2]+a[6], a[3]+a[7]
	return (s0 + s2) + (s1 + s3)
}

func maxGeneric(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		if v != v {
			return v
		}
		if v > m {
			m = v
		}
	}
	return m
}
