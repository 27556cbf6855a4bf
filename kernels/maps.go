package kernels

import "math"

// The elementwise maps of UnaryOp and BinaryOp on one run of memory. Each
// call works serially on the run it is given: the caller (the tensor
// package's CPU backend) splits long runs over the worker pool and walks
// strided views run by run. The ops with a vector kernel (Add, Exp, Relu,
// ...) go to it; the rest are scalar loops. The transcendental maps other
// than exp and log are evaluated in float64 and rounded once, which keeps
// them within half an ulp or so of the true value.

// Unary sets dst[i] = op(x[i]) with the op's parameters p and q; dst and x
// have the same length and may be the same slice.
func Unary(op UnaryOp, dst, x []float32, p, q float32) {
	d := dst[:len(x)]
	switch op {
	case UNeg:
		Scale(d, -1, x)
	case UExp:
		Exp(d, x)
	case ULog:
		Log(d, x)
	case URelu:
		Relu(d, x)
	case UMulScalar:
		Scale(d, p, x)
	case UAddScalar:
		AddScalar(d, p, x)
	case USqrt:
		for i, v := range x {
			d[i] = float32(math.Sqrt(float64(v)))
		}
	case UAbs:
		for i, v := range x {
			d[i] = float32(math.Abs(float64(v)))
		}
	case USigmoid:
		for i, v := range x {
			d[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	case UTanh:
		for i, v := range x {
			d[i] = float32(math.Tanh(float64(v)))
		}
	case USquare:
		for i, v := range x {
			d[i] = v * v
		}
	case UDivScalar:
		for i, v := range x {
			d[i] = v / p
		}
	case UPowScalar:
		if p == 2 {
			for i, v := range x {
				d[i] = v * v
			}
			return
		}
		pp := float64(p)
		for i, v := range x {
			d[i] = float32(math.Pow(float64(v), pp))
		}
	case UClamp:
		for i, v := range x {
			if v == v {
				if v < p {
					v = p
				}
				if v > q {
					v = q
				}
			}
			d[i] = v
		}
	case UGtScalar:
		for i, v := range x {
			d[i] = b2f(v > p)
		}
	case UGeScalar:
		for i, v := range x {
			d[i] = b2f(v >= p)
		}
	case ULtScalar:
		for i, v := range x {
			d[i] = b2f(v < p)
		}
	case ULeScalar:
		for i, v := range x {
			d[i] = b2f(v <= p)
		}
	case UEqScalar:
		for i, v := range x {
			d[i] = b2f(v == p)
		}
	case UNeScalar:
		for i, v := range x {
			d[i] = b2f(v != p)
		}
	default:
		panic("kernels.Unary: unknown op")
	}
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// binFunc is the scalar definition of each binary op, used on strided runs
// and for the ops without a vector kernel.
func binFunc(op BinaryOp) func(a, b float32) float32 {
	switch op {
	case BAdd:
		return func(a, b float32) float32 { return a + b }
	case BSub:
		return func(a, b float32) float32 { return a - b }
	case BMul:
		return func(a, b float32) float32 { return a * b }
	case BDiv:
		return func(a, b float32) float32 { return a / b }
	case BPow:
		return func(a, b float32) float32 {
			if b == 2 {
				return a * a
			}
			return float32(math.Pow(float64(a), float64(b)))
		}
	case BMaximum:
		return func(a, b float32) float32 {
			if a != a || a > b {
				return a
			}
			return b
		}
	case BMinimum:
		return func(a, b float32) float32 {
			if a != a || a < b {
				return a
			}
			return b
		}
	case BGt:
		return func(a, b float32) float32 { return b2f(a > b) }
	case BGe:
		return func(a, b float32) float32 { return b2f(a >= b) }
	case BLt:
		return func(a, b float32) float32 { return b2f(a < b) }
	case BLe:
		return func(a, b float32) float32 { return b2f(a <= b) }
	case BEq:
		return func(a, b float32) float32 { return b2f(a == b) }
	case BNe:
		return func(a, b float32) float32 { return b2f(a != b) }
	case BReluBackward:
		return func(g, x float32) float32 {
			if x > 0 {
				return g
			}
			return 0
		}
	}
	panic("kernels: unknown binary op")
}

// Binary sets dst[i] = op(a[i], b[i]) over len(dst) elements; dst may be a
// itself (an in-place add runs as Axpy, y += 1*x, which rounds as an add
// does and whose contract covers the aliasing).
func Binary(op BinaryOp, dst, a, b []float32) {
	if len(dst) == 0 {
		return
	}
	a, b = a[:len(dst)], b[:len(dst)]
	switch op {
	case BAdd:
		if &dst[0] == &a[0] {
			Axpy(1, b, dst)
		} else {
			Add(dst, a, b)
		}
	case BSub:
		Sub(dst, a, b)
	case BMul:
		Mul(dst, a, b)
	case BDiv:
		Div(dst, a, b)
	case BReluBackward:
		ReluBackward(dst, a, b)
	default:
		f := binFunc(op)
		for i := range dst {
			dst[i] = f(a[i], b[i])
		}
	}
}

// BinaryScalarB sets dst[i] = op(a[i], b): a contiguous a against one
// broadcast value (the inner run of [N,C,H,W] op [1,C,1,1]).
func BinaryScalarB(op BinaryOp, dst, a []float32, b float32) {
	a = a[:len(dst)]
	switch op {
	case BAdd:
		AddScalar(dst, b, a)
	case BSub:
		AddScalar(dst, -b, a) // a + (-b) rounds exactly as a - b
	case BMul:
		Scale(dst, b, a)
	default:
		f := binFunc(op)
		for i := range dst {
			dst[i] = f(a[i], b)
		}
	}
}

// BinaryScalarA sets dst[i] = op(a, b[i]): one broadcast value against a
// contiguous b.
func BinaryScalarA(op BinaryOp, dst []float32, a float32, b []float32) {
	b = b[:len(dst)]
	switch op {
	case BAdd:
		AddScalar(dst, a, b)
	case BMul:
		Scale(dst, a, b)
	default:
		f := binFunc(op)
		for i := range dst {
			dst[i] = f(a, b[i])
		}
	}
}

// BinaryStrided sets dst[i] = op(a[i*sa], b[i*sb]) over len(dst) elements,
// for strides (0 for a broadcast operand) that the contiguous forms do not
// cover.
func BinaryStrided(op BinaryOp, dst, a []float32, sa int, b []float32, sb int) {
	f := binFunc(op)
	ai, bi := 0, 0
	for i := range dst {
		dst[i] = f(a[ai], b[bi])
		ai += sa
		bi += sb
	}
}

// Select sets dst[i] = a[i*sa] where m[i*sm] is not 0, else b[i*sb].
func Select(dst, m []float32, sm int, a []float32, sa int, b []float32, sb int) {
	mi, ai, bi := 0, 0, 0
	for i := range dst {
		if m[mi] != 0 {
			dst[i] = a[ai]
		} else {
			dst[i] = b[bi]
		}
		mi += sm
		ai += sa
		bi += sb
	}
}

// CopyStrided sets dst[i*sd] = src[i*ss] for i < n.
func CopyStrided(dst []float32, sd int, src []float32, ss int, n int) {
	if sd == 1 && ss == 1 {
		copy(dst[:n], src[:n])
		return
	}
	di, si := 0, 0
	for range n {
		dst[di] = src[si]
		di += sd
		si += ss
	}
}

// Fill sets every element of dst to v.
func Fill(dst []float32, v float32) {
	for i := range dst {
		dst[i] = v
	}
}
