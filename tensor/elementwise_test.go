package tensor

import (
	"math"
	"testing"
)

func TestAddHandChecked(t *testing.T) {
	a := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := FromSlice([]float32{10, 20, 30}, 3)
	got := Add(a, b)
	checkShapeIs(t, "Add", got, 2, 3)
	checkClose(t, "Add row broadcast", got, []float64{11, 22, 33, 14, 25, 36}, 0, 0)
	col := FromSlice([]float32{100, 200}, 2, 1)
	checkClose(t, "Add column broadcast", Add(a, col), []float64{101, 102, 103, 204, 205, 206}, 0, 0)
	checkClose(t, "Sub scalar-shaped", Sub(a, Scalar(1)), []float64{0, 1, 2, 3, 4, 5}, 0, 0)
	checkClose(t, "Sub scalar on left", Sub(Scalar(1), a), []float64{0, -1, -2, -3, -4, -5}, 0, 0)
	checkClose(t, "Mul [1]", Mul(a, FromSlice([]float32{2}, 1)), []float64{2, 4, 6, 8, 10, 12}, 0, 0)
	checkClose(t, "Div", Div(a, b), []float64{0.1, 0.1, 0.1, 0.4, 0.25, 0.2}, 1e-7, 0)
	outer := Mul(FromSlice([]float32{1, 2}, 2, 1), FromSlice([]float32{1, 10, 100}, 1, 3))
	checkShapeIs(t, "outer", outer, 2, 3)
	checkClose(t, "outer product by broadcasting", outer, []float64{1, 10, 100, 2, 20, 200}, 0, 0)
	s := Add(Scalar(2), Scalar(3))
	checkShapeIs(t, "scalar+scalar", s)
	if s.Item() != 5 {
		t.Fatalf("Scalar(2)+Scalar(3) = %v", s.Item())
	}
	// A [1]-shaped operand with a scalar gives [1], as in torch.
	checkShapeIs(t, "[1]+[]", Add(Ones(1), Scalar(1)), 1)
}

// TestBinaryRandom checks every binary op on random inputs against a float64
// loop reference over many broadcasting patterns, including scalar-shaped,
// [1]-shaped and size-0 operands and shapes big enough to be split over
// cores. Add, Sub, Mul and Div of two float32 values are exact in float64,
// so the float32 results must equal the rounded reference exactly.
func TestBinaryRandom(t *testing.T) {
	src := newSrc(1)
	shapes := [][2][]int{
		{{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{2, 3}, {1}}, {{2, 3}, {}}, {{}, {2, 3}}, {{}, {}},
		{{4, 1, 3}, {2, 1}}, {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{1}, {5}}, {{5}, {1}}, {{2, 1}, {1, 3}},
		{{3, 1, 5}, {3, 4, 1}}, {{0, 3}, {3}}, {{0}, {1}}, {{2, 0}, {2, 1}}, {{1, 0}, {3, 1}},
		{{7, 1}, {7, 9}}, {{2, 3, 4}, {2, 1, 4}},
		{{128, 300}, {300}}, {{8, 16, 20, 20}, {1, 16, 1, 1}}, {{40000}, {40000}}, {{300, 1}, {300, 130}},
		{{3, 1, 70, 1}, {1, 200, 1, 3}},
	}
	type op struct {
		name string
		f    func(a, b *Tensor) *Tensor
		ref  func(x, y float64) float64
		rtol float64
	}
	r32 := func(v float64) float64 { return float64(float32(v)) }
	ops := []op{
		{"Add", Add, func(x, y float64) float64 { return r32(x + y) }, 0},
		{"Sub", Sub, func(x, y float64) float64 { return r32(x - y) }, 0},
		{"Mul", Mul, func(x, y float64) float64 { return r32(x * y) }, 0},
		{"Div", Div, func(x, y float64) float64 { return r32(x / y) }, 0},
		{"Pow", func(a, b *Tensor) *Tensor { return Pow(Abs(a), b) }, func(x, y float64) float64 { return math.Pow(math.Abs(x), y) }, 2e-7},
		{"Maximum", Maximum, math.Max, 0},
		{"Minimum", Minimum, math.Min, 0},
		{"Gt", Gt, func(x, y float64) float64 { return bf(x > y) }, 0},
		{"Ge", Ge, func(x, y float64) float64 { return bf(x >= y) }, 0},
		{"Lt", Lt, func(x, y float64) float64 { return bf(x < y) }, 0},
		{"Le", Le, func(x, y float64) float64 { return bf(x <= y) }, 0},
		{"Eq", Eq, func(x, y float64) float64 { return bf(x == y) }, 0},
		{"Ne", Ne, func(x, y float64) float64 { return bf(x != y) }, 0},
		{"ReluBackward", ReluBackward, func(g, x float64) float64 {
			if x > 0 {
				return g
			}
			return 0
		}, 0},
	}
	for _, sh := range shapes {
		a, b := randT(src, sh[0]...), randT(src, sh[1]...)
		// Make some entries equal so the comparisons see ties.
		if a.n > 0 && b.n > 0 {
			a.Data()[0] = b.Data()[0]
		}
		out, _ := BroadcastShapes(sh[0], sh[1])
		for _, o := range ops {
			got := o.f(a, b)
			checkShapeIs(t, o.name, got, out...)
			checkClose(t, o.name+" "+shapeStr(sh[0])+" "+shapeStr(sh[1]), got, refBinary(a, b, out, o.ref), o.rtol, 0)
		}
	}
}

func bf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestBinarySemantics(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	a := FromSlice([]float32{nan, 1, 2, -0.0}, 4)
	b := FromSlice([]float32{1, nan, 3, 0}, 4)
	nan64 := math.NaN()
	checkClose(t, "Maximum NaN propagates", Maximum(a, b), []float64{nan64, nan64, 3, 0}, 0, 0)
	checkClose(t, "Minimum NaN propagates", Minimum(a, b), []float64{nan64, nan64, 2, 0}, 0, 0)
	checkClose(t, "Eq with NaN", Eq(a, b), []float64{0, 0, 0, 1}, 0, 0)
	checkClose(t, "Ne with NaN", Ne(a, b), []float64{1, 1, 1, 0}, 0, 0)
	// pow: negative base with integral exponent, fractional exponent, 0^-1,
	// x^0 = 1 even for NaN, 1^NaN = 1 (C pow, like torch).
	base := FromSlice([]float32{-2, -2, -8, 0, nan, 1, -1}, 7)
	exp := FromSlice([]float32{3, 2, 1.0 / 3, -1, 0, nan, inf}, 7)
	checkClose(t, "Pow special cases", Pow(base, exp), []float64{-8, 4, nan64, math.Inf(1), 1, 1, 1}, 0, 0)
	checkClose(t, "PowScalar negative base", PowScalar(FromSlice([]float32{-3, -2, 2}, 3), 3), []float64{-27, -8, 8}, 0, 0)
	checkClose(t, "PowScalar 2", PowScalar(FromSlice([]float32{-3, 0.5}, 2), 2), []float64{9, 0.25}, 0, 0)
	checkClose(t, "PowScalar -0.5", PowScalar(FromSlice([]float32{4, -4}, 2), -0.5), []float64{0.5, nan64}, 0, 0)
	checkClose(t, "Div by zero", Div(FromSlice([]float32{1, -1, 0}, 3), Zeros(3)), []float64{math.Inf(1), math.Inf(-1), nan64}, 0, 0)
	g := FromSlice([]float32{5, 6, 7, 8}, 4)
	x := FromSlice([]float32{-1, 0, 2, nan}, 4)
	checkClose(t, "ReluBackward", ReluBackward(g, x), []float64{0, 0, 7, 0}, 0, 0)
}

func TestWhere(t *testing.T) {
	m := FromSlice([]float32{1, 0, 0.5}, 3)
	a := FromSlice([]float32{1, 2}, 2, 1)
	b := Scalar(-1)
	got := Where(m, a, b)
	checkShapeIs(t, "Where", got, 2, 3)
	checkClose(t, "Where", got, []float64{1, -1, 1, 2, -1, 2}, 0, 0)
	src := newSrc(2)
	mm := GtScalar(randT(src, 50, 1, 40), 0)
	aa, bb := randT(src, 1, 30, 40), randT(src, 50, 30, 1)
	got = Where(mm, aa, bb)
	out := []int{50, 30, 40}
	mv, av, bv := f64(mm), f64(aa), f64(bb)
	want := make([]float64, numelOf(out))
	for i := range want {
		idx := unravel(i, out)
		if mv[bcastIndex(idx, mm.shape, out)] != 0 {
			want[i] = av[bcastIndex(idx, aa.shape, out)]
		} else {
			want[i] = bv[bcastIndex(idx, bb.shape, out)]
		}
	}
	checkClose(t, "Where random", got, want, 0, 0)
}

// TestUnaryRandom checks each unary op against float64 math on random
// inputs large enough to be split over cores. Maps computed in float64
// inside the backend are within one float32 rounding (2^-24 ≈ 6e-8
// relative) of the reference, so 1.2e-7 allows the rounding plus the
// reference's own rounding; exp and log come from the vector kernels, whose
// documented bound is 3e-7 relative.
func TestUnaryRandom(t *testing.T) {
	src := newSrc(3)
	x := Uniform(src, -6, 6, 70001)
	pos := Uniform(src, 1e-3, 50, 70001)
	type op struct {
		name string
		in   *Tensor
		f    func(*Tensor) *Tensor
		ref  func(float64) float64
		rtol float64
	}
	r32 := func(v float64) float64 { return float64(float32(v)) }
	ops := []op{
		{"Neg", x, Neg, func(v float64) float64 { return -v }, 0},
		{"Exp", x, Exp, math.Exp, 3e-7},
		{"Log", pos, Log, math.Log, 3e-7},
		{"Sqrt", pos, Sqrt, func(v float64) float64 { return r32(math.Sqrt(v)) }, 0},
		{"Abs", x, Abs, math.Abs, 0},
		{"Relu", x, Relu, func(v float64) float64 { return math.Max(v, 0) }, 0},
		{"Sigmoid", x, Sigmoid, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }, 1.2e-7},
		{"Tanh", x, Tanh, math.Tanh, 1.2e-7},
		{"Square", x, Square, func(v float64) float64 { return r32(v * v) }, 0},
		{"AddScalar", x, func(a *Tensor) *Tensor { return AddScalar(a, 0.75) }, func(v float64) float64 { return r32(v + 0.75) }, 0},
		{"MulScalar", x, func(a *Tensor) *Tensor { return MulScalar(a, -1.5) }, func(v float64) float64 { return r32(v * -1.5) }, 0},
		{"DivScalar", x, func(a *Tensor) *Tensor { return DivScalar(a, 3) }, func(v float64) float64 { return r32(v / 3) }, 0},
		{"PowScalar", pos, func(a *Tensor) *Tensor { return PowScalar(a, 1.7) }, func(v float64) float64 { return math.Pow(v, float64(float32(1.7))) }, 1.2e-7},
		{"PowScalar int neg base", x, func(a *Tensor) *Tensor { return PowScalar(a, 3) }, func(v float64) float64 { return v * v * v }, 1.2e-7},
		{"Clamp", x, func(a *Tensor) *Tensor { return Clamp(a, -1, 2) }, func(v float64) float64 { return math.Min(math.Max(v, -1), 2) }, 0},
		{"GtScalar", x, func(a *Tensor) *Tensor { return GtScalar(a, 0.5) }, func(v float64) float64 { return bf(v > 0.5) }, 0},
		{"GeScalar", x, func(a *Tensor) *Tensor { return GeScalar(a, 0.5) }, func(v float64) float64 { return bf(v >= 0.5) }, 0},
		{"LtScalar", x, func(a *Tensor) *Tensor { return LtScalar(a, 0.5) }, func(v float64) float64 { return bf(v < 0.5) }, 0},
		{"LeScalar", x, func(a *Tensor) *Tensor { return LeScalar(a, 0.5) }, func(v float64) float64 { return bf(v <= 0.5) }, 0},
		{"EqScalar", x, func(a *Tensor) *Tensor { return EqScalar(a, x.Data()[5]) }, func(v float64) float64 { return bf(v == float64(x.Data()[5])) }, 0},
		{"NeScalar", x, func(a *Tensor) *Tensor { return NeScalar(a, x.Data()[5]) }, func(v float64) float64 { return bf(v != float64(x.Data()[5])) }, 0},
	}
	for _, o := range ops {
		in := f64(o.in)
		want := make([]float64, len(in))
		for i, v := range in {
			want[i] = o.ref(v)
		}
		got := o.f(o.in)
		checkShapeIs(t, o.name, got, o.in.shape...)
		checkClose(t, o.name, got, want, o.rtol, 0)
	}
}

func TestUnarySemantics(t *testing.T) {
	nan := float32(math.NaN())
	nan64 := math.NaN()
	inf := float32(math.Inf(1))
	x := FromSlice([]float32{nan, -inf, -2, 0, 3, inf}, 6)
	checkClose(t, "Clamp", Clamp(x, -1, 1), []float64{nan64, -1, -1, 0, 1, 1}, 0, 0)
	checkClose(t, "Clamp one-sided", Clamp(x, 0, inf), []float64{nan64, 0, 0, 0, 3, math.Inf(1)}, 0, 0)
	checkClose(t, "Clamp lo > hi gives hi", Clamp(x, 2, 1), []float64{nan64, 1, 1, 1, 1, 1}, 0, 0)
	checkClose(t, "Relu keeps NaN", Relu(x), []float64{nan64, 0, 0, 0, 3, math.Inf(1)}, 0, 0)
	checkClose(t, "Sigmoid", Sigmoid(x), []float64{nan64, 0, 1 / (1 + math.Exp(2)), 0.5, 1 / (1 + math.Exp(-3)), 1}, 1.2e-7, 0)
	checkClose(t, "Log", Log(FromSlice([]float32{0, -1, 1}, 3)), []float64{math.Inf(-1), nan64, 0}, 0, 0)
	checkClose(t, "Sqrt negative", Sqrt(FromSlice([]float32{-1, 4}, 2)), []float64{nan64, 2}, 0, 0)
	checkClose(t, "GtScalar NaN", GtScalar(x, 0), []float64{0, 0, 0, 0, 1, 1}, 0, 0)
	checkClose(t, "NeScalar NaN", NeScalar(x, 0), []float64{1, 1, 1, 0, 1, 1}, 0, 0)
	// Empty and scalar tensors go through unchanged shapes.
	checkShapeIs(t, "Exp empty", Exp(Zeros(0, 4)), 0, 4)
	if v := Exp(Scalar(0)).Item(); v != 1 {
		t.Fatalf("Exp(Scalar(0)) = %v", v)
	}
}
