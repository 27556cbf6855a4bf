package autograd

import "github.com/vmdls-go/vmdls/tensor"

// keptShape is shape with the given axes (already normalized, or all when
// none are given) set to 1: the shape a reduction with keepDim produces.
func keptShape(shape []int, axes []int) []int {
	out := append([]int(nil), shape...)
	if len(axes) == 0 {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	for _, ax := range axes {
		if ax < 0 {
			ax += len(shape)
		}
		out[ax] = 1
	}
	return out
}

// spread sends the gradient of a reduction over axes back to the input's
// shape: g is reshaped to keep the reduced axes and broadcast over them.
func spread(g *tensor.Tensor, in []int, axes []int) *tensor.Tensor {
	return g.Reshape(keptShape(in, axes)...).Expand(in...)
}

// Sum adds a over the given axes (all when none), keeping them as size-1
// axes when keepDim is set, like torch.sum.
func Sum(a *Var, keepDim bool, axes ...int) *Var {
	in := a.value.Shape()
	return record("Sum", tensor.Sum(a.value, keepDim, axes...), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{spread(g, in, axes)}
	}, a)
}

// Mean averages a over the given axes (all when none), like torch.mean.
func Mean(a *Var, keepDim bool, axes ...int) *Var {
	in := a.value.Shape()
	out := tensor.Mean(a.value, keepDim, axes...)
	count := a.value.Numel() / max(out.Numel(), 1)
	return record("Mean", out, func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{spread(tensor.MulScalar(g, 1/float32(count)), in, axes)}
	}, a)
}

// Max returns the largest values of a along axis and where they are (flat
// in output order). The gradient goes to the first maximum of each slice,
// as in PyTorch's max(dim).
func Max(a *Var, axis int, keepDim bool) (*Var, []int) {
	vals, idx := tensor.Max(a.value, axis, keepDim)
	return record("Max", vals, selectedGrad(a.value.Shape(), axis, idx), a), idx
}

// Min is Max for the smallest values.
func Min(a *Var, axis int, keepDim bool) (*Var, []int) {
	vals, idx := tensor.Min(a.value, axis, keepDim)
	return record("Min", vals, selectedGrad(a.value.Shape(), axis, idx), a), idx
}

// selectedGrad is the backward of a reduction that picked one element per
// slice along axis: a one-hot mask of the picked elements times the
// gradient broadcast back over the axis.
func selectedGrad(in []int, axis int, idx []int) func(g *tensor.Tensor) []*tensor.Tensor {
	if axis < 0 {
		axis += len(in)
	}
	return func(g *tensor.Tensor) []*tensor.Tensor {
		outer, inner := 1, 1
		for _, d := range in[:axis] {
			outer *= d
		}
		for _, d := range in[axis+1:] {
			inner *= d
		}
		mask := make([]float32, outer*in[axis]*inner)
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				mask[(o*in[axis]+idx[o*inner+i])*inner+i] = 1
			}
		}
		m := tensor.FromSlice(mask, in...).To(g.Device())
		return []*tensor.Tensor{tensor.Mul(m, spread(g, in, []int{axis}))}
	}
}

// LogSumExp returns log(sum(exp(a))) along axis, computed stably.
func LogSumExp(a *Var, axis int, keepDim bool) *Var {
	in := a.value.Shape()
	out := tensor.LogSumExp(a.value, axis, keepDim)
	return record("LogSumExp", out, func(g *tensor.Tensor) []*tensor.Tensor {
		// d lse / d a = softmax(a) = exp(a - lse)
		lse := out.Reshape(keptShape(in, []int{axis})...)
		p := tensor.Exp(tensor.Sub(a.value, lse))
		return []*tensor.Tensor{tensor.Mul(p, spread(g, in, []int{axis}))}
	}, a)
}

// Softmax returns exp(a) normalized to sum to 1 along axis.
func Softmax(a *Var, axis int) *Var {
	y := tensor.Softmax(a.value, axis)
	return record("Softmax", y, func(g *tensor.Tensor) []*tensor.Tensor {
		// y * (g - sum(g*y))
		dot := tensor.Sum(tensor.Mul(g, y), true, axis)
		return []*tensor.Tensor{tensor.Mul(y, tensor.Sub(g, dot))}
	}, a)
}

// LogSoftmax returns a - logsumexp(a) along axis.
func LogSoftmax(a *Var, axis int) *Var {
	y := tensor.LogSoftmax(a.value, axis)
	return record("LogSoftmax", y, func(g *tensor.Tensor) []*tensor.Tensor {
		// g - softmax * sum(g)
		total := tensor.Sum(g, true, axis)
		return []*tensor.Tensor{tensor.Sub(g, tensor.Mul(tensor.Exp(y), total))}
	}, a)
}
