package tensor

import "slices"

// broadcast returns the NumPy/PyTorch broadcast of two shapes: aligned at
// the right, each pair of dimensions equal or one of them 1 (a 1 stretches,
// so a 1 against a 0 gives 0).
func broadcast(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		x, y := 1, 1
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		switch {
		case x == y:
			out[i] = x
		case x == 1:
			out[i] = y
		case y == 1:
			out[i] = x
		default:
			return nil, false
		}
	}
	return out, true
}

func broadcastOrFail(op string, shapes ...[]int) []int {
	out := shapes[0]
	for _, s := range shapes[1:] {
		var ok bool
		if out, ok = broadcast(out, s); !ok {
			fail(op, "cannot broadcast", shapes...)
		}
	}
	return out
}

// BroadcastShapes returns the shape a and b broadcast to, or a *ShapeError
// if they are incompatible.
func BroadcastShapes(a, b []int) ([]int, error) {
	out, ok := broadcast(a, b)
	if !ok {
		return nil, &ShapeError{Op: "tensor.BroadcastShapes", Shapes: [][]int{append([]int{}, a...), append([]int{}, b...)}, Detail: "cannot broadcast"}
	}
	return out, nil
}

// contiguousStrides returns the row-major strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// broadcastStrides returns strides that read a contiguous tensor of shape
// as if it had shape out (which shape broadcasts to): 0 on stretched axes
// and on the missing leading ones.
func broadcastStrides(shape, out []int) []int {
	cs := contiguousStrides(shape)
	st := make([]int, len(out))
	for i := range out {
		j := len(shape) - len(out) + i
		if j >= 0 && shape[j] != 1 {
			st[i] = cs[j]
		}
	}
	return st
}

// Reshape returns a view of t with a new shape holding the same number of
// elements; one dimension may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	const op = "tensor.Reshape"
	s := append([]int{}, shape...)
	infer := -1
	known := 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			fail(op, "invalid target", t.shape, shape)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || t.n%known != 0 {
			fail(op, "cannot infer the -1 dimension", t.shape, shape)
		}
		s[infer] = t.n / known
	} else if known != t.n {
		fail(op, "element counts differ", t.shape, shape)
	}
	return t.view(s, t.off, t.n)
}

// View is Reshape under PyTorch's other name: a view with a new shape.
func (t *Tensor) View(shape ...int) *Tensor { return t.Reshape(shape...) }

// Flatten returns a view with axes start..end (inclusive, negative counting
// from the end) merged into one, like torch.flatten.
func (t *Tensor) Flatten(start, end int) *Tensor {
	const op = "tensor.Flatten"
	if len(t.shape) == 0 {
		return t.view([]int{1}, t.off, t.n)
	}
	s := normAxis(op, start, len(t.shape), t.shape)
	e := normAxis(op, end, len(t.shape), t.shape)
	if s > e {
		failf(op, [][]int{t.shape}, "start axis %d after end axis %d", start, end)
	}
	shape := append([]int{}, t.shape[:s]...)
	shape = append(shape, numelOf(t.shape[s:e+1]))
	shape = append(shape, t.shape[e+1:]...)
	return t.view(shape, t.off, t.n)
}

// Squeeze returns a view without the given axis if its size is 1, and t's
// shape unchanged otherwise, like torch.squeeze(dim).
func (t *Tensor) Squeeze(axis int) *Tensor {
	a := normAxis("tensor.Squeeze", axis, len(t.shape), t.shape)
	if t.shape[a] != 1 {
		return t.view(append([]int{}, t.shape...), t.off, t.n)
	}
	shape := append(append([]int{}, t.shape[:a]...), t.shape[a+1:]...)
	return t.view(shape, t.off, t.n)
}

// Unsqueeze returns a view with a new axis of size 1 at position axis, which
// may range over [-(Dim()+1), Dim()].
func (t *Tensor) Unsqueeze(axis int) *Tensor {
	a := normAxis("tensor.Unsqueeze", axis, len(t.shape)+1, t.shape)
	shape := append(append(append([]int{}, t.shape[:a]...), 1), t.shape[a:]...)
	return t.view(shape, t.off, t.n)
}

// Permute returns a copy of t with its axes reordered: axis i of the result
// is axis perm[i] of t.
func (t *Tensor) Permute(perm ...int) *Tensor {
	const op = "tensor.Permute"
	if len(perm) != len(t.shape) {
		failf(op, [][]int{t.shape}, "permutation %v has the wrong length", perm)
	}
	seen := make([]bool, len(perm))
	cs := contiguousStrides(t.shape)
	shape := make([]int, len(perm))
	strides := make([]int, len(perm))
	for i, p := range perm {
		a := normAxis(op, p, len(perm), t.shape)
		if seen[a] {
			failf(op, [][]int{t.shape}, "permutation %v repeats axis %d", perm, a)
		}
		seen[a] = true
		shape[i] = t.shape[a]
		strides[i] = cs[a]
	}
	r := uninit(t.dev, shape)
	if r.n > 0 {
		t.backend().StridedCopy(r.buf(), contiguousStrides(shape), t.buf(), strides, shape)
	}
	return r
}

// Transpose returns a copy of t with axes a and b swapped.
func (t *Tensor) Transpose(a, b int) *Tensor {
	const op = "tensor.Transpose"
	a = normAxis(op, a, len(t.shape), t.shape)
	b = normAxis(op, b, len(t.shape), t.shape)
	perm := make([]int, len(t.shape))
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = perm[b], perm[a]
	return t.Permute(perm...)
}

// T returns the transpose of a 2-d tensor as a copy.
func (t *Tensor) T() *Tensor {
	if len(t.shape) != 2 {
		fail("tensor.T", "T needs a 2-d tensor", t.shape)
	}
	return t.Permute(1, 0)
}

// Slice returns the rows [start, end) along axis 0 as a view sharing t's
// storage (a batch out of a dataset tensor, without copying).
func (t *Tensor) Slice(start, end int) *Tensor {
	if len(t.shape) == 0 {
		fail("tensor.Slice", "cannot slice a scalar", t.shape)
	}
	if start < 0 || end > t.shape[0] || start > end {
		failf("tensor.Slice", [][]int{t.shape}, "rows [%d, %d) out of range", start, end)
	}
	row := numelOf(t.shape[1:])
	shape := append([]int{end - start}, t.shape[1:]...)
	return t.view(shape, t.off+start*row, (end-start)*row)
}

// Narrow returns a copy of the elements [start, start+length) along axis.
func (t *Tensor) Narrow(axis, start, length int) *Tensor {
	const op = "tensor.Narrow"
	a := normAxis(op, axis, len(t.shape), t.shape)
	if start < 0 || length < 0 || start+length > t.shape[a] {
		failf(op, [][]int{t.shape}, "range [%d, %d) out of range on axis %d", start, start+length, axis)
	}
	shape := append([]int{}, t.shape...)
	shape[a] = length
	r := uninit(t.dev, shape)
	if r.n > 0 {
		cs := contiguousStrides(t.shape)
		src := t.buf()
		src.Off += start * cs[a]
		t.backend().StridedCopy(r.buf(), contiguousStrides(shape), src, cs, shape)
	}
	return r
}

// splitAt returns the products of the dimensions before and after axis a.
func splitAt(shape []int, a int) (outer, inner int) {
	return numelOf(shape[:a]), numelOf(shape[a+1:])
}

// IndexSelect gathers the entries idx along axis into a new tensor whose
// axis has len(idx) entries, like torch.index_select. Indices may repeat;
// negative or too large indices panic.
func (t *Tensor) IndexSelect(axis int, idx []int) *Tensor {
	const op = "tensor.IndexSelect"
	a := normAxis(op, axis, len(t.shape), t.shape)
	for _, i := range idx {
		if i < 0 || i >= t.shape[a] {
			failf(op, [][]int{t.shape}, "index %d out of range on axis %d", i, axis)
		}
	}
	shape := append([]int{}, t.shape...)
	shape[a] = len(idx)
	r := uninit(t.dev, shape)
	if r.n > 0 {
		outer, inner := splitAt(t.shape, a)
		t.backend().Gather(r.buf(), t.buf(), outer, t.shape[a], inner, append([]int{}, idx...))
	}
	return r
}

// IndexAdd adds src into t at the entries idx along axis, in place;
// repeated indices accumulate. src has t's shape except len(idx) entries
// along axis. It is the gradient of IndexSelect.
func IndexAdd(t *Tensor, axis int, idx []int, src *Tensor) {
	const op = "tensor.IndexAdd"
	sameDevice(op, t, src)
	a := normAxis(op, axis, len(t.shape), t.shape)
	want := append([]int{}, t.shape...)
	want[a] = len(idx)
	if !slices.Equal(want, src.shape) {
		failf(op, [][]int{t.shape, src.shape}, "source must have shape %v for %d indices on axis %d", want, len(idx), axis)
	}
	for _, i := range idx {
		if i < 0 || i >= t.shape[a] {
			failf(op, [][]int{t.shape, src.shape}, "index %d out of range on axis %d", i, axis)
		}
	}
	if src.n > 0 {
		outer, inner := splitAt(t.shape, a)
		t.backend().IndexAdd(t.buf(), src.buf(), outer, t.shape[a], inner, append([]int{}, idx...))
	}
}

func shapesOf(ts []*Tensor) [][]int {
	s := make([][]int, len(ts))
	for i, t := range ts {
		s[i] = t.shape
	}
	return s
}

// Concat joins tensors along axis; all other dimensions must agree. As in
// torch.cat, 1-d empty tensors (shape [0]) are skipped.
func Concat(axis int, ts ...*Tensor) *Tensor {
	const op = "tensor.Concat"
	if len(ts) == 0 {
		fail(op, "no tensors")
	}
	dev := sameDevice(op, ts...)
	var parts []*Tensor
	for _, t := range ts {
		if len(t.shape) == 1 && t.shape[0] == 0 {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return empty(dev, []int{0})
	}
	ref := parts[0].shape
	if len(ref) == 0 {
		fail(op, "cannot concatenate scalars", shapesOf(ts)...)
	}
	a := normAxis(op, axis, len(ref), ref)
	shape := append([]int{}, ref...)
	shape[a] = 0
	for _, t := range parts {
		ok := len(t.shape) == len(ref)
		for i := 0; ok && i < len(ref); i++ {
			ok = i == a || t.shape[i] == ref[i]
		}
		if !ok {
			failf(op, shapesOf(ts), "shapes must match except on axis %d", axis)
		}
		shape[a] += t.shape[a]
	}
	r := uninit(dev, shape) // the parts fill it whole
	rs := contiguousStrides(shape)
	pos := 0
	for _, t := range parts {
		if t.n > 0 {
			dst := r.buf()
			dst.Off += pos * rs[a]
			dst.N = r.n - pos*rs[a]
			t.backend().StridedCopy(dst, rs, t.buf(), contiguousStrides(t.shape), t.shape)
		}
		pos += t.shape[a]
	}
	return r
}

// Stack joins tensors of one shape along a new axis at position axis, which
// may range over [-(Dim()+1), Dim()].
func Stack(axis int, ts ...*Tensor) *Tensor {
	const op = "tensor.Stack"
	if len(ts) == 0 {
		fail(op, "no tensors")
	}
	sameDevice(op, ts...)
	for _, t := range ts[1:] {
		if !slices.Equal(t.shape, ts[0].shape) {
			fail(op, "shapes must be equal", shapesOf(ts)...)
		}
	}
	a := normAxis(op, axis, len(ts[0].shape)+1, ts[0].shape)
	us := make([]*Tensor, len(ts))
	for i, t := range ts {
		us[i] = t.Unsqueeze(a)
	}
	return Concat(a, us...)
}

// Expand returns t broadcast to shape as a new (materialized) tensor, like
// torch.expand followed by contiguous: leading axes may be added, axes of
// size 1 stretched, and -1 keeps a size.
func (t *Tensor) Expand(shape ...int) *Tensor {
	const op = "tensor.Expand"
	if len(shape) < len(t.shape) {
		fail(op, "target has fewer dimensions", t.shape, shape)
	}
	out := append([]int{}, shape...)
	for i := range out {
		j := len(t.shape) - len(out) + i
		if out[i] == -1 && j >= 0 {
			out[i] = t.shape[j]
		}
		if out[i] < 0 || (j >= 0 && t.shape[j] != 1 && t.shape[j] != out[i]) {
			fail(op, "cannot expand", t.shape, shape)
		}
	}
	r := uninit(t.dev, out)
	if r.n > 0 {
		t.backend().StridedCopy(r.buf(), contiguousStrides(out), t.buf(), broadcastStrides(t.shape, out), out)
	}
	return r
}

// SumTo sums t over the axes that broadcasting added or stretched so that
// the result has shape, the shape t was broadcast from: the gradient of a
// broadcast operand. shape must broadcast to t's shape.
func (t *Tensor) SumTo(shape ...int) *Tensor {
	const op = "tensor.SumTo"
	out, ok := broadcast(shape, t.shape)
	if !ok || !slices.Equal(out, t.shape) {
		fail(op, "target does not broadcast to the tensor's shape", t.shape, shape)
	}
	var axes []int
	lead := len(t.shape) - len(shape)
	for i := range t.shape {
		if i < lead || (shape[i-lead] == 1 && t.shape[i] != 1) {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return t.Clone().Reshape(shape...)
	}
	return Sum(t, true, axes...).Reshape(shape...)
}
