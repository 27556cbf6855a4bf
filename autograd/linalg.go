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
	return record("MatMul", tensor.MatMulT(a.value, b.value, transA, transB), func(g *tensor.Tensor) []*tensor.Tensor {
		// With C = op(A) op(B): dop(A) = G op(B)^T and dop(B) = op(A)^T G;
		// transposing those back gives dA and dB without copies.
		return []*tensor.Tensor{
			ifNeeded(a, func() *tensor.Tensor {
				if transA {
					return reduce(tensor.MatMulT(b.value, g, transB, true), a)
				}
				return reduce(tensor.MatMulT(g, b.value, false, !transB), a)
			}),
			ifNeeded(b, func() *tensor.Tensor {
				if transB {
					return reduce(tensor.MatMulT(g, a.value, true, transA), b)
				}
				return reduce(tensor.MatMulT(a.value, g, !transA, false), b)
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
	return record("Linear", tensor.Linear(x.value, w.value, bv), func(g *tensor.Tensor) []*tensor.Tensor {
		grads := []*tensor.Tensor{
			ifNeeded(x, func() *tensor.Tensor { return tensor.MatMulT(g, w.value, false, false) }),
			ifNeeded(w, func() *tensor.Tensor { return tensor.MatMulT(g, x.value, true, false) }),
		}
		if bias != nil {
			grads = append(grads, ifNeeded(bias, func() *tensor.Tensor { return tensor.Sum(g, false, 0) }))
		}
		return grads
	}, inputs...)
}
