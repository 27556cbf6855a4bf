package tensor

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestConstructors(t *testing.T) {
	checkClose(t, "Zeros", Zeros(2, 2), []float64{0, 0, 0, 0}, 0, 0)
	checkClose(t, "Ones", Ones(3), []float64{1, 1, 1}, 0, 0)
	checkClose(t, "Full", Full(2.5, 1, 2), []float64{2.5, 2.5}, 0, 0)
	checkClose(t, "Arange", Arange(4), []float64{0, 1, 2, 3}, 0, 0)
	s := Scalar(7)
	if s.Dim() != 0 || s.Numel() != 1 || s.Item() != 7 || len(s.Shape()) != 0 {
		t.Fatalf("Scalar: dim %d numel %d item %v", s.Dim(), s.Numel(), s.Item())
	}
	d := []float32{1, 2, 3, 4, 5, 6}
	f := FromSlice(d, 3, 2)
	d[0] = 100
	if f.At(0, 0) != 1 {
		t.Fatalf("FromSlice did not copy its data")
	}
	if f.At(2, 1) != 6 || f.At(-1, -2) != 5 {
		t.Fatalf("At: %v %v", f.At(2, 1), f.At(-1, -2))
	}
	f.Set(-3, 1, 0)
	if f.Data()[2] != -3 {
		t.Fatalf("Set did not write row-major position 2")
	}
	z := ZerosLike(f)
	o := OnesLike(f)
	checkShapeIs(t, "ZerosLike", z, 3, 2)
	checkClose(t, "OnesLike", o, []float64{1, 1, 1, 1, 1, 1}, 0, 0)
	e := Zeros(0, 5)
	if e.Numel() != 0 || e.Size(1) != 5 || e.Size(-2) != 0 {
		t.Fatalf("empty tensor: numel %d", e.Numel())
	}
	if f.Device() != CPU || CPU.String() != "cpu" {
		t.Fatalf("device %v", f.Device())
	}
	sh := f.Shape()
	sh[0] = 99
	if f.Size(0) != 3 {
		t.Fatalf("Shape returned the internal slice")
	}
}

// TestRandomDeterminism checks that the same seed gives the same numbers,
// different seeds different ones, and that the distributions are plausible
// (mean and spread within 5 standard errors over 1e5 samples).
func TestRandomDeterminism(t *testing.T) {
	a := Randn(newSrc(42), 100000)
	b := Randn(newSrc(42), 100000)
	c := Randn(newSrc(43), 100000)
	if !slices.Equal(a.Data(), b.Data()) {
		t.Fatalf("Randn with the same seed differs")
	}
	if slices.Equal(a.Data(), c.Data()) {
		t.Fatalf("Randn with different seeds is equal")
	}
	// The values are NormFloat64 rounded, in order.
	src := newSrc(42)
	for i := 0; i < 10; i++ {
		if want := float32(src.NormFloat64()); a.Data()[i] != want {
			t.Fatalf("Randn[%d] = %v, want %v", i, a.Data()[i], want)
		}
	}
	n := float64(a.n)
	mean := float64(Mean(a, false).Item())
	v := float64(Mean(Square(AddScalar(a, float32(-mean))), false).Item())
	if math.Abs(mean) > 5/math.Sqrt(n) || math.Abs(v-1) > 5*math.Sqrt(2/n) {
		t.Fatalf("Randn mean %v var %v", mean, v)
	}
	g := Normal(newSrc(1), 3, 2, 100000)
	gm := float64(Mean(g, false).Item())
	if math.Abs(gm-3) > 5*2/math.Sqrt(n) {
		t.Fatalf("Normal mean %v", gm)
	}
	u := Uniform(newSrc(2), -2, 3, 100000)
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, x := range u.Data() {
		lo, hi = min(lo, x), max(hi, x)
	}
	if lo < -2 || hi >= 3 || lo > -1.99 || hi < 2.99 {
		t.Fatalf("Uniform range [%v, %v]", lo, hi)
	}
	r := Rand(newSrc(3), 1000)
	if !slices.Equal(r.Data(), Rand(newSrc(3), 1000).Data()) {
		t.Fatalf("Rand not deterministic")
	}
	if um := float64(Mean(r, false).Item()); math.Abs(um-0.5) > 5*math.Sqrt(1.0/12/1000) {
		t.Fatalf("Rand mean %v", um)
	}
}

func TestViewsShareCopiesDoNot(t *testing.T) {
	a := FromSlice([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4)
	views := map[string]*Tensor{
		"Reshape":   a.Reshape(4, -1),
		"View":      a.View(12),
		"Flatten":   a.Flatten(0, 1),
		"Unsqueeze": a.Unsqueeze(0),
		"Squeeze":   a.Unsqueeze(1).Squeeze(1),
	}
	for name, v := range views {
		v.Data()[0] = 100
		if a.At(0, 0) != 100 {
			t.Fatalf("%s does not share storage", name)
		}
		a.Set(0, 0, 0)
	}
	s := a.Slice(1, 3)
	checkShapeIs(t, "Slice", s, 2, 4)
	checkClose(t, "Slice", s, []float64{4, 5, 6, 7, 8, 9, 10, 11}, 0, 0)
	s.Set(-1, 0, 0)
	if a.At(1, 0) != -1 {
		t.Fatalf("Slice does not share storage")
	}
	if len(s.Data()) != 8 || cap(s.Data()) != 8 {
		t.Fatalf("Slice Data has len %d cap %d", len(s.Data()), cap(s.Data()))
	}
	// A view of a view keeps the offset.
	ss := s.Slice(1, 2).Reshape(2, 2)
	checkClose(t, "Slice of slice", ss, []float64{8, 9, 10, 11}, 0, 0)
	// In-place ops on a view write through to the base.
	s.Slice(1, 2).Fill(7)
	checkClose(t, "Fill on view", a, []float64{0, 1, 2, 3, -1, 5, 6, 7, 7, 7, 7, 7}, 0, 0)

	copies := map[string]*Tensor{
		"Clone":       a.Clone(),
		"Permute":     a.Permute(0, 1),
		"Transpose":   a.Transpose(0, 0),
		"Narrow":      a.Narrow(0, 0, 3),
		"IndexSelect": a.IndexSelect(0, []int{0, 1, 2}),
		"Expand":      a.Expand(3, 4),
		"Concat":      Concat(0, a),
		"To":          a.To(CPU),
		"Add":         Add(a, Scalar(0)),
		"SumTo":       a.SumTo(3, 4),
	}
	for name, c := range copies {
		c.Data()[0] = 55
		if a.At(0, 0) == 55 {
			t.Fatalf("%s shares storage with its operand", name)
		}
	}
}

func TestInPlace(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	r := a.AddInPlace(FromSlice([]float32{10, 20, 30}, 3))
	if r != a {
		t.Fatalf("AddInPlace did not return its receiver")
	}
	checkClose(t, "AddInPlace broadcast", a, []float64{11, 22, 33, 14, 25, 36}, 0, 0)
	a.AddInPlace(a)
	checkClose(t, "AddInPlace self", a, []float64{22, 44, 66, 28, 50, 72}, 0, 0)
	a.AddInPlace(Scalar(1))
	checkClose(t, "AddInPlace scalar", a, []float64{23, 45, 67, 29, 51, 73}, 0, 0)
	a.AxpyInPlace(-2, Ones(2, 3))
	checkClose(t, "AxpyInPlace", a, []float64{21, 43, 65, 27, 49, 71}, 0, 0)
	a.ScaleInPlace(0.5)
	checkClose(t, "ScaleInPlace", a, []float64{10.5, 21.5, 32.5, 13.5, 24.5, 35.5}, 0, 0)
	a.CopyFrom(FromSlice([]float32{6, 5, 4, 3, 2, 1}, 2, 3))
	checkClose(t, "CopyFrom", a, []float64{6, 5, 4, 3, 2, 1}, 0, 0)
	a.Zero()
	checkClose(t, "Zero", a, []float64{0, 0, 0, 0, 0, 0}, 0, 0)
	// Large in-place accumulation, split over cores.
	src := newSrc(8)
	x, y := randT(src, 300, 200), randT(src, 200)
	want := refBinary(x, y, []int{300, 200}, func(p, q float64) float64 { return float64(float32(p + q)) })
	x.AddInPlace(y)
	checkClose(t, "AddInPlace large", x, want, 0, 0)
}

func TestAllCloseAndString(t *testing.T) {
	a := FromSlice([]float32{1, 2, float32(math.Inf(1))}, 3)
	b := FromSlice([]float32{1, 2.001, float32(math.Inf(1))}, 3)
	if !AllClose(a, b, 1e-3, 0) || AllClose(a, b, 1e-4, 0) {
		t.Fatalf("AllClose tolerance")
	}
	if !AllClose(Ones(2, 3), Scalar(1), 0, 0) {
		t.Fatalf("AllClose does not broadcast")
	}
	n := FromSlice([]float32{float32(math.NaN())}, 1)
	if AllClose(n, n, 1, 1) {
		t.Fatalf("NaN is close to NaN")
	}
	s := FromSlice([]float32{1, 2.5}, 2).String()
	if s != "Tensor[2] [1 2.5]" {
		t.Fatalf("String = %q", s)
	}
	long := Arange(100).String()
	if !strings.Contains(long, "Tensor[100]") || !strings.Contains(long, "(88 more)") || !strings.HasSuffix(long, "99]") {
		t.Fatalf("long String = %q", long)
	}
}

// fakeBackend is a second device made of the CPU backend under another
// name, to show that ops run unchanged on a registered device and that
// mixing devices is refused.
type fakeBackend struct{ cpuBackend }

func (fakeBackend) Name() string { return "fake:0" }

func TestRegisteredBackend(t *testing.T) {
	const fake Device = 7
	RegisterBackend(fake, fakeBackend{})
	if fake.String() != "fake:0" {
		t.Fatalf("device name %q", fake.String())
	}
	src := newSrc(9)
	a, b := randT(src, 4, 5), randT(src, 5, 3)
	ga, gb := a.To(fake), b.To(fake)
	if ga.Device() != fake {
		t.Fatalf("To did not move the tensor")
	}
	got := Softmax(Add(MatMul(ga, gb), Scalar(1).To(fake)), 1)
	want := Softmax(Add(MatMul(a, b), Scalar(1)), 1)
	if got.Device() != fake || !AllClose(got.To(CPU), want, 0, 0) {
		t.Fatalf("ops on the registered device differ from the CPU")
	}
	if got.At(1, 1) != want.At(1, 1) {
		t.Fatalf("At on device")
	}
	if !strings.Contains(got.String(), "fake:0") {
		t.Fatalf("String misses the device: %s", got.String())
	}
	se := mustPanicShape(t, "mixed devices", func() { Add(a, gb) })
	if !strings.Contains(se.Error(), "tensor.Add") || !strings.Contains(se.Error(), "cpu") || !strings.Contains(se.Error(), "fake:0") {
		t.Fatalf("mixed-device message %q", se.Error())
	}
	mustPanicShape(t, "Data off CPU", func() { ga.Data() })
}
