package autograd

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"weak"

	"github.com/vmdls-go/vmdls/tensor"
)

func randn(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.Randn(rand.New(rand.NewPCG(seed, 1)), shape...)
}

// awayFromZero pushes every element at least 0.2 from 0 (keeping its sign),
// so that finite differences never straddle a kink at 0.
func awayFromZero(t *tensor.Tensor) *tensor.Tensor {
	d := t.Data()
	for i, v := range d {
		if v >= 0 {
			d[i] = v + 0.2
		} else {
			d[i] = v - 0.2
		}
	}
	return t
}

// positive maps elements to [0.5, 2.5).
func positive(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.Uniform(rand.New(rand.NewPCG(seed, 2)), 0.5, 2.5, shape...)
}

// distinct gives elements 0.1 apart in a shuffled order, shifted by offset,
// so that max/min have no ties closer than the finite-difference step; two
// operands compared elementwise get offsets that differ by 0.05.
func distinct(seed uint64, offset float32, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	d := t.Data()
	rng := rand.New(rand.NewPCG(seed, 3))
	for i, p := range rng.Perm(len(d)) {
		d[i] = float32(p)*0.1 - 0.5 + offset
	}
	return t
}

func TestGradients(t *testing.T) {
	cases := []struct {
		name   string
		inputs []*tensor.Tensor
		f      func(x []*Var) *Var
	}{
		{"Add", []*tensor.Tensor{randn(1, 3, 4), randn(2, 3, 4)}, func(x []*Var) *Var { return Add(x[0], x[1]) }},
		{"AddBroadcast", []*tensor.Tensor{randn(1, 2, 3, 4), randn(2, 3, 1)}, func(x []*Var) *Var { return Add(x[0], x[1]) }},
		{"AddScalarShaped", []*tensor.Tensor{randn(1, 3, 4), randn(2)}, func(x []*Var) *Var { return Add(x[0], x[1]) }},
		{"Sub", []*tensor.Tensor{randn(1, 2, 1, 4), randn(2, 1, 3, 1)}, func(x []*Var) *Var { return Sub(x[0], x[1]) }},
		{"Mul", []*tensor.Tensor{randn(1, 3, 4), randn(2, 4)}, func(x []*Var) *Var { return Mul(x[0], x[1]) }},
		{"Div", []*tensor.Tensor{randn(1, 3, 4), positive(2, 3, 1)}, func(x []*Var) *Var { return Div(x[0], x[1]) }},
		{"Pow", []*tensor.Tensor{positive(1, 3, 4), randn(2, 4)}, func(x []*Var) *Var { return Pow(x[0], x[1]) }},
		{"Maximum", []*tensor.Tensor{distinct(1, 0, 3, 4), distinct(2, 0.05, 4)}, func(x []*Var) *Var { return Maximum(x[0], x[1]) }},
		{"Minimum", []*tensor.Tensor{distinct(1, 0, 3, 4), distinct(2, 0.05, 3, 1)}, func(x []*Var) *Var { return Minimum(x[0], x[1]) }},
		{"AddScalar", []*tensor.Tensor{randn(1, 5)}, func(x []*Var) *Var { return AddScalar(x[0], 1.5) }},
		{"MulScalar", []*tensor.Tensor{randn(1, 5)}, func(x []*Var) *Var { return MulScalar(x[0], -2.5) }},
		{"PowScalarHalf", []*tensor.Tensor{positive(1, 5)}, func(x []*Var) *Var { return PowScalar(x[0], 0.5) }},
		{"PowScalarCube", []*tensor.Tensor{randn(1, 5)}, func(x []*Var) *Var { return PowScalar(x[0], 3) }},
		{"PowScalarNegative", []*tensor.Tensor{positive(1, 5)}, func(x []*Var) *Var { return PowScalar(x[0], -1.5) }},
		{"Neg", []*tensor.Tensor{randn(1, 5)}, func(x []*Var) *Var { return Neg(x[0]) }},
		{"Exp", []*tensor.Tensor{randn(1, 2, 3)}, func(x []*Var) *Var { return Exp(x[0]) }},
		{"Log", []*tensor.Tensor{positive(1, 2, 3)}, func(x []*Var) *Var { return Log(x[0]) }},
		{"Sqrt", []*tensor.Tensor{positive(1, 2, 3)}, func(x []*Var) *Var { return Sqrt(x[0]) }},
		{"Square", []*tensor.Tensor{randn(1, 2, 3)}, func(x []*Var) *Var { return Square(x[0]) }},
		{"Abs", []*tensor.Tensor{awayFromZero(randn(1, 2, 3))}, func(x []*Var) *Var { return Abs(x[0]) }},
		{"Relu", []*tensor.Tensor{awayFromZero(randn(1, 2, 3))}, func(x []*Var) *Var { return Relu(x[0]) }},
		{"Sigmoid", []*tensor.Tensor{randn(1, 2, 3)}, func(x []*Var) *Var { return Sigmoid(x[0]) }},
		{"Tanh", []*tensor.Tensor{randn(1, 2, 3)}, func(x []*Var) *Var { return Tanh(x[0]) }},
		{"Clamp", []*tensor.Tensor{tensor.FromSlice([]float32{-2, -0.7, -0.2, 0.3, 0.8, 1.9}, 2, 3)},
			func(x []*Var) *Var { return Clamp(x[0], -0.5, 0.5) }},
		{"Where", []*tensor.Tensor{randn(1, 3, 4), randn(2, 4)}, func(x []*Var) *Var {
			mask := tensor.GtScalar(randn(9, 3, 1), 0)
			return Where(mask, x[0], x[1])
		}},
		{"SumAll", []*tensor.Tensor{randn(1, 2, 3, 4)}, func(x []*Var) *Var { return Sum(x[0], false) }},
		{"SumAxes", []*tensor.Tensor{randn(1, 2, 3, 4)}, func(x []*Var) *Var { return Sum(x[0], false, 0, 2) }},
		{"SumKeep", []*tensor.Tensor{randn(1, 2, 3, 4)}, func(x []*Var) *Var { return Sum(x[0], true, -1) }},
		{"Mean", []*tensor.Tensor{randn(1, 2, 3, 4)}, func(x []*Var) *Var { return Mean(x[0], false, 1) }},
		{"MeanAllKeep", []*tensor.Tensor{randn(1, 2, 3)}, func(x []*Var) *Var { return Mean(x[0], true) }},
		{"Max", []*tensor.Tensor{distinct(1, 0, 3, 4, 2)}, func(x []*Var) *Var { v, _ := Max(x[0], 1, false); return v }},
		{"MinKeep", []*tensor.Tensor{distinct(1, 0, 3, 4)}, func(x []*Var) *Var { v, _ := Min(x[0], 0, true); return v }},
		{"LogSumExp", []*tensor.Tensor{randn(1, 3, 5)}, func(x []*Var) *Var { return LogSumExp(x[0], 1, false) }},
		{"Softmax", []*tensor.Tensor{randn(1, 3, 5)}, func(x []*Var) *Var { return Softmax(x[0], -1) }},
		{"LogSoftmax", []*tensor.Tensor{randn(1, 4, 3)}, func(x []*Var) *Var { return LogSoftmax(x[0], 0) }},
		{"Reshape", []*tensor.Tensor{randn(1, 2, 6)}, func(x []*Var) *Var { return Mul(Reshape(x[0], 3, -1), Const(randn(5, 3, 4))) }},
		{"Flatten", []*tensor.Tensor{randn(1, 2, 3, 2)}, func(x []*Var) *Var { return Flatten(x[0], 1, 2) }},
		{"Permute", []*tensor.Tensor{randn(1, 2, 3, 4)}, func(x []*Var) *Var { return Permute(x[0], 2, 0, 1) }},
		{"Transpose", []*tensor.Tensor{randn(1, 2, 3, 4)}, func(x []*Var) *Var { return Transpose(x[0], 0, 2) }},
		{"Narrow", []*tensor.Tensor{randn(1, 3, 6)}, func(x []*Var) *Var { return Narrow(x[0], 1, 2, 3) }},
		{"Slice", []*tensor.Tensor{randn(1, 5, 2)}, func(x []*Var) *Var { return Slice(x[0], 1, 3) }},
		{"IndexSelect", []*tensor.Tensor{randn(1, 4, 3)}, func(x []*Var) *Var { return IndexSelect(x[0], 0, []int{3, 0, 3, 1}) }},
		{"IndexSelectInner", []*tensor.Tensor{randn(1, 2, 4)}, func(x []*Var) *Var { return IndexSelect(x[0], 1, []int{2, 2, 0}) }},
		{"Concat", []*tensor.Tensor{randn(1, 2, 3), randn(2, 2, 1)}, func(x []*Var) *Var { return Concat(1, x[0], x[1]) }},
		{"Stack", []*tensor.Tensor{randn(1, 2, 3), randn(2, 2, 3)}, func(x []*Var) *Var { return Stack(2, x[0], x[1]) }},
		{"Expand", []*tensor.Tensor{randn(1, 3, 1)}, func(x []*Var) *Var { return Expand(x[0], 2, 3, 4) }},
		{"MatMul", []*tensor.Tensor{randn(1, 3, 5), randn(2, 5, 4)}, func(x []*Var) *Var { return MatMul(x[0], x[1]) }},
		{"MatMulBatched", []*tensor.Tensor{randn(1, 2, 3, 5), randn(2, 5, 4)}, func(x []*Var) *Var { return MatMul(x[0], x[1]) }},
		{"MatMulBroadcast", []*tensor.Tensor{randn(1, 2, 1, 3, 5), randn(2, 3, 5, 2)}, func(x []*Var) *Var { return MatMul(x[0], x[1]) }},
		{"MatMulTA", []*tensor.Tensor{randn(1, 5, 3), randn(2, 5, 4)}, func(x []*Var) *Var { return MatMulT(x[0], x[1], true, false) }},
		{"MatMulTB", []*tensor.Tensor{randn(1, 3, 5), randn(2, 4, 5)}, func(x []*Var) *Var { return MatMulT(x[0], x[1], false, true) }},
		{"MatMulTAB", []*tensor.Tensor{randn(1, 2, 5, 3), randn(2, 2, 4, 5)}, func(x []*Var) *Var { return MatMulT(x[0], x[1], true, true) }},
		{"Linear", []*tensor.Tensor{randn(1, 4, 3), randn(2, 5, 3), randn(3, 5)}, func(x []*Var) *Var { return Linear(x[0], x[1], x[2]) }},
		{"LinearNoBias", []*tensor.Tensor{randn(1, 4, 3), randn(2, 5, 3)}, func(x []*Var) *Var { return Linear(x[0], x[1], nil) }},
		{"Composite", []*tensor.Tensor{randn(1, 4, 3), randn(2, 3, 2)}, func(x []*Var) *Var {
			// x used twice, a softmax over a product: shared inputs accumulate.
			h := Tanh(MatMul(x[0], x[1]))
			return Mul(LogSoftmax(h, 1), Sum(Square(x[0]), true, 1))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckGrad(c.f, c.inputs, CheckOptions{Seed: 7}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCheckGradCatchesWrongGradient makes sure the checker can fail: an op
// whose backward is off by a factor must be reported.
func TestCheckGradCatchesWrongGradient(t *testing.T) {
	wrongSquare := func(x []*Var) *Var {
		a := x[0]
		return record("WrongSquare", tensor.Square(a.value), func(g *tensor.Tensor) []*tensor.Tensor {
			return []*tensor.Tensor{tensor.Mul(g, tensor.MulScalar(a.value, 2.1))}
		}, a)
	}
	if err := CheckGrad(wrongSquare, []*tensor.Tensor{randn(1, 4)}, CheckOptions{Seed: 1}); err == nil {
		t.Fatal("CheckGrad accepted a gradient 5% too large")
	}
}

func TestGradientsAccumulateAcrossBackward(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, 2, 3}, 3))
	for range 2 {
		if err := Sum(MulScalar(x, 3), false).Backward(); err != nil {
			t.Fatal(err)
		}
	}
	for i, g := range x.Grad().Data() {
		if g != 6 {
			t.Fatalf("grad[%d] = %v after two backward passes of 3*x, want 6", i, g)
		}
	}
	x.ZeroGrad()
	if x.Grad() != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
}

func TestSharedInputGradient(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, -2, 3}, 3))
	y := Sum(Add(Mul(x, x), x), false) // d/dx = 2x + 1
	if err := y.Backward(); err != nil {
		t.Fatal(err)
	}
	want := []float32{3, -3, 7}
	for i, g := range x.Grad().Data() {
		if g != want[i] {
			t.Fatalf("grad = %v, want %v", x.Grad().Data(), want)
		}
	}
}

func TestBackwardTwiceIsAnError(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, 2}, 2))
	y := Sum(Exp(x), false)
	if err := y.Backward(); err != nil {
		t.Fatal(err)
	}
	if err := y.Backward(); !errors.Is(err, ErrReleased) {
		t.Fatalf("second Backward: err = %v, want ErrReleased", err)
	}
}

func TestBackwardErrors(t *testing.T) {
	x := Param(tensor.Ones(2, 2))
	if err := Exp(x).Backward(); err == nil {
		t.Error("Backward from a [2 2] Var succeeded; it needs a scalar")
	}
	c := Const(tensor.Ones(1))
	if err := Exp(c).Backward(); err == nil {
		t.Error("Backward from a Var that requires no gradient succeeded")
	}
	if err := Exp(x).BackwardWith(tensor.Ones(3)); err == nil {
		t.Error("BackwardWith a gradient of the wrong shape succeeded")
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	x := Param(tensor.Ones(3))
	var y *Var
	NoGrad(func() {
		if GradEnabled() {
			t.Error("GradEnabled inside NoGrad")
		}
		y = Exp(x)
	})
	if !GradEnabled() {
		t.Error("NoGrad did not restore gradient recording")
	}
	if y.RequiresGrad() || !y.IsLeaf() {
		t.Fatalf("Var made under NoGrad: requiresGrad=%v leaf=%v, want false, true", y.RequiresGrad(), y.IsLeaf())
	}
	if math.Abs(float64(y.Value().Data()[0])-math.E) > 1e-6 {
		t.Fatalf("NoGrad changed the value: %v", y.Value().Data())
	}
}

func TestDetachCutsTheGraph(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{2}, 1))
	y := Mul(x, x.Detach()) // d/dx treats the detached copy as a constant: grad = x
	if err := Sum(y, false).Backward(); err != nil {
		t.Fatal(err)
	}
	if g := x.Grad().Data()[0]; g != 2 {
		t.Fatalf("grad through a detached factor = %v, want 2", g)
	}
	if x.Detach().Value() != x.Value() {
		t.Fatal("Detach copied the value; it should share it")
	}
}

func TestFrozenLeafGetsNoGradient(t *testing.T) {
	w := Param(tensor.Ones(2))
	b := Param(tensor.Ones(2))
	w.SetRequiresGrad(false)
	if err := Sum(Mul(w, b), false).Backward(); err != nil {
		t.Fatal(err)
	}
	if w.Grad() != nil {
		t.Fatal("a frozen leaf received a gradient")
	}
	if b.Grad() == nil {
		t.Fatal("the trainable leaf received no gradient")
	}
}

// TestDeepGraph checks that Backward walks a long chain without recursion.
func TestDeepGraph(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1}, 1))
	y := x
	const depth = 100000
	for range depth {
		y = AddScalar(y, 1e-6)
	}
	if err := Sum(y, false).Backward(); err != nil {
		t.Fatal(err)
	}
	if g := x.Grad().Data()[0]; g != 1 {
		t.Fatalf("grad through %d additions = %v, want 1", depth, g)
	}
}

// TestCustomOp checks that a caller-defined op (x -> x*x*y, summed) takes
// part in Backward like a built-in one, and that a wrong closed form fails.
func TestCustomOp(t *testing.T) {
	cube := func(scale float32) func(xs []*Var) *Var {
		return func(xs []*Var) *Var {
			x, y := xs[0].Value().Data(), xs[1].Value().Data()
			out := make([]float32, len(x))
			for i := range x {
				out[i] = x[i] * x[i] * y[i]
			}
			return Custom("cube", tensor.FromSlice(out, xs[0].Shape()...), func(g *tensor.Tensor) []*tensor.Tensor {
				gd := g.Data()
				gx, gy := make([]float32, len(x)), make([]float32, len(x))
				for i := range x {
					gx[i] = scale * 2 * x[i] * y[i] * gd[i]
					gy[i] = x[i] * x[i] * gd[i]
				}
				return []*tensor.Tensor{tensor.FromSlice(gx, xs[0].Shape()...), tensor.FromSlice(gy, xs[1].Shape()...)}
			}, xs...)
		}
	}
	in := []*tensor.Tensor{randn(3, 4, 5), randn(4, 4, 5)}
	if err := CheckGrad(cube(1), in, CheckOptions{}); err != nil {
		t.Fatalf("custom op: %v", err)
	}
	if err := CheckGrad(cube(1.1), in, CheckOptions{}); err == nil {
		t.Fatal("a custom op whose backward is 10% off passed the gradient check")
	}
}

// The graph holds what backward reads and nothing else: an intermediate
// result whose consumers need only its shape (here an Add) is freed once
// its user drops it, before Backward runs, as in PyTorch.
func TestGraphFreesUnneededValues(t *testing.T) {
	x := Param(randn(70, 64, 64))
	a := Mul(x, Const(randn(71, 64, 64))) // Mul keeps the constant, not a
	freed := weak.Make(a.Value())
	kept := Exp(a) // Exp keeps its output
	keptOut := weak.Make(kept.Value())
	loss := Sum(Add(kept, Const(randn(72, 64, 64))), false)
	a, kept = nil, nil
	runtime.GC()
	if freed.Value() != nil {
		t.Error("the graph keeps Mul's output alive though no backward reads it")
	}
	if keptOut.Value() == nil {
		t.Fatal("Exp's output was freed though its backward reads it")
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	if x.Grad() == nil {
		t.Fatal("no gradient reached x")
	}
}
