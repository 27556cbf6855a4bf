package autograd

import "github.com/vmdls-go/vmdls/tensor"

// Reshape returns a with a new shape of the same size (one -1 inferred).
func Reshape(a *Var, shape ...int) *Var {
	in := a.value.Shape()
	return record("Reshape", a.value.Reshape(shape...), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Reshape(in...)}
	}, a)
}

// Flatten merges axes start..end (inclusive) into one, like torch.flatten.
func Flatten(a *Var, start, end int) *Var {
	in := a.value.Shape()
	return record("Flatten", a.value.Flatten(start, end), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Reshape(in...)}
	}, a)
}

// Permute reorders the axes of a: axis i of the result is axis perm[i] of a.
func Permute(a *Var, perm ...int) *Var {
	inv := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 {
			p += len(perm)
		}
		inv[p] = i
	}
	return record("Permute", a.value.Permute(perm...), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Permute(inv...)}
	}, a)
}

// Transpose swaps axes i and j of a.
func Transpose(a *Var, i, j int) *Var {
	return record("Transpose", a.value.Transpose(i, j), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{g.Transpose(i, j)}
	}, a)
}

// Narrow returns length entries of a along axis starting at start.
func Narrow(a *Var, axis, start, length int) *Var {
	in := a.value.Shape()
	if axis < 0 {
		axis += len(in)
	}
	return record("Narrow", a.value.Narrow(axis, start, length), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{padAlong(g, in, axis, start)}
	}, a)
}

// Slice returns rows [start, end) of a along its first axis.
func Slice(a *Var, start, end int) *Var {
	in := a.value.Shape()
	return record("Slice", a.value.Slice(start, end), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{padAlong(g, in, 0, start)}
	}, a)
}

// padAlong places g inside zeros of shape in, starting at start along axis:
// the gradient of taking a contiguous piece.
func padAlong(g *tensor.Tensor, in []int, axis, start int) *tensor.Tensor {
	gs := g.Shape()
	parts := make([]*tensor.Tensor, 0, 3)
	if start > 0 {
		s := append([]int(nil), gs...)
		s[axis] = start
		parts = append(parts, tensor.Zeros(s...).To(g.Device()))
	}
	parts = append(parts, g)
	if rest := in[axis] - start - gs[axis]; rest > 0 {
		s := append([]int(nil), gs...)
		s[axis] = rest
		parts = append(parts, tensor.Zeros(s...).To(g.Device()))
	}
	if len(parts) == 1 {
		return g
	}
	return tensor.Concat(axis, parts...)
}

// IndexSelect gathers entries idx of a along axis (indices may repeat; their
// gradients add up).
func IndexSelect(a *Var, axis int, idx []int) *Var {
	in := a.value.Shape()
	idx = append([]int(nil), idx...)
	return record("IndexSelect", a.value.IndexSelect(axis, idx), func(g *tensor.Tensor) []*tensor.Tensor {
		out := tensor.Zeros(in...).To(g.Device())
		tensor.IndexAdd(out, axis, idx, g)
		return []*tensor.Tensor{out}
	}, a)
}

// Concat joins vs along axis; all other axes must agree.
func Concat(axis int, vs ...*Var) *Var {
	vals := make([]*tensor.Tensor, len(vs))
	for i, v := range vs {
		vals[i] = v.value
	}
	out := tensor.Concat(axis, vals...)
	if axis < 0 {
		axis += out.Dim()
	}
	sizes, need := make([]int, len(vs)), make([]bool, len(vs))
	for i, v := range vs {
		sizes[i], need[i] = v.value.Size(axis), v.requiresGrad
	}
	return record("Concat", out, func(g *tensor.Tensor) []*tensor.Tensor {
		grads := make([]*tensor.Tensor, len(sizes))
		at := 0
		for i, n := range sizes {
			if need[i] {
				grads[i] = g.Narrow(axis, at, n)
			}
			at += n
		}
		return grads
	}, vs...)
}

// Stack joins equally shaped vs along a new axis.
func Stack(axis int, vs ...*Var) *Var {
	vals := make([]*tensor.Tensor, len(vs))
	for i, v := range vs {
		vals[i] = v.value
	}
	out := tensor.Stack(axis, vals...)
	if axis < 0 {
		axis += out.Dim()
	}
	need := make([]bool, len(vs))
	for i, v := range vs {
		need[i] = v.requiresGrad
	}
	in := vs[0].Shape()
	return record("Stack", out, func(g *tensor.Tensor) []*tensor.Tensor {
		grads := make([]*tensor.Tensor, len(need))
		for i := range need {
			if need[i] {
				grads[i] = g.Narrow(axis, i, 1).Reshape(in...)
			}
		}
		return grads
	}, vs...)
}

// Expand broadcasts a to shape (a copy), like torch.Tensor.expand.
func Expand(a *Var, shape ...int) *Var {
	in := a.Shape()
	return record("Expand", a.value.Expand(shape...), func(g *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{reduce(g, in)}
	}, a)
}
