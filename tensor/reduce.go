package tensor

import (
	"math"
	"slices"
)

// reduceAxes normalizes axes (none means all), rejecting repeats.
func reduceAxes(op string, shape []int, axes []int) []int {
	if len(axes) == 0 {
		all := make([]int, len(shape))
		for i := range all {
			all[i] = i
		}
		return all
	}
	out := make([]int, len(axes))
	for i, a := range axes {
		out[i] = normAxis(op, a, len(shape), shape)
	}
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			failf(op, [][]int{shape}, "axis %d appears twice in %v", out[i], axes)
		}
	}
	return out
}

// reducedShape is shape with the (sorted) axes set to 1 or removed.
func reducedShape(shape, axes []int, keepDim bool) []int {
	var out []int
	for i, s := range shape {
		if slices.Contains(axes, i) {
			if keepDim {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// reduceOver reduces a over the given sorted axes with op. Runs of adjacent
// axes are reduced in one pass as a single (outer, axis, inner) block;
// separate runs are reduced one after another, last first.
func reduceOver(name string, op ReduceOp, a *Tensor, axes []int, keepDim bool) *Tensor {
	b := backendOf(name, a.dev)
	cur := a
	cs := append([]int{}, a.shape...)
	for e := len(axes) - 1; e >= 0; {
		s := e
		for s > 0 && axes[s-1] == axes[s]-1 {
			s--
		}
		lo, hi := axes[s], axes[e]
		outer, axis, inner := numelOf(cs[:lo]), numelOf(cs[lo:hi+1]), numelOf(cs[hi+1:])
		for i := lo; i <= hi; i++ {
			cs[i] = 1
		}
		next := uninit(a.dev, cs)
		if next.n > 0 {
			b.Reduce(op, next.buf(), cur.buf(), outer, axis, inner)
		}
		cur = next
		e = s - 1
	}
	if cur == a {
		cur = a.Clone()
	}
	return cur.view(reducedShape(a.shape, axes, keepDim), cur.off, cur.n)
}

// Sum returns the sum over the given axes (all axes if none), keeping them
// as size-1 axes when keepDim is set; Sum(a, false) is a scalar tensor. The
// CPU backend accumulates in float64, so the result is the exact sum
// rounded once to float32, whatever the size and thread count.
func Sum(a *Tensor, keepDim bool, axes ...int) *Tensor {
	const name = "tensor.Sum"
	return reduceOver(name, RSum, a, reduceAxes(name, a.shape, axes), keepDim)
}

// Mean returns Sum divided by the number of elements summed (NaN over an
// empty set, like torch.mean).
func Mean(a *Tensor, keepDim bool, axes ...int) *Tensor {
	const name = "tensor.Mean"
	ax := reduceAxes(name, a.shape, axes)
	count := 1
	for _, i := range ax {
		count *= a.shape[i]
	}
	s := reduceOver(name, RSum, a, ax, keepDim)
	if s.n > 0 {
		backendOf(name, a.dev).Unary(UDivScalar, s.buf(), s.buf(), float32(count), 0)
	}
	return s
}

// argReduce runs a max or min with indices along one axis.
func argReduce(name string, op ReduceOp, a *Tensor, axis int, keepDim bool) (*Tensor, []int) {
	ax := normAxis(name, axis, len(a.shape), a.shape)
	if a.shape[ax] == 0 {
		failf(name, [][]int{a.shape}, "cannot reduce the empty axis %d", axis)
	}
	outer, inner := splitAt(a.shape, ax)
	r := uninit(a.dev, reducedShape(a.shape, []int{ax}, keepDim))
	idx := make([]int, r.n)
	if r.n > 0 {
		backendOf(name, a.dev).ArgReduce(op, r.buf(), idx, a.buf(), outer, a.shape[ax], inner)
	}
	return r, idx
}

// Max returns the largest values along axis and their positions along it
// (flat, in the order of the values). The first maximum wins ties; a NaN
// wins over everything (the first NaN), as in torch.max(dim).
func Max(a *Tensor, axis int, keepDim bool) (values *Tensor, indices []int) {
	return argReduce("tensor.Max", RMax, a, axis, keepDim)
}

// Min returns the smallest values along axis and their positions, with the
// tie and NaN rules of Max.
func Min(a *Tensor, axis int, keepDim bool) (values *Tensor, indices []int) {
	return argReduce("tensor.Min", RMin, a, axis, keepDim)
}

// MaxAll returns the largest element of a (NaN if any is NaN); a must not
// be empty.
func MaxAll(a *Tensor) float32 {
	const name = "tensor.MaxAll"
	if a.n == 0 {
		fail(name, "empty tensor", a.shape)
	}
	r := empty(a.dev, nil)
	backendOf(name, a.dev).Reduce(RMax, r.buf(), a.buf(), 1, a.n, 1)
	return r.Item()
}

// Argmax returns the positions of the maxima along axis, as Max does.
func Argmax(a *Tensor, axis int) []int {
	_, idx := argReduce("tensor.Argmax", RMax, a, axis, false)
	return idx
}

// LogSumExp returns log Σ exp(a) along axis, computed stably by shifting
// with the maximum; a slice of all -Inf gives -Inf and an empty axis gives
// -Inf, as in torch.logsumexp.
func LogSumExp(a *Tensor, axis int, keepDim bool) *Tensor {
	const name = "tensor.LogSumExp"
	ax := normAxis(name, axis, len(a.shape), a.shape)
	outer, inner := splitAt(a.shape, ax)
	r := uninit(a.dev, reducedShape(a.shape, []int{ax}, keepDim))
	if r.n > 0 {
		if a.shape[ax] == 0 {
			r.Fill(float32(math.Inf(-1)))
		} else {
			backendOf(name, a.dev).Reduce(RLogSumExp, r.buf(), a.buf(), outer, a.shape[ax], inner)
		}
	}
	return r
}

func softmax(name string, a *Tensor, axis int, log bool) *Tensor {
	ax := normAxis(name, axis, len(a.shape), a.shape)
	outer, inner := splitAt(a.shape, ax)
	r := uninit(a.dev, a.shape)
	if r.n > 0 {
		backendOf(name, a.dev).Softmax(r.buf(), a.buf(), outer, a.shape[ax], inner, log)
	}
	return r
}

// Softmax returns exp(a) normalized to sum to 1 along axis, shifted by the
// maximum for stability, like torch.softmax.
func Softmax(a *Tensor, axis int) *Tensor { return softmax("tensor.Softmax", a, axis, false) }

// LogSoftmax returns a - LogSumExp(a) along axis, like torch.log_softmax.
func LogSoftmax(a *Tensor, axis int) *Tensor { return softmax("tensor.LogSoftmax", a, axis, true) }
