package autograd

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/tensor"
)

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1-p), drawing the mask from rng in row-major order (the same source
// state gives the same mask); the gradient passes through the same mask.
// It returns x itself when not training or when p is 0, as PyTorch's
// dropout does, and zeros when p is 1.
func Dropout(x *Var, p float64, training bool, rng *rand.Rand) *Var {
	if p < 0 || p > 1 {
		panic(&tensor.ShapeError{Op: "autograd.Dropout", Shapes: [][]int{x.value.Shape()}, Detail: "probability must be in [0, 1]"})
	}
	if !training || p == 0 {
		return x
	}
	mask := make([]float32, x.value.Numel())
	if p < 1 {
		keep := float32(1 / (1 - p))
		for i := range mask {
			if rng.Float64() >= p {
				mask[i] = keep
			}
		}
	}
	m := tensor.FromSlice(mask, x.value.Shape()...)
	if d := x.value.Device(); d != tensor.CPU {
		m = m.To(d)
	}
	return Mul(x, Const(m))
}
