package autograd

import (
	"slices"

	"github.com/vmdls-go/vmdls/tensor"
)

// Broadcasting binary ops send back gradients of the broadcast shape;
// reduce sums them down to each input's own shape, and hands g itself on
// where there is nothing to sum (Backward keeps a gradient given to two
// inputs apart: it never writes into one it holds). Backward closures
// capture an input's shape rather than the input when its value is not
// needed, so that the value can be freed before backward.
func reduce(g *tensor.Tensor, shape []int) *tensor.Tensor {
	if slices.Equal(g.Shape(), shape) {
		return g
	}
	return g.SumTo(shape...)
}

// Add returns a + b with broadcasting.
func Add(a, b *Var) *Var {
	as, bs := a.Shape(), b.Shape()
	return record("Add", tensor.Add(a.value, b.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{reduce(g, as), reduce(g, bs)}
	}, a, b)
}

// Sub returns a - b with broadcasting.
func Sub(a, b *Var) *Var {
	as, bs := a.Shape(), b.Shape()
	return record("Sub", tensor.Sub(a.value, b.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{reduce(g, as), reduce(tensor.Neg(g), bs)}
	}, a, b)
}

// Mul returns a * b elementwise with broadcasting.
func Mul(a, b *Var) *Var {
	as, bs, needA, needB := a.Shape(), b.Shape(), a.requiresGrad, b.requiresGrad
	av, bv := crossValues(a, b)
	return record("Mul", tensor.Mul(a.value, b.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{
			ifNeeded(needA, func() *tensor.Tensor { return reduce(tensor.Mul(g, bv), as) }),
			ifNeeded(needB, func() *tensor.Tensor { return reduce(tensor.Mul(g, av), bs) }),
		}
	}, a, b)
}

// Div returns a / b elementwise with broadcasting.
func Div(a, b *Var) *Var {
	q, bv := tensor.Div(a.value, b.value), b.value
	as, bs, needA, needB := a.Shape(), b.Shape(), a.requiresGrad, b.requiresGrad
	out := q // only b's gradient reads the quotient
	if !needB {
		out = nil
	}
	return record("Div", q, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{
			ifNeeded(needA, func() *tensor.Tensor { return reduce(tensor.Div(g, bv), as) }),
			// d(a/b)/db = -(a/b)/b
			ifNeeded(needB, func() *tensor.Tensor { return reduce(tensor.Neg(tensor.Div(tensor.Mul(g, out), bv)), bs) }),
		}
	}, a, b)
}

// Pow returns a ** b elementwise with broadcasting. The gradient with
// respect to b uses log(a), so it is finite only for a > 0.
func Pow(a, b *Var) *Var {
	out := tensor.Pow(a.value, b.value)
	av, bv, as, bs := a.value, b.value, a.Shape(), b.Shape()
	needA, needB := a.requiresGrad, b.requiresGrad
	return record("Pow", out, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{
			ifNeeded(needA, func() *tensor.Tensor {
				// b * a^(b-1), written so that a == 0 with b >= 1 stays finite.
				d := tensor.Mul(bv, tensor.Pow(av, tensor.AddScalar(bv, -1)))
				return reduce(tensor.Mul(g, d), as)
			}),
			ifNeeded(needB, func() *tensor.Tensor { return reduce(tensor.Mul(g, tensor.Mul(out, tensor.Log(av))), bs) }),
		}
	}, a, b)
}

// Maximum returns the elementwise maximum of a and b with broadcasting. Where
// they tie, each receives half the gradient, as in PyTorch.
func Maximum(a, b *Var) *Var {
	return record("Maximum", tensor.Maximum(a.value, b.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return splitByOrder(g, a, b, tensor.Gt)
	}, a, b)
}

// Minimum returns the elementwise minimum of a and b with broadcasting; ties
// split the gradient in half.
func Minimum(a, b *Var) *Var {
	return record("Minimum", tensor.Minimum(a.value, b.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return splitByOrder(g, a, b, tensor.Lt)
	}, a, b)
}

// splitByOrder routes g to a where wins(a, b), to b where wins(b, a), and
// half to each where they tie.
func splitByOrder(g *tensor.Tensor, a, b *Var, wins func(x, y *tensor.Tensor) *tensor.Tensor) []*tensor.Tensor {
	half := tensor.MulScalar(tensor.Eq(a.value, b.value), 0.5)
	return []*tensor.Tensor{
		ifNeeded(a.requiresGrad, func() *tensor.Tensor {
			return reduce(tensor.Mul(g, tensor.Add(wins(a.value, b.value), half)), a.Shape())
		}),
		ifNeeded(b.requiresGrad, func() *tensor.Tensor {
			return reduce(tensor.Mul(g, tensor.Add(wins(b.value, a.value), half)), b.Shape())
		}),
	}
}

// AddScalar returns a + s.
func AddScalar(a *Var, s float32) *Var {
	return record("AddScalar", tensor.AddScalar(a.value, s), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g}
	}, a)
}

// MulScalar returns a * s.
func MulScalar(a *Var, s float32) *Var {
	return record("MulScalar", tensor.MulScalar(a.value, s), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.MulScalar(g, s)}
	}, a)
}

// PowScalar returns a ** p elementwise.
func PowScalar(a *Var, p float32) *Var {
	return record("PowScalar", tensor.PowScalar(a.value, p), func(g *tensor.Tensor) []*tensor.Tensor {
		if p == 0 {
			return []*tensor.Tensor{tensor.ZerosLike(g)}
		}
		return []*tensor.Tensor{tensor.Mul(g, tensor.MulScalar(tensor.PowScalar(a.value, p-1), p))}
	}, a)
}

// Neg returns -a.
func Neg(a *Var) *Var {
	return record("Neg", tensor.Neg(a.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Neg(g)}
	}, a)
}

// Exp returns e^a elementwise.
func Exp(a *Var) *Var {
	out := tensor.Exp(a.value)
	return record("Exp", out, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Mul(g, out)}
	}, a)
}

// Log returns ln a elementwise.
func Log(a *Var) *Var {
	return record("Log", tensor.Log(a.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Div(g, a.value)}
	}, a)
}

// Sqrt returns the elementwise square root of a.
func Sqrt(a *Var) *Var {
	out := tensor.Sqrt(a.value)
	return record("Sqrt", out, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Div(tensor.MulScalar(g, 0.5), out)}
	}, a)
}

// Square returns a*a elementwise.
func Square(a *Var) *Var {
	return record("Square", tensor.Square(a.value), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Mul(g, tensor.MulScalar(a.value, 2))}
	}, a)
}

// Abs returns |a| elementwise; its gradient at 0 is 0, as in PyTorch.
func Abs(a *Var) *Var {
	return record("Abs", tensor.Abs(a.value), func(g *tensor.Tensor) []*tensor.Tensor {
		sign := tensor.Sub(tensor.GtScalar(a.value, 0), tensor.LtScalar(a.value, 0))
		return []*tensor.Tensor{tensor.Mul(g, sign)}
	}, a)
}

// Relu returns max(a, 0) elementwise; its gradient at 0 is 0.
// Backward reads the output, not a (the same mask, as PyTorch saves the
// result), so a can be freed.
func Relu(a *Var) *Var {
	out := tensor.Relu(a.value)
	return record("Relu", out, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.ReluBackward(g, out)}
	}, a)
}

// Sigmoid returns 1/(1+e^-a) elementwise.
func Sigmoid(a *Var) *Var {
	out := tensor.Sigmoid(a.value)
	return record("Sigmoid", out, func(g *tensor.Tensor) []*tensor.Tensor {
		// y(1-y)
		d := tensor.Mul(out, tensor.AddScalar(tensor.Neg(out), 1))
		return []*tensor.Tensor{tensor.Mul(g, d)}
	}, a)
}

// Tanh returns tanh(a) elementwise.
func Tanh(a *Var) *Var {
	out := tensor.Tanh(a.value)
	return record("Tanh", out, func(g *tensor.Tensor) []*tensor.Tensor {
		d := tensor.AddScalar(tensor.Neg(tensor.Square(out)), 1)
		return []*tensor.Tensor{tensor.Mul(g, d)}
	}, a)
}

// Clamp limits a to [lo, hi] elementwise (±Inf for a one-sided bound). The
// gradient passes where lo <= a <= hi, bounds included, as in PyTorch.
func Clamp(a *Var, lo, hi float32) *Var {
	return record("Clamp", tensor.Clamp(a.value, lo, hi), func(g *tensor.Tensor) []*tensor.Tensor {
		inside := tensor.Mul(tensor.GeScalar(a.value, lo), tensor.LeScalar(a.value, hi))
		return []*tensor.Tensor{tensor.Mul(g, inside)}
	}, a)
}

// Where selects a where mask is non-zero and b elsewhere, with broadcasting.
// The mask is a constant: no gradient flows into it.
func Where(mask *tensor.Tensor, a, b *Var) *Var {
	as, bs, needA, needB := a.Shape(), b.Shape(), a.requiresGrad, b.requiresGrad
	return record("Where", tensor.Where(mask, a.value, b.value), func(g *tensor.Tensor) []*tensor.Tensor {
		zero := tensor.ZerosLike(g)
		return []*tensor.Tensor{
			ifNeeded(needA, func() *tensor.Tensor { return reduce(tensor.Where(mask, g, zero), as) }),
			ifNeeded(needB, func() *tensor.Tensor { return reduce(tensor.Where(mask, zero, g), bs) }),
		}
	}, a, b)
}

// crossValues returns the values a bilinear op's backward keeps: a's only
// if b needs a gradient (which reads it), and b's only if a does.
func crossValues(a, b *Var) (av, bv *tensor.Tensor) {
	if b.requiresGrad {
		av = a.value
	}
	if a.requiresGrad {
		bv = b.value
	}
	return av, bv
}

// ifNeeded computes an input's gradient only when that input wants one
// (need: its requiresGrad when the op was recorded).
func ifNeeded(need bool, grad func() *tensor.Tensor) *tensor.Tensor {
	if !need {
		return nil
	}
	return grad()
}
