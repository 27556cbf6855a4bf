package nn

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// stateKeys lists m's state_dict as "key=shape" ("key=" for a scalar).
func stateKeys(m Module) string {
	var keys []string
	for _, kv := range StateDict(m) {
		dims := make([]string, 0, 4)
		for _, d := range kv.Value.Shape() {
			dims = append(dims, strconv.Itoa(d))
		}
		keys = append(keys, kv.Name+"="+strings.Join(dims, "x"))
	}
	return strings.Join(keys, " ")
}

// The state_dict keys, order and shapes of PyTorch's modules.
func TestLayerStateDictMatchesPyTorch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	net := NewSequential(
		NewConv2d(rng, 3, 8, 3, 1, 1, true), NewBatchNorm2d(8, true), NewReLU(), NewMaxPool2d(2, 0, 0),
		NewConv2d(rng, 8, 4, 1, 1, 0, false), NewBatchNorm2d(4, false), NewDropout(0.5, rng),
		NewConvTranspose2d(rng, 4, 2, 2, 2, 0, true), NewUpsampleScale(2), NewAdaptiveAvgPool2d(1, 1),
		NewFlatten(), NewLinear(rng, 2, 5, true), NewLinear(rng, 5, 1, false))
	want := "0.weight=8x3x3x3 0.bias=8 1.weight=8 1.bias=8 1.running_mean=8 1.running_var=8 1.num_batches_tracked= " +
		"4.weight=4x8x1x1 5.running_mean=4 5.running_var=4 5.num_batches_tracked= " +
		"7.weight=4x2x2x2 7.bias=2 11.weight=5x2 11.bias=5 12.weight=1x5"
	if got := stateKeys(net); got != want {
		t.Errorf("state_dict\n got %s\nwant %s", got, want)
	}
	total, trainable := NumParams(net)
	if wantN := 8*27 + 8 + 16 + 32 + 32 + 2 + 10 + 5 + 5; total != wantN || trainable != wantN {
		t.Errorf("NumParams = %d, %d; want %d", total, trainable, wantN)
	}
	// A forward pass in each mode runs, and training counts batches.
	x := autograd.Const(tensor.Randn(rng, 2, 3, 8, 8))
	if sh := net.Forward(x).Shape(); len(sh) != 2 || sh[0] != 2 || sh[1] != 1 {
		t.Errorf("output shape %v, want [2 1]", sh)
	}
	bn := net.Layers[1].(*BatchNorm2d)
	if bn.NumBatchesTracked.Item() != 1 {
		t.Errorf("num_batches_tracked = %v after one training step", bn.NumBatchesTracked.Item())
	}
	SetTraining(net, false)
	net.Forward(x)
	if bn.NumBatchesTracked.Item() != 1 {
		t.Error("evaluation counted a batch")
	}
}

// The default and explicit initializers draw from PyTorch's distributions.
func TestInitializers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	stats := func(x *tensor.Tensor) (mean, std, maxAbs float64) {
		d := x.Data()
		for _, v := range d {
			mean += float64(v)
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		mean /= float64(len(d))
		for _, v := range d {
			std += (float64(v) - mean) * (float64(v) - mean)
		}
		return mean, math.Sqrt(std / float64(len(d))), maxAbs
	}
	// Conv2d(64, 128, 3): weight and bias uniform in ±1/sqrt(576).
	c := NewConv2d(rng, 64, 128, 3, 1, 1, true)
	bound := 1 / math.Sqrt(576)
	for _, p := range []*tensor.Tensor{c.Weight.Value(), c.Bias.Value()} {
		m, s, mx := stats(p)
		if mx > bound || mx < 0.95*bound || math.Abs(m) > 0.05*bound || math.Abs(s-bound/math.Sqrt(3)) > 0.1*bound {
			t.Errorf("conv init %v: mean %g std %g max %g, want uniform ±%g", p.Shape(), m, s, mx, bound)
		}
	}
	// ConvTranspose2d(16, 32, 2): PyTorch's fan-in is 32*2*2.
	ct := NewConvTranspose2d(rng, 16, 32, 2, 2, 0, true)
	if _, _, mx := stats(ct.Bias.Value()); mx > 1/math.Sqrt(128) {
		t.Errorf("conv-transpose bias max %g beyond 1/sqrt(128)", mx)
	}
	l := NewLinear(rng, 500, 300, true)
	if _, _, mx := stats(l.Weight.Value()); mx > 1/math.Sqrt(500) || mx < 0.95/math.Sqrt(500) {
		t.Errorf("linear weight max %g, want about 1/sqrt(500)", mx)
	}
	// kaiming_normal(fan_out, relu): std sqrt(2/(out*k*k)).
	w := tensor.Zeros(256, 128, 3, 3)
	KaimingNormal(w, rng, 0, FanOut, "relu")
	if m, s, _ := stats(w); math.Abs(m) > 0.01*s || math.Abs(s-math.Sqrt(2.0/(256*9))) > 0.01*s {
		t.Errorf("kaiming_normal: mean %g std %g, want 0 and %g", m, s, math.Sqrt(2.0/(256*9)))
	}
	Normal(w, rng, 1, 0.02)
	if m, s, _ := stats(w); math.Abs(m-1) > 1e-3 || math.Abs(s-0.02) > 1e-3 {
		t.Errorf("normal(1, 0.02): mean %g std %g", m, s)
	}
	Constant(w, 0.5)
	if m, s, _ := stats(w); m != 0.5 || s != 0 {
		t.Errorf("constant: mean %g std %g", m, s)
	}
	if in, out := Fans([]int{7, 5, 3, 2}); in != 30 || out != 42 {
		t.Errorf("Fans = %d, %d; want 30, 42", in, out)
	}
	if g := Gain("leaky_relu", math.Sqrt(5)); math.Abs(g-math.Sqrt(1.0/3)) > 1e-15 {
		t.Errorf("leaky_relu gain %g", g)
	}
	// Same seed, same weights.
	a := NewConv2d(rand.New(rand.NewPCG(9, 9)), 3, 4, 3, 1, 1, true)
	b := NewConv2d(rand.New(rand.NewPCG(9, 9)), 3, 4, 3, 1, 1, true)
	if !tensor.AllClose(a.Weight.Value(), b.Weight.Value(), 0, 0) || !tensor.AllClose(a.Bias.Value(), b.Bias.Value(), 0, 0) {
		t.Error("the same seed gave different weights")
	}
}

func TestDropoutModuleModes(t *testing.T) {
	d := NewDropout(0.5, rand.New(rand.NewPCG(1, 1)))
	x := autograd.Const(tensor.Ones(1000))
	zeros := 0
	for _, v := range d.Forward(x).Value().Data() {
		if v == 0 {
			zeros++
		}
	}
	if zeros < 400 || zeros > 600 {
		t.Errorf("training dropout zeroed %d of 1000 at p = 0.5", zeros)
	}
	SetTraining(d, false)
	if d.Forward(x) != x {
		t.Error("evaluation dropout is not the identity")
	}
}

func TestLayerShapeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := autograd.Const(tensor.Zeros(2, 3, 4, 4))
	for name, f := range map[string]func(){
		"conv channels": func() { NewConv2d(rng, 4, 2, 3, 1, 1, true).Forward(x) },
		"bn channels":   func() { NewBatchNorm2d(5, true).Forward(x) },
		"linear in":     func() { NewLinear(rng, 7, 2, true).Forward(autograd.Const(tensor.Zeros(2, 6))) },
		"adaptive":      func() { NewAdaptiveAvgPool2d(3, 3).Forward(x) },
		"mse":           func() { MSELoss(x, autograd.Const(tensor.Zeros(2, 3, 4, 5))) },
	} {
		if err := tensor.Catch(f); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// Sequential fuses Conv2d+ReLU and BatchNorm2d+ReLU; the result, the
// gradients and the running statistics must be those of the layers run
// one by one.
func TestSequentialFusionMatchesLayerByLayer(t *testing.T) {
	build := func() *Sequential {
		rng := rand.New(rand.NewPCG(7, 8))
		return NewSequential(NewConv2d(rng, 2, 4, 3, 1, 1, true), NewReLU(),
			NewConv2d(rng, 4, 4, 3, 1, 1, false), NewBatchNorm2d(4, true), NewReLU(),
			NewBatchNorm2d(4, true), NewReLU())
	}
	x := tensor.Randn(rand.New(rand.NewPCG(9, 10)), 3, 2, 5, 5)
	w := tensor.Randn(rand.New(rand.NewPCG(11, 12)), 3, 4, 5, 5)
	fused, plain := build(), build()
	yf := fused.Forward(autograd.Const(x))
	yp := autograd.Const(x)
	for _, l := range plain.Layers {
		yp = l.Forward(yp)
	}
	if !tensor.AllClose(yf.Value(), yp.Value(), 0, 0) {
		t.Fatal("fused Sequential output differs from the layers run one by one")
	}
	for _, y := range []*autograd.Var{yf, yp} {
		if err := autograd.Sum(autograd.Mul(y, autograd.Const(w)), false).Backward(); err != nil {
			t.Fatal(err)
		}
	}
	sf, sp := StateDict(fused), StateDict(plain)
	pf, pp := Parameters(fused), Parameters(plain)
	for i := range sf {
		if !tensor.AllClose(sf[i].Value, sp[i].Value, 0, 0) {
			t.Errorf("%s differs after the forward pass", sf[i].Name)
		}
	}
	for i := range pf {
		if !tensor.AllClose(pf[i].Grad(), pp[i].Grad(), 0, 0) {
			t.Errorf("gradient %d differs", i)
		}
	}
}
