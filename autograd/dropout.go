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
	if dev := x.value.Device(); dev != tensor.CPU {
		// Off the CPU the mask is drawn on the host, as there, and
		// uploaded once (one float per element; counted by the fake
		// device's tests). Drawing it from rng keeps the CPU's masks, so a
		// seeded run drops the same units on every device; a counter-based
		// generator on the device would save the upload but change every
		// mask. The mask selects t·scale or +0 (Where, not a product with
		// a 0/scale mask, whose -0 and NaN·0 would differ from the CPU's).
		m := make([]float32, len(keep))
		for i, k := range keep {
			if k {
				m[i] = 1
			}
		}
		mask, zero := tensor.FromSliceOn(dev, m, shape...), tensor.ZerosOn(dev)
		apply := func(t *tensor.Tensor) *tensor.Tensor { return tensor.Where(mask, tensor.MulScalar(t, scale), zero) }
		return record("Dropout", apply(x.value), func(g *tensor.Tensor) []*tensor.Tensor {
			return []*tensor.Tensor{apply(g)}
		}, x)
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
