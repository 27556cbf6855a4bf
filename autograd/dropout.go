package autograd

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/tensor"
)

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1-p); the gradient passes through the same mask. The mask is
// counter-based (tensor.Dropout, Philox4x32): one seed drawn from rng per
// call decides every element, so the same source state gives the same mask
// on every device, a GPU draws it without the host, and backward recomputes
// it from the seed instead of keeping it (no per-element memory, where
// PyTorch keeps a byte mask). It returns x itself when not training or
// when p is 0, as PyTorch's dropout does, and zeros when p is 1.
func Dropout(x *Var, p float64, training bool, rng *rand.Rand) *Var {
	if p < 0 || p > 1 {
		panic(&tensor.ShapeError{Op: "autograd.Dropout", Shapes: [][]int{x.value.Shape()}, Detail: "probability must be in [0, 1]"})
	}
	if !training || p == 0 {
		return x
	}
	var scale float32
	if p < 1 {
		scale = float32(1 / (1 - p))
	}
	seed, pf := rng.Uint64(), float32(p)
	return record("Dropout", tensor.Dropout(x.value, seed, pf, scale), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Dropout(g, seed, pf, scale)}
	}, x)
}
