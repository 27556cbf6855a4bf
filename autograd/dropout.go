package autograd

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/tensor"
)

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1-p), drawing the mask from rng in row-major order (the same source
// state gives the same mask); the gradient passes through the same mask.
// It returns x itself when not training or when p is 0, as PyTorch's
// dropout does, and zeros when p is 1. On the CPU backward keeps only the
// mask, one byte per element as PyTorch's boolean mask, not x.
func Dropout(x *Var, p float64, training bool, rng *rand.Rand) *Var {
	if p < 0 || p > 1 {
		panic(&tensor.ShapeError{Op: "autograd.Dropout", Shapes: [][]int{x.value.Shape()}, Detail: "probability must be in [0, 1]"})
	}
	if !training || p == 0 {
		return x
	}
	keep := make([]bool, x.value.Numel())
	var scale float32
	if p < 1 {
		scale = float32(1 / (1 - p))
		for i := range keep {
			keep[i] = rng.Float64() >= p
		}
	}
	shape := x.value.Shape()
	if x.value.Device() != tensor.CPU {
		m := make([]float32, len(keep))
		for i, k := range keep {
			if k {
				m[i] = scale
			}
		}
		return Mul(x, Const(tensor.FromSlice(m, shape...).To(x.value.Device())))
	}
	return record("Dropout", applyMask(x.value, keep, scale), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{applyMask(g, keep, scale)}
	}, x)
}

// applyMask returns t·scale where keep is set and 0 elsewhere (a CPU tensor).
func applyMask(t *tensor.Tensor, keep []bool, scale float32) *tensor.Tensor {
	out := tensor.Zeros(t.Shape()...)
	src, dst := t.Data(), out.Data()
	for i, k := range keep {
		if k {
			dst[i] = src[i] * scale
		}
	}
	return out
}
