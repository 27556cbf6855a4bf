package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Tensor is an N-d float32 array. A view shares its storage with the tensor
// it was made from and differs only in shape and starting offset, so every
// tensor is contiguous and row-major.
type Tensor struct {
	shape []int
	st    Storage
	off   int
	n     int
	dev   Device
}

func numelOf(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// checkShape panics if any dimension is negative.
func checkShape(op string, shape []int) {
	for _, s := range shape {
		if s < 0 {
			fail(op, "negative dimension", shape)
		}
	}
}

// empty allocates a zero-filled tensor of the given shape on d; the shape is
// copied.
func empty(d Device, shape []int) *Tensor {
	n := numelOf(shape)
	b := backendOf("tensor.alloc", d)
	return &Tensor{shape: append([]int{}, shape...), st: numbered(b.Alloc(n)), n: n, dev: d}
}

// uninit allocates a tensor of the given shape on d whose contents are
// unspecified, for an op that overwrites every element of its output:
// recycled storage then skips the clear, which is a whole pass over memory
// (recycle.go). Backends without the fast path give
// zero-filled storage. The shape is copied.
func uninit(d Device, shape []int) *Tensor {
	n := numelOf(shape)
	b := backendOf("tensor.alloc", d)
	var st Storage
	if u, ok := b.(uninitAllocator); ok {
		st = u.AllocUninit(n)
	} else {
		st = b.Alloc(n)
	}
	return &Tensor{shape: append([]int{}, shape...), st: numbered(st), n: n, dev: d}
}

func (t *Tensor) buf() Buf         { return Buf{S: t.st, Off: t.off, N: t.n} }
func (t *Tensor) backend() Backend { return backendOf("tensor", t.dev) }

// view returns a tensor sharing t's storage with a new shape and offset.
func (t *Tensor) view(shape []int, off, n int) *Tensor {
	return &Tensor{shape: shape, st: t.st, off: off, n: n, dev: t.dev}
}

// fromHost makes a CPU tensor that holds a copy of data.
func fromHost(data []float32, shape []int) *Tensor {
	t := empty(CPU, shape)
	if t.n > 0 {
		t.backend().Upload(t.buf(), data)
	}
	return t
}

// Zeros returns a CPU tensor of the given shape filled with 0.
func Zeros(shape ...int) *Tensor {
	checkShape("tensor.Zeros", shape)
	return empty(CPU, shape)
}

// Ones returns a CPU tensor of the given shape filled with 1.
func Ones(shape ...int) *Tensor {
	checkShape("tensor.Ones", shape)
	return Full(1, shape...)
}

// Full returns a CPU tensor of the given shape filled with v.
func Full(v float32, shape ...int) *Tensor {
	checkShape("tensor.Full", shape)
	t := empty(CPU, shape)
	if v != 0 && t.n > 0 {
		t.backend().Fill(t.buf(), v)
	}
	return t
}

// FromSlice returns a CPU tensor holding a copy of data in the given shape.
// len(data) must equal the product of the shape (1 for shape []).
func FromSlice(data []float32, shape ...int) *Tensor {
	checkShape("tensor.FromSlice", shape)
	if n := numelOf(shape); n != len(data) {
		failf("tensor.FromSlice", [][]int{shape}, "data has %d elements, shape needs %d", len(data), n)
	}
	return fromHost(data, shape)
}

// Scalar returns a 0-dimensional tensor (shape []) holding v.
func Scalar(v float32) *Tensor { return fromHost([]float32{v}, nil) }

// Arange returns the 1-d tensor [0, 1, ..., n-1].
func Arange(n int) *Tensor {
	if n < 0 {
		fail("tensor.Arange", fmt.Sprintf("negative length %d", n))
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i)
	}
	return fromHost(d, []int{n})
}

// Rand returns a tensor of values uniform in [0, 1), drawn from src in
// row-major order: the same source state gives the same tensor on every
// platform and with any number of threads.
func Rand(src *rand.Rand, shape ...int) *Tensor {
	return Uniform(src, 0, 1, shape...)
}

// Uniform returns a tensor of values uniform in [lo, hi), drawn from src in
// row-major order (same seed, same numbers). Each value is computed in
// float64 and rounded; a value that rounds up to hi is replaced by the
// largest float32 below hi so the interval stays half-open.
func Uniform(src *rand.Rand, lo, hi float32, shape ...int) *Tensor {
	checkShape("tensor.Uniform", shape)
	d := make([]float32, numelOf(shape))
	below := math.Nextafter32(hi, float32(math.Inf(-1)))
	for i := range d {
		v := float32(float64(lo) + (float64(hi)-float64(lo))*src.Float64())
		if v >= hi && hi > lo {
			v = below
		}
		d[i] = v
	}
	return fromHost(d, shape)
}

// Randn returns a tensor of standard normal values, src.NormFloat64 rounded
// to float32 in row-major order (same seed, same numbers).
func Randn(src *rand.Rand, shape ...int) *Tensor {
	return Normal(src, 0, 1, shape...)
}

// Normal returns a tensor of normal values with the given mean and standard
// deviation, mean + std*src.NormFloat64() computed in float64 and rounded,
// in row-major order (same seed, same numbers).
func Normal(src *rand.Rand, mean, std float32, shape ...int) *Tensor {
	checkShape("tensor.Normal", shape)
	d := make([]float32, numelOf(shape))
	for i := range d {
		d[i] = float32(float64(mean) + float64(std)*src.NormFloat64())
	}
	return fromHost(d, shape)
}

// ZerosLike returns zeros with t's shape on t's device.
func ZerosLike(t *Tensor) *Tensor { return empty(t.dev, t.shape) }

// OnesLike returns ones with t's shape on t's device.
func OnesLike(t *Tensor) *Tensor { return empty(t.dev, t.shape).Fill(1) }

// Shape returns a copy of t's shape.
func (t *Tensor) Shape() []int { return append([]int{}, t.shape...) }

// Dim returns the number of dimensions (0 for a scalar).
func (t *Tensor) Dim() int { return len(t.shape) }

// Size returns the length of one axis; negative axes count from the end.
func (t *Tensor) Size(axis int) int {
	return t.shape[normAxis("tensor.Size", axis, len(t.shape), t.shape)]
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return t.n }

// Device returns the device t's storage lives on.
func (t *Tensor) Device() Device { return t.dev }

// Data returns t's CPU storage itself (not a copy): writes through it are
// seen by t and by every view sharing its storage. It panics for tensors on
// other devices, whose storage the host cannot address; use To(CPU).
func (t *Tensor) Data() []float32 {
	if t.dev != CPU {
		failf("tensor.Data", [][]int{t.shape}, "tensor is on %v; use To(CPU)", t.dev)
	}
	return cpuSlice(t.buf())
}

// host returns t's values in a host slice: the storage itself on the CPU,
// a downloaded copy elsewhere. Callers only read it.
func (t *Tensor) host() []float32 {
	if t.dev == CPU {
		return cpuSlice(t.buf())
	}
	d := make([]float32, t.n)
	if t.n > 0 {
		t.backend().Download(d, t.buf())
	}
	return d
}

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() float32 {
	if t.n != 1 {
		failf("tensor.Item", [][]int{t.shape}, "Item needs exactly one element, have %d", t.n)
	}
	var v [1]float32
	t.backend().Download(v[:], t.buf())
	return v[0]
}

// flatIndex maps a multi-index (negative entries count from the end) to a
// row-major offset, panicking when it does not fit t.
func (t *Tensor) flatIndex(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		failf(op, [][]int{t.shape}, "%d indices for %d dimensions", len(idx), len(t.shape))
	}
	off := 0
	for i, x := range idx {
		s := t.shape[i]
		if x < 0 {
			x += s
		}
		if x < 0 || x >= s {
			failf(op, [][]int{t.shape}, "index %v out of range", idx)
		}
		off = off*s + x
	}
	return off
}

// At returns the element at the given multi-index.
func (t *Tensor) At(idx ...int) float32 {
	off := t.flatIndex("tensor.At", idx)
	var v [1]float32
	t.backend().Download(v[:], Buf{S: t.st, Off: t.off + off, N: 1})
	return v[0]
}

// Set writes v at the given multi-index (in place, visible through views).
func (t *Tensor) Set(v float32, idx ...int) {
	off := t.flatIndex("tensor.Set", idx)
	t.backend().Upload(Buf{S: t.st, Off: t.off + off, N: 1}, []float32{v})
}

// Clone returns a copy of t with its own storage on the same device.
func (t *Tensor) Clone() *Tensor {
	r := uninit(t.dev, t.shape)
	if t.n > 0 {
		t.backend().Copy(r.buf(), t.buf())
	}
	return r
}

// To returns a copy of t on device d (a clone when t is already there).
func (t *Tensor) To(d Device) *Tensor {
	if d == t.dev {
		return t.Clone()
	}
	src := t.backend()
	dst := backendOf("tensor.To", d)
	r := &Tensor{shape: append([]int{}, t.shape...), st: numbered(dst.Alloc(t.n)), n: t.n, dev: d}
	if t.n > 0 {
		h := make([]float32, t.n)
		src.Download(h, t.buf())
		dst.Upload(r.buf(), h)
	}
	return r
}

// MoveTo moves t itself to device d and returns t: when t is already on d
// it does nothing (no copy, unlike To, which always copies), and otherwise
// t's storage is replaced by a copy on d, so that every holder of t (a
// module's parameter and its optimizer, a batch-norm layer's field and its
// registered buffer) sees the move; this is what nn.ToDevice is built on,
// PyTorch's param.data = param.data.to(device). Views made from t before
// the move keep the old storage. t must not be in use by another
// goroutine while it moves.
func (t *Tensor) MoveTo(d Device) *Tensor {
	if d == t.dev {
		return t
	}
	r := t.To(d)
	// The copy is contiguous from 0, so only the storage, offset and
	// device change; the shape is t's own.
	t.st, t.off, t.dev = r.st, 0, d
	return t
}

// ZerosOn returns a zero-filled tensor of the given shape on device d.
func ZerosOn(d Device, shape ...int) *Tensor {
	checkShape("tensor.ZerosOn", shape)
	return empty(d, shape)
}

// FullOn returns a tensor of the given shape on device d filled with v,
// without a host copy (a backend Fill).
func FullOn(d Device, v float32, shape ...int) *Tensor {
	checkShape("tensor.FullOn", shape)
	t := empty(d, shape)
	if v != 0 && t.n > 0 {
		t.backend().Fill(t.buf(), v)
	}
	return t
}

// FromSliceOn is FromSlice on device d: one upload of data.
func FromSliceOn(d Device, data []float32, shape ...int) *Tensor {
	checkShape("tensor.FromSliceOn", shape)
	if n := numelOf(shape); n != len(data) {
		failf("tensor.FromSliceOn", [][]int{shape}, "data has %d elements, shape needs %d", len(data), n)
	}
	t := empty(d, shape)
	if t.n > 0 {
		t.backend().Upload(t.buf(), data)
	}
	return t
}

// Host returns t's values in a host slice that the caller may only read:
// t's own storage on the CPU (no copy, as Data), a downloaded copy on
// another device. Code that needs a batch's few float64 statistics on the
// host (class moments, log-likelihoods) reads them through it, so that the
// same code runs on every device and the CPU pays nothing.
func (t *Tensor) Host() []float32 { return t.host() }

// String returns the shape, the device if not the CPU, and the values (the
// first and last few when there are many).
func (t *Tensor) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Tensor%v", t.shape)
	if t.dev != CPU {
		fmt.Fprintf(&sb, " %v", t.dev)
	}
	h := t.host()
	sb.WriteString(" [")
	const head, tail = 8, 4
	for i, v := range h {
		if len(h) > head+tail && i == head {
			fmt.Fprintf(&sb, " ... (%d more)", len(h)-head-tail)
		}
		if len(h) > head+tail && i >= head && i < len(h)-tail {
			continue
		}
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%g", v)
	}
	sb.WriteByte(']')
	return sb.String()
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b *Tensor) bool { return slices.Equal(a.shape, b.shape) }

// AllClose reports whether |a-b| <= atol + rtol*|b| everywhere, after
// broadcasting a and b against each other, like torch.allclose: equal
// infinities are close, NaN is close to nothing.
func AllClose(a, b *Tensor, rtol, atol float32) bool {
	sameDevice("tensor.AllClose", a, b)
	shape := broadcastOrFail("tensor.AllClose", a.shape, b.shape)
	ah := a.Expand(shape...).host()
	bh := b.Expand(shape...).host()
	for i := range ah {
		x, y := float64(ah[i]), float64(bh[i])
		if x == y {
			continue
		}
		if !(math.Abs(x-y) <= float64(atol)+float64(rtol)*math.Abs(y)) {
			return false
		}
	}
	return true
}

// Fill sets every element of t to v in place and returns t.
func (t *Tensor) Fill(v float32) *Tensor {
	if t.n > 0 {
		t.backend().Fill(t.buf(), v)
	}
	return t
}

// Zero sets t to 0 in place and returns t.
func (t *Tensor) Zero() *Tensor { return t.Fill(0) }

// CopyFrom copies src's values into t in place (same shape, same device)
// and returns t.
func (t *Tensor) CopyFrom(src *Tensor) *Tensor {
	sameDevice("tensor.CopyFrom", t, src)
	if !slices.Equal(t.shape, src.shape) {
		fail("tensor.CopyFrom", "shapes differ", t.shape, src.shape)
	}
	if t.n > 0 && (t.st != src.st || t.off != src.off) {
		t.backend().Copy(t.buf(), src.buf())
	}
	return t
}

// AddInPlace adds x, broadcast to t's shape, into t and returns t: the
// gradient accumulation step.
func (t *Tensor) AddInPlace(x *Tensor) *Tensor {
	sameDevice("tensor.AddInPlace", t, x)
	out, ok := broadcast(t.shape, x.shape)
	if !ok || !slices.Equal(out, t.shape) {
		fail("tensor.AddInPlace", "cannot broadcast the second to the first", t.shape, x.shape)
	}
	if t.n > 0 {
		t.backend().Binary(BAdd, t.buf(), t.shape, t.buf(), contiguousStrides(t.shape), x.buf(), broadcastStrides(x.shape, t.shape))
	}
	return t
}

// AxpyInPlace sets t += alpha*x (x of t's shape) and returns t: the update
// step of optimizers.
func (t *Tensor) AxpyInPlace(alpha float32, x *Tensor) *Tensor {
	sameDevice("tensor.AxpyInPlace", t, x)
	if !slices.Equal(t.shape, x.shape) {
		fail("tensor.AxpyInPlace", "shapes differ", t.shape, x.shape)
	}
	if t.n > 0 {
		t.backend().Axpy(alpha, x.buf(), t.buf())
	}
	return t
}

// ReluInPlace sets t = max(t, 0) in place and returns t. Fused ops use it
// on a result they have just made, so that no second tensor is allocated.
func (t *Tensor) ReluInPlace() *Tensor {
	if t.n > 0 {
		t.backend().Unary(URelu, t.buf(), t.buf(), 0, 0)
	}
	return t
}

// AddScalarInPlace adds v to t in place and returns t, on t's device (a
// batch-norm layer's num_batches_tracked counts this way without a host
// round trip).
func (t *Tensor) AddScalarInPlace(v float32) *Tensor {
	if t.n > 0 {
		t.backend().Unary(UAddScalar, t.buf(), t.buf(), v, 0)
	}
	return t
}

// ScaleInPlace multiplies t by alpha in place and returns t.
func (t *Tensor) ScaleInPlace(alpha float32) *Tensor {
	if t.n > 0 {
		t.backend().Unary(UMulScalar, t.buf(), t.buf(), alpha, 0)
	}
	return t
}
