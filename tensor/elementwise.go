package tensor

// binary applies op to a and b broadcast against each other.
func binary(name string, op BinaryOp, a, b *Tensor) *Tensor {
	dev := sameDevice(name, a, b)
	shape := broadcastOrFail(name, a.shape, b.shape)
	r := uninit(dev, shape)
	if r.n > 0 {
		backendOf(name, dev).Binary(op, r.buf(), shape, a.buf(), broadcastStrides(a.shape, shape), b.buf(), broadcastStrides(b.shape, shape))
	}
	return r
}

// unary applies op with parameters p, q to every element of a.
func unary(name string, op UnaryOp, a *Tensor, p, q float32) *Tensor {
	r := uninit(a.dev, a.shape)
	if r.n > 0 {
		backendOf(name, a.dev).Unary(op, r.buf(), a.buf(), p, q)
	}
	return r
}

// Add returns a + b with broadcasting.
func Add(a, b *Tensor) *Tensor { return binary("tensor.Add", BAdd, a, b) }

// Sub returns a - b with broadcasting.
func Sub(a, b *Tensor) *Tensor { return binary("tensor.Sub", BSub, a, b) }

// Mul returns a * b elementwise with broadcasting.
func Mul(a, b *Tensor) *Tensor { return binary("tensor.Mul", BMul, a, b) }

// Div returns a / b elementwise with broadcasting (IEEE: x/0 is ±Inf or NaN).
func Div(a, b *Tensor) *Tensor { return binary("tensor.Div", BDiv, a, b) }

// Pow returns a^b elementwise with broadcasting, with C/PyTorch pow
// semantics: a negative base with an integral exponent is fine, with a
// fractional one gives NaN; x^0 is 1 even for NaN.
func Pow(a, b *Tensor) *Tensor { return binary("tensor.Pow", BPow, a, b) }

// Maximum returns the elementwise larger of a and b with broadcasting; NaN
// in either gives NaN, like torch.maximum.
func Maximum(a, b *Tensor) *Tensor { return binary("tensor.Maximum", BMaximum, a, b) }

// Minimum returns the elementwise smaller of a and b with broadcasting; NaN
// in either gives NaN, like torch.minimum.
func Minimum(a, b *Tensor) *Tensor { return binary("tensor.Minimum", BMinimum, a, b) }

// Gt returns the mask a > b (1 where true, 0 where false) with broadcasting.
func Gt(a, b *Tensor) *Tensor { return binary("tensor.Gt", BGt, a, b) }

// Ge returns the mask a >= b with broadcasting.
func Ge(a, b *Tensor) *Tensor { return binary("tensor.Ge", BGe, a, b) }

// Lt returns the mask a < b with broadcasting.
func Lt(a, b *Tensor) *Tensor { return binary("tensor.Lt", BLt, a, b) }

// Le returns the mask a <= b with broadcasting.
func Le(a, b *Tensor) *Tensor { return binary("tensor.Le", BLe, a, b) }

// Eq returns the mask a == b with broadcasting (NaN equals nothing).
func Eq(a, b *Tensor) *Tensor { return binary("tensor.Eq", BEq, a, b) }

// Ne returns the mask a != b with broadcasting (NaN differs from everything).
func Ne(a, b *Tensor) *Tensor { return binary("tensor.Ne", BNe, a, b) }

// ReluBackward returns grad where x > 0 and 0 elsewhere (with
// broadcasting), the gradient of Relu with respect to its input x.
func ReluBackward(grad, x *Tensor) *Tensor {
	return binary("tensor.ReluBackward", BReluBackward, grad, x)
}

// Where returns a where mask != 0 and b elsewhere, all three broadcast
// against each other, like torch.where.
func Where(mask, a, b *Tensor) *Tensor {
	const name = "tensor.Where"
	dev := sameDevice(name, mask, a, b)
	shape := broadcastOrFail(name, mask.shape, a.shape, b.shape)
	r := uninit(dev, shape)
	if r.n > 0 {
		backendOf(name, dev).Where(r.buf(), shape,
			mask.buf(), broadcastStrides(mask.shape, shape),
			a.buf(), broadcastStrides(a.shape, shape),
			b.buf(), broadcastStrides(b.shape, shape))
	}
	return r
}

// AddScalar returns a + s.
func AddScalar(a *Tensor, s float32) *Tensor { return unary("tensor.AddScalar", UAddScalar, a, s, 0) }

// MulScalar returns a * s.
func MulScalar(a *Tensor, s float32) *Tensor { return unary("tensor.MulScalar", UMulScalar, a, s, 0) }

// DivScalar returns a / s (a true division, not a multiplication by 1/s).
func DivScalar(a *Tensor, s float32) *Tensor { return unary("tensor.DivScalar", UDivScalar, a, s, 0) }

// PowScalar returns a^p with the semantics of Pow.
func PowScalar(a *Tensor, p float32) *Tensor { return unary("tensor.PowScalar", UPowScalar, a, p, 0) }

// GtScalar returns the mask a > s.
func GtScalar(a *Tensor, s float32) *Tensor { return unary("tensor.GtScalar", UGtScalar, a, s, 0) }

// GeScalar returns the mask a >= s.
func GeScalar(a *Tensor, s float32) *Tensor { return unary("tensor.GeScalar", UGeScalar, a, s, 0) }

// LtScalar returns the mask a < s.
func LtScalar(a *Tensor, s float32) *Tensor { return unary("tensor.LtScalar", ULtScalar, a, s, 0) }

// LeScalar returns the mask a <= s.
func LeScalar(a *Tensor, s float32) *Tensor { return unary("tensor.LeScalar", ULeScalar, a, s, 0) }

// EqScalar returns the mask a == s.
func EqScalar(a *Tensor, s float32) *Tensor { return unary("tensor.EqScalar", UEqScalar, a, s, 0) }

// NeScalar returns the mask a != s.
func NeScalar(a *Tensor, s float32) *Tensor { return unary("tensor.NeScalar", UNeScalar, a, s, 0) }

// Neg returns -a.
func Neg(a *Tensor) *Tensor { return unary("tensor.Neg", UNeg, a, 0, 0) }

// Exp returns e^a (vectorized kernel, within 3e-7 relative of float64 exp).
func Exp(a *Tensor) *Tensor { return unary("tensor.Exp", UExp, a, 0, 0) }

// Log returns ln a (NaN for negative, -Inf for 0).
func Log(a *Tensor) *Tensor { return unary("tensor.Log", ULog, a, 0, 0) }

// Sqrt returns √a, correctly rounded (NaN for negative).
func Sqrt(a *Tensor) *Tensor { return unary("tensor.Sqrt", USqrt, a, 0, 0) }

// Abs returns |a|.
func Abs(a *Tensor) *Tensor { return unary("tensor.Abs", UAbs, a, 0, 0) }

// Relu returns max(a, 0); NaN stays NaN as in torch.relu.
func Relu(a *Tensor) *Tensor { return unary("tensor.Relu", URelu, a, 0, 0) }

// Sigmoid returns 1/(1+e^-a).
func Sigmoid(a *Tensor) *Tensor { return unary("tensor.Sigmoid", USigmoid, a, 0, 0) }

// Tanh returns tanh a.
func Tanh(a *Tensor) *Tensor { return unary("tensor.Tanh", UTanh, a, 0, 0) }

// Square returns a*a.
func Square(a *Tensor) *Tensor { return unary("tensor.Square", USquare, a, 0, 0) }

// Clamp returns min(max(a, lo), hi) like torch.clamp: NaN stays NaN, and if
// lo > hi every element becomes hi. Use ±Inf for a one-sided clamp.
func Clamp(a *Tensor, lo, hi float32) *Tensor { return unary("tensor.Clamp", UClamp, a, lo, hi) }
