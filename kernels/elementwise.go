package kernels

import "math"

// TEMPORARY: generic bodies only; the AVX2 paths and dispatch replace these.

// Add sets dst[i] = a[i] + b[i]. All slices have the same length.
func Add(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// Sub sets dst[i] = a[i] - b[i].
func Sub(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

// Mul sets dst[i] = a[i] * b[i].
func Mul(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// Div sets dst[i] = a[i] / b[i].
func Div(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] / b[i]
	}
}

// Axpy sets y[i] += alpha * x[i].
func Axpy(alpha float32, x, y []float32) {
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// Scale sets dst[i] = alpha * x[i]; dst may be x.
func Scale(dst []float32, alpha float32, x []float32) {
	for i := range dst {
		dst[i] = alpha * x[i]
	}
}

// AddScalar sets dst[i] = x[i] + s; dst may be x.
func AddScalar(dst []float32, s float32, x []float32) {
	for i := range dst {
		dst[i] = x[i] + s
	}
}

// Relu sets dst[i] = max(x[i], 0); dst may be x. NaN stays NaN.
func Relu(dst, x []float32) {
	for i := range dst {
		if x[i] < 0 {
			dst[i] = 0
		} else {
			dst[i] = x[i]
		}
	}
}

// ReluBackward sets dst[i] = grad[i] where x[i] > 0 and 0 elsewhere, the
// gradient of Relu with respect to its input x.
func ReluBackward(dst, grad, x []float32) {
	for i := range dst {
		if x[i] > 0 {
			dst[i] = grad[i]
		} else {
			dst[i] = 0
		}
	}
}

// Exp sets dst[i] = e^x[i]; dst may be x.
func Exp(dst, x []float32) {
	for i := range dst {
		dst[i] = float32(math.Exp(float64(x[i])))
	}
}

// Log sets dst[i] = ln x[i]; dst may be x.
func Log(dst, x []float32) {
	for i := range dst {
		dst[i] = float32(math.Log(float64(x[i])))
	}
}

// Sum returns the sum of x (0 for an empty slice).
func Sum(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}

// Max returns the largest element of x; it panics on an empty slice. A NaN
// anywhere in x makes the result NaN, as torch.max does.
func Max(x []float32) float32 {
	m := x[0]
	for _, v := range x {
		if v > m || v != v {
			m = v
			if v != v {
				return v
			}
		}
	}
	return m
}
