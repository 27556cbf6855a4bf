package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/kernels"
	"github.com/vmdls-go/vmdls/tensor"
)

// Finite-difference checks of the convolution, pooling, normalization,
// resampling and dropout ops on small shapes.
func TestConvPoolNormGradients(t *testing.T) {
	cases := []struct {
		name   string
		f      func(xs []*Var) *Var
		inputs []*tensor.Tensor
	}{
		{"Conv2d s1 p1", func(xs []*Var) *Var { return Conv2d(xs[0], xs[1], xs[2], [2]int{1, 1}, [2]int{1, 1}) },
			[]*tensor.Tensor{randn(1, 2, 3, 5, 4), randn(2, 4, 3, 3, 3), randn(3, 4)}},
		{"Conv2d s2 p0 rect nobias", func(xs []*Var) *Var { return Conv2d(xs[0], xs[1], nil, [2]int{2, 1}, [2]int{0, 1}) },
			[]*tensor.Tensor{randn(4, 1, 2, 6, 5), randn(5, 3, 2, 2, 3)}},
		{"Conv2d 1x1", func(xs []*Var) *Var { return Conv2d(xs[0], xs[1], xs[2], [2]int{1, 1}, [2]int{0, 0}) },
			[]*tensor.Tensor{randn(6, 3, 4, 3, 3), randn(7, 2, 4, 1, 1), randn(8, 2)}},
		{"ConvTranspose2d k2 s2", func(xs []*Var) *Var {
			return ConvTranspose2d(xs[0], xs[1], xs[2], [2]int{2, 2}, [2]int{0, 0}, [2]int{0, 0})
		}, []*tensor.Tensor{randn(9, 2, 3, 3, 2), randn(10, 3, 2, 2, 2), randn(11, 2)}},
		{"ConvTranspose2d k3 s2 p1 op1", func(xs []*Var) *Var {
			return ConvTranspose2d(xs[0], xs[1], nil, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1})
		}, []*tensor.Tensor{randn(12, 1, 2, 3, 3), randn(13, 2, 3, 3, 3)}},
		{"MaxPool2d k3 s2 p1", func(xs []*Var) *Var { y, _ := MaxPool2d(xs[0], [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}); return y },
			[]*tensor.Tensor{distinct(14, 0, 2, 2, 5, 6)}},
		{"AvgPool2d k3 s2 p1 excl", func(xs []*Var) *Var { return AvgPool2d(xs[0], [2]int{3, 3}, [2]int{2, 2}, [2]int{1, 1}, false) },
			[]*tensor.Tensor{randn(15, 2, 2, 5, 6)}},
		{"AvgPool2d k2", func(xs []*Var) *Var { return AvgPool2d(xs[0], [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0}, true) },
			[]*tensor.Tensor{randn(16, 1, 3, 4, 5)}},
		{"GlobalAvgPool2d", func(xs []*Var) *Var { return GlobalAvgPool2d(xs[0]) },
			[]*tensor.Tensor{randn(17, 2, 3, 3, 2)}},
		{"UpsampleNearest2d 5x7", func(xs []*Var) *Var { return UpsampleNearest2d(xs[0], 5, 7, 0, 0) },
			[]*tensor.Tensor{randn(18, 1, 2, 3, 4)}},
		{"BatchNorm2d train", func(xs []*Var) *Var {
			return BatchNorm2d(xs[0], xs[1], xs[2], tensor.Zeros(3), tensor.Ones(3), true, 0.1, 1e-5)
		}, []*tensor.Tensor{randn(19, 3, 3, 2, 3), positive(20, 3), randn(21, 3)}},
		{"BatchNorm2d eval", func(xs []*Var) *Var {
			return BatchNorm2d(xs[0], xs[1], xs[2], randn(22, 3), positive(23, 3), false, 0.1, 1e-5)
		}, []*tensor.Tensor{randn(24, 2, 3, 2, 2), positive(25, 3), randn(26, 3)}},
		{"BatchNorm2d no stats no affine", func(xs []*Var) *Var {
			return BatchNorm2d(xs[0], nil, nil, nil, nil, false, 0.1, 1e-5)
		}, []*tensor.Tensor{randn(27, 4, 2, 3, 1)}},
		{"Dropout", func(xs []*Var) *Var {
			// A fresh source per evaluation: the same mask every time.
			return Dropout(xs[0], 0.3, true, rand.New(rand.NewPCG(5, 5)))
		}, []*tensor.Tensor{randn(28, 2, 3, 4)}},
	}
	for _, c := range cases {
		if err := CheckGrad(c.f, c.inputs, CheckOptions{}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestDropoutMaskStatistics(t *testing.T) {
	x := Const(tensor.Ones(200, 500))
	const p = 0.3
	y := Dropout(x, p, true, rand.New(rand.NewPCG(1, 2))).Value().Data()
	kept := 0
	for _, v := range y {
		switch v {
		case 0:
		case float32(1 / (1 - p)):
			kept++
		default:
			t.Fatalf("dropout output %v is neither 0 nor 1/(1-p)", v)
		}
	}
	// Binomial(1e5, 0.7): standard deviation about 145; allow 5 of them.
	if n := float64(len(y)); math.Abs(float64(kept)-0.7*n) > 5*math.Sqrt(n*0.21) {
		t.Errorf("kept %d of %d, expected about %v", kept, len(y), 0.7*n)
	}
	// Same seed, same mask; evaluation mode and p = 0 are the identity.
	y2 := Dropout(x, p, true, rand.New(rand.NewPCG(1, 2))).Value().Data()
	for i := range y {
		if y[i] != y2[i] {
			t.Fatal("same seed gave a different mask")
		}
	}
	if Dropout(x, p, false, nil) != x || Dropout(x, 0, true, nil) != x {
		t.Error("dropout in evaluation mode or with p = 0 is not the identity")
	}
	for _, v := range Dropout(x, 1, true, rand.New(rand.NewPCG(1, 2))).Value().Data() {
		if v != 0 {
			t.Fatal("dropout with p = 1 kept a value")
		}
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	x := randn(30, 4, 2, 3, 3)
	rm, rv := tensor.Zeros(2), tensor.Ones(2)
	BatchNorm2d(Const(x), nil, nil, rm, rv, true, 0.1, 1e-5)
	// Per channel: mean and unbiased variance over 4*9 values, mixed in
	// with momentum 0.1.
	d := x.Data()
	for c := 0; c < 2; c++ {
		var s, sq float64
		for n := 0; n < 4; n++ {
			for _, v := range d[(n*2+c)*9 : (n*2+c+1)*9] {
				s += float64(v)
			}
		}
		m := s / 36
		for n := 0; n < 4; n++ {
			for _, v := range d[(n*2+c)*9 : (n*2+c+1)*9] {
				sq += (float64(v) - m) * (float64(v) - m)
			}
		}
		if got, want := float64(rm.Data()[c]), 0.1*m; math.Abs(got-want) > 1e-6 {
			t.Errorf("running mean[%d] = %v, want %v", c, got, want)
		}
		if got, want := float64(rv.Data()[c]), 0.9+0.1*sq/35; math.Abs(got-want) > 1e-6 {
			t.Errorf("running var[%d] = %v, want %v", c, got, want)
		}
	}
	// A single value per channel cannot be normalized in training.
	if err := tensor.Catch(func() { BatchNorm2d(Const(tensor.Ones(1, 2, 1, 1)), nil, nil, rm, rv, true, 0.1, 1e-5) }); err == nil {
		t.Error("training batch norm of one value per channel did not fail")
	}
}

func TestConvShapeErrors(t *testing.T) {
	x := Const(tensor.Zeros(1, 3, 5, 5))
	for name, f := range map[string]func(){
		"channels":   func() { Conv2d(x, Const(tensor.Zeros(4, 2, 3, 3)), nil, [2]int{1, 1}, [2]int{0, 0}) },
		"kernel big": func() { Conv2d(x, Const(tensor.Zeros(4, 3, 7, 7)), nil, [2]int{1, 1}, [2]int{0, 0}) },
		"bias":       func() { Conv2d(x, Const(tensor.Zeros(4, 3, 3, 3)), Const(tensor.Zeros(3)), [2]int{1, 1}, [2]int{0, 0}) },
		"stride 0":   func() { Conv2d(x, Const(tensor.Zeros(4, 3, 3, 3)), nil, [2]int{0, 1}, [2]int{0, 0}) },
		"3-d input": func() {
			Conv2d(Const(tensor.Zeros(3, 5, 5)), Const(tensor.Zeros(4, 3, 3, 3)), nil, [2]int{1, 1}, [2]int{0, 0})
		},
		"pool pad": func() { MaxPool2d(x, [2]int{2, 2}, [2]int{2, 2}, [2]int{2, 2}) },
		"pool big": func() { AvgPool2d(x, [2]int{6, 6}, [2]int{1, 1}, [2]int{0, 0}, true) },
		"convT chans": func() {
			ConvTranspose2d(x, Const(tensor.Zeros(2, 3, 2, 2)), nil, [2]int{1, 1}, [2]int{0, 0}, [2]int{0, 0})
		},
		"convT outpad": func() {
			ConvTranspose2d(x, Const(tensor.Zeros(3, 3, 2, 2)), nil, [2]int{1, 1}, [2]int{0, 0}, [2]int{1, 1})
		},
		"bn channels": func() { BatchNorm2d(x, Const(tensor.Ones(2)), nil, nil, nil, true, 0.1, 1e-5) },
	} {
		err := tensor.Catch(f)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

// The fused convolution-and-ReLU gives the values and gradients of the two
// ops applied one after the other.
func TestConv2dReLUMatchesUnfused(t *testing.T) {
	x, w, b := randn(40, 3, 4, 6, 5), randn(41, 5, 4, 3, 3), randn(42, 5)
	g := randn(43, 3, 5, 6, 5)
	run := func(fused bool) []*tensor.Tensor {
		xv, wv, bv := Param(x), Param(w), Param(b)
		var y *Var
		if fused {
			y = Conv2dReLU(xv, wv, bv, [2]int{1, 1}, [2]int{1, 1})
		} else {
			y = Relu(Conv2d(xv, wv, bv, [2]int{1, 1}, [2]int{1, 1}))
		}
		if err := y.BackwardWith(g); err != nil {
			t.Fatal(err)
		}
		return []*tensor.Tensor{y.Value(), xv.Grad(), wv.Grad(), bv.Grad()}
	}
	a, b2 := run(true), run(false)
	for i, name := range []string{"output", "dx", "dw", "db"} {
		if !tensor.AllClose(a[i], b2[i], 0, 0) {
			t.Errorf("%s differs between fused and unfused", name)
		}
	}
}

// The fused batch norm + ReLU and batch norm + residual add + ReLU give
// exactly the values, gradients and running statistics of the ops composed,
// in training and evaluation.
func TestFusedReLUOpsMatchUnfused(t *testing.T) {
	x, gamma, beta, res := randn(50, 4, 3, 5, 2), positive(51, 3), randn(52, 3), randn(61, 4, 3, 5, 2)
	g := randn(53, 4, 3, 5, 2)
	for _, residual := range []bool{false, true} {
		for _, training := range []bool{true, false} {
			run := func(fused bool) []*tensor.Tensor {
				rm, rv := randn(54, 3), positive(55, 3)
				xv, gv, bv, r := Param(x), Param(gamma), Param(beta), Param(res)
				var y *Var
				switch {
				case fused && residual:
					y = BatchNorm2dAddReLU(xv, gv, bv, r, rm, rv, training, 0.1, 1e-5)
				case fused:
					y = BatchNorm2dReLU(xv, gv, bv, rm, rv, training, 0.1, 1e-5)
				case residual:
					y = Relu(Add(BatchNorm2d(xv, gv, bv, rm, rv, training, 0.1, 1e-5), r))
				default:
					y = Relu(BatchNorm2d(xv, gv, bv, rm, rv, training, 0.1, 1e-5))
				}
				if err := y.BackwardWith(g); err != nil {
					t.Fatal(err)
				}
				return []*tensor.Tensor{y.Value(), xv.Grad(), gv.Grad(), bv.Grad(), rm, rv, r.Grad()}
			}
			f, u := run(true), run(false)
			for i, name := range []string{"output", "dx", "dgamma", "dbeta", "running mean", "running var", "dresidual"} {
				if (f[i] == nil) != (u[i] == nil) || f[i] != nil && !tensor.AllClose(f[i], u[i], 0, 0) {
					t.Errorf("fused batch norm (residual %v, training %v): %s differs from the ops composed", residual, training, name)
				}
			}
			if n := tensor.Sum(tensor.GtScalar(f[0], 0), false).Item(); n == 0 || n == float32(f[0].Numel()) {
				t.Errorf("training %v: %v of %d outputs positive; the case must exercise both sides of the kink", training, n, f[0].Numel())
			}
		}
	}

	for _, c := range []struct {
		name string
		f    func(xs []*Var) *Var
	}{
		{"BatchNorm2dReLU", func(xs []*Var) *Var {
			return BatchNorm2dReLU(xs[0], xs[1], xs[2], tensor.Zeros(3), tensor.Ones(3), true, 0.1, 1e-5)
		}},
		{"BatchNorm2dAddReLU", func(xs []*Var) *Var {
			return BatchNorm2dAddReLU(xs[0], xs[1], nil, Mul(xs[0], xs[2]), tensor.Zeros(3), tensor.Ones(3), true, 0.1, 1e-5)
		}},
	} {
		if err := CheckGrad(c.f, []*tensor.Tensor{randn(58, 3, 3, 2, 3), positive(59, 3), randn(60, 3)}, CheckOptions{}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestConv2dForwardOnlyWhenNoGraph checks that a convolution asks for the
// forward-only algorithms (tensor.ConvOptions.ForwardOnly) exactly when no
// graph is recorded: under NoGrad, or when no input requires a gradient.
// The shape is one where the CPU's forward-only choice is F(4×4) Winograd,
// whose result differs in the last bits from the F(2×2) a recorded
// convolution gets, so the outputs tell which one ran.
func TestConv2dForwardOnlyWhenNoGraph(t *testing.T) {
	if p := kernels.ConvPath(); p != "auto" {
		t.Skipf("%s=%s forces one algorithm for every convolution", kernels.EnvConv, p)
	}
	r := rand.New(rand.NewPCG(7, 8))
	xt, wt, bt := tensor.Randn(r, 4, 64, 16, 16), tensor.Randn(r, 64, 64, 3, 3), tensor.Randn(r, 64)
	opts := func(forwardOnly, relu bool) tensor.ConvOptions {
		return tensor.ConvOptions{Stride: [2]int{1, 1}, Padding: [2]int{1, 1}, ReLU: relu, ForwardOnly: forwardOnly}
	}
	for _, relu := range []bool{false, true} {
		conv := Conv2d
		if relu {
			conv = Conv2dReLU
		}
		fwdOnly := tensor.Conv2dWith(xt, wt, bt, opts(true, relu)).Data()
		recorded := tensor.Conv2dWith(xt, wt, bt, opts(false, relu)).Data()
		if _, same := sameFloats(fwdOnly, recorded); same {
			t.Fatalf("relu %v: the forward-only and recorded algorithms agree bit for bit on this shape; pick one they differ on", relu)
		}
		cases := []struct {
			name        string
			x, w, b     *Var
			noGrad      bool
			forwardOnly bool
		}{
			{"constants", Const(xt), Const(wt), Const(bt), false, true},
			{"params under NoGrad", Const(xt), Param(wt), Param(bt), true, true},
			{"trainable weight", Const(xt), Param(wt), Const(bt), false, false},
			{"trainable bias only", Const(xt), Const(wt), Param(bt), false, false},
			{"input needs a gradient", Param(xt), Const(wt), Const(bt), false, false},
		}
		for _, c := range cases {
			var out *Var
			run := func() { out = conv(c.x, c.w, c.b, [2]int{1, 1}, [2]int{1, 1}) }
			if c.noGrad {
				NoGrad(run)
			} else {
				run()
			}
			want := recorded
			if c.forwardOnly {
				want = fwdOnly
			}
			if i, same := sameFloats(out.Value().Data(), want); !same {
				t.Errorf("relu %v, %s: output differs at %d from the ForwardOnly=%v convolution", relu, c.name, i, c.forwardOnly)
			}
			if got := out.RequiresGrad(); got == c.forwardOnly {
				t.Errorf("relu %v, %s: RequiresGrad %v, but ForwardOnly=%v ran", relu, c.name, got, c.forwardOnly)
			}
		}
	}
}

// sameFloats reports whether a and b are equal bit for bit, and else the
// first index where they differ.
func sameFloats(a, b []float32) (int, bool) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return 0, len(a) == len(b)
}
