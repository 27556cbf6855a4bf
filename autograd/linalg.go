package autograd

import "github.com/vmdls-go/vmdls/tensor"

// MatMul returns the matrix product a @ b (2-D, or batched with torch.matmul's
// batch broadcasting).
func MatMul(a, b *Var) *Var {
	return MatMulT(a, b, false, false)
}

// MatMulT returns op(a) @ op(b), where op transposes the last two axes when
// the flag is set, without materializing the transposes.
func MatMulT(a, b *Var, transA, transB bool) *Var {
	as, bs, needA, needB := a.Shape(), b.Shape(), a.requiresGrad, b.requiresGrad
	av, bv := crossValues(a, b)
	return record("MatMul", tensor.MatMulT(a.value, b.value, transA, transB), func(g *tensor.Tensor) []*tensor.Tensor {
		// With C = op(A) op(B): dop(A) = G op(B)^T and dop(B) = op(A)^T G;
		// transposing those back gives dA and dB without copies.
		return []*tensor.Tensor{
			ifNeeded(needA, func() *tensor.Tensor {
				if transA {
					return reduce(tensor.MatMulT(bv, g, transB, true), as)
				}
				return reduce(tensor.MatMulT(g, bv, false, !transB), as)
			}),
			ifNeeded(needB, func() *tensor.Tensor {
				if transB {
					return reduce(tensor.MatMulT(g, av, true, transA), bs)
				}
				return reduce(tensor.MatMulT(av, g, !transA, false), bs)
			}),
		}
	}, a, b)
}

// Linear returns x @ w^T + bias for x [N, in], w [out, in] and bias [out]
// (bias may be nil): PyTorch's nn.functional.linear.
func Linear(x, w, bias *Var) *Var {
	var bv *tensor.Tensor
	inputs := []*Var{x, w}
	if bias != nil {
		bv = bias.value
		inputs = append(inputs, bias)
	}
	needX, needW := x.requiresGrad, w.requiresGrad
	hasBias, needBias := bias != nil, bias != nil && bias.requiresGrad
	xv, wv := crossValues(x, w)
	return record("Linear", tensor.Linear(x.value, w.value, bv), func(g *tensor.Tensor) []*tensor.Tensor {
		grads := []*tensor.Tensor{
			ifNeeded(needX, func() *tensor.Tensor { return tensor.MatMulT(g, wv, false, false) }),
			ifNeeded(needW, func() *tensor.Tensor { return tensor.MatMulT(g, xv, true, false) }),
		}
		if hasBias {
			grads = append(grads, ifNeeded(needBias, func() *tensor.Tensor { return tensor.Sum(g, false, 0) }))
		}
		return grads
	}, inputs...)
}
