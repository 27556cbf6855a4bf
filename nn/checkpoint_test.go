package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/tensor"
)

// ckMod is a bare module for checkpoint tests: named state only, so the
// tests do not depend on the layers' implementations.
type ckMod struct{ Base }

func (m *ckMod) Forward(x *autograd.Var) *autograd.Var { return x }

// ckNet has the state_dict of PyTorch's
// Sequential(Linear(6, 4), BatchNorm1d(4), ReLU(), Linear(4, 3)).
func ckNet(seed uint64, outFeatures int) *ckMod {
	src := rand.New(rand.NewPCG(seed, 1))
	root := &ckMod{}
	l0 := &ckMod{}
	l0.RegisterParam("weight", autograd.Param(tensor.Randn(src, 4, 6)))
	l0.RegisterParam("bias", autograd.Param(tensor.Randn(src, 4)))
	bn := &ckMod{}
	bn.RegisterParam("weight", autograd.Param(tensor.Randn(src, 4)))
	bn.RegisterParam("bias", autograd.Param(tensor.Randn(src, 4)))
	bn.RegisterBuffer("running_mean", tensor.Randn(src, 4))
	bn.RegisterBuffer("running_var", tensor.Rand(src, 4))
	bn.RegisterBuffer("num_batches_tracked", tensor.Scalar(float32(seed%100)))
	l3 := &ckMod{}
	l3.RegisterParam("weight", autograd.Param(tensor.Randn(src, outFeatures, 4)))
	l3.RegisterParam("bias", autograd.Param(tensor.Randn(src, outFeatures)))
	root.RegisterModule("0", l0)
	root.RegisterModule("1", bn)
	root.RegisterModule("3", l3)
	return root
}

func stateValues(m Module) map[string][]float32 {
	out := map[string][]float32{}
	for _, e := range StateDict(m) {
		out[e.Name] = append([]float32(nil), e.Value.Data()...)
	}
	return out
}

func sameState(t *testing.T, a, b Module) {
	t.Helper()
	va, vb := stateValues(a), stateValues(b)
	for k, x := range va {
		y := vb[k]
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s[%d]: %v vs %v", k, i, x[i], y[i])
			}
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	a := ckNet(1, 3)
	stats := safetensors.FromFloat64("class_mean", []int{2, 2}, []float64{0.1, 0.2, 0.3, math.Pi})
	err := SaveCheckpoint(path, a, &SaveOptions{Extra: []safetensors.Tensor{stats}, Metadata: map[string]string{"epoch": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	b := ckNet(2, 3)
	c, r, err := LoadCheckpoint(path, b, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || len(r.Loaded) != 9 {
		t.Errorf("report %+v", r)
	}
	sameState(t, a, b)
	if c.Metadata["epoch"] != "7" {
		t.Errorf("metadata %v", c.Metadata)
	}
	x, ok := c.Extra("class_mean")
	if v, err := x.Float64s(); !ok || err != nil || v[3] != math.Pi {
		t.Errorf("extra: %v %v %v", ok, v, err)
	}
	// PyTorch's dtype for the batch counter.
	n, _ := c.File.Get("1.num_batches_tracked")
	if n.DType != safetensors.I64 {
		t.Errorf("num_batches_tracked stored as %s", n.DType)
	}
	if c.HasOptimizer() {
		t.Error("HasOptimizer without optimizer state")
	}
	if err := SaveCheckpoint(path, a, &SaveOptions{Metadata: map[string]string{"optimizer": "x"}}); err == nil {
		t.Error("reserved metadata key accepted")
	}
}

func TestCheckpointStrictAndNonStrict(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.safetensors")
	src := ckNet(1, 3)
	if err := SaveCheckpoint(path, src, nil); err != nil {
		t.Fatal(err)
	}
	// A model with a different head (10 classes), an extra parameter and
	// no bias in the first layer: what fine-tuning from a classifier meets.
	dst := &ckMod{}
	l0 := &ckMod{}
	l0.RegisterParam("weight", autograd.Param(tensor.Zeros(4, 6)))
	bn := Children(ckNet(3, 3))[1].Value
	l3 := &ckMod{}
	l3.RegisterParam("weight", autograd.Param(tensor.Zeros(10, 4)))
	l3.RegisterParam("bias", autograd.Param(tensor.Zeros(10)))
	extra := &ckMod{}
	extra.RegisterParam("scale", autograd.Param(tensor.Zeros(1)))
	dst.RegisterModule("0", l0)
	dst.RegisterModule("1", bn)
	dst.RegisterModule("3", l3)
	dst.RegisterModule("head", extra)
	before := stateValues(dst)

	_, _, err := LoadCheckpoint(path, dst, true)
	var sde *StateDictError
	if !errors.As(err, &sde) {
		t.Fatalf("strict load of a mismatched model: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{path, "missing key head.scale", "unexpected key 0.bias",
		"3.weight: the model expects shape [10 4], the file has [3 4]", "3.bias: the model expects shape [10], the file has [3]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for k, v := range stateValues(dst) {
		for i := range v {
			if v[i] != before[k][i] {
				t.Fatalf("failed strict load changed %s", k)
			}
		}
	}

	_, r, err := LoadCheckpoint(path, dst, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Missing, ",") != "head.scale" || strings.Join(r.Unexpected, ",") != "0.bias" || len(r.Mismatched) != 2 {
		t.Errorf("report %+v", r)
	}
	if len(r.Loaded) != 6 {
		t.Errorf("loaded %v", r.Loaded)
	}
	want := stateValues(src)
	got := stateValues(dst)
	for _, k := range r.Loaded {
		for i := range want[k] {
			if got[k][i] != want[k][i] {
				t.Fatalf("%s not loaded", k)
			}
		}
	}
	if got["3.weight"][0] != 0 {
		t.Error("mismatched key was loaded")
	}
}

func TestCheckpointDTypeMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.safetensors")
	m := ckNet(1, 3)
	var ts []safetensors.Tensor
	for _, e := range StateDict(m) {
		ts = append(ts, safetensors.FromFloat32(e.Name, e.Value.Shape(), e.Value.Data())) // the counter as F32
	}
	ts[0] = safetensors.FromFloat64("0.weight", []int{4, 6}, make([]float64, 24))
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadCheckpoint(path, ckNet(2, 3), true)
	if err == nil || !strings.Contains(err.Error(), "0.weight: the model expects dtype F32, the file has F64") ||
		!strings.Contains(err.Error(), "1.num_batches_tracked: the model expects dtype I64, the file has F32") {
		t.Errorf("dtype mismatch: %v", err)
	}
	big := safetensors.FromInt64("1.num_batches_tracked", nil, []int64{1 << 30})
	for i := range ts {
		if ts[i].Name == big.Name {
			ts[i] = big
		}
	}
	ts[0] = safetensors.FromFloat32("0.weight", []int{4, 6}, make([]float32, 24))
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCheckpoint(path, ckNet(2, 3), true); err == nil || !strings.Contains(err.Error(), "2^24") {
		t.Errorf("huge counter: %v", err)
	}
}

func TestCheckpointBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveCheckpoint(good, ckNet(1, 3), nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	for name, data := range map[string][]byte{
		"truncated": b[:len(b)-3],
		"header":    b[:20],
		"empty":     nil,
		// Bytes appended to a checkpoint (a second file concatenated, a
		// torn copy) are refused rather than silently ignored.
		"appended": append(b[:len(b):len(b)], "junk"...),
	} {
		p := filepath.Join(dir, name+".safetensors")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadCheckpoint(p, ckNet(1, 3), false); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A directory is refused before it is opened, naming the path.
	if _, err := ReadCheckpoint(dir); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

// trainSteps runs n steps of a toy objective (sum of squares of the
// parameters times fixed weights) through autograd and opt, stepping the
// schedule after every step.
func trainSteps(t *testing.T, m Module, opt Optimizer, s *StepLR, n int) {
	t.Helper()
	for range n {
		opt.ZeroGrad()
		var loss *autograd.Var
		for i, p := range Parameters(m) {
			w := tensor.Full(float32(i+1)*0.1, p.Shape()...)
			term := autograd.Sum(autograd.Mul(autograd.Mul(p, p), autograd.Const(w)), false)
			if loss == nil {
				loss = term
			} else {
				loss = autograd.Add(loss, term)
			}
		}
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		opt.Step()
		s.Step()
	}
}

// TestCheckpointResume: training 6 steps straight and training 3, saving,
// loading into fresh objects and training 3 more give identical bits.
func TestCheckpointResume(t *testing.T) {
	makers := map[string]func(m Module) Optimizer{
		"sgd": func(m Module) Optimizer {
			ps := Parameters(m)
			o, err := NewSGD(ps[:4], SGDOptions{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4})
			if err != nil {
				t.Fatal(err)
			}
			if err := o.AddGroup(ps[4:], SGDOptions{LR: 0.01, Momentum: 0.5, Dampening: 0.1}); err != nil {
				t.Fatal(err)
			}
			return o
		},
		"adam": func(m Module) Optimizer {
			ps := Parameters(m)
			o, err := NewAdam(ps[:2], AdamOptions{LR: 0.01, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8, AMSGrad: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := o.AddGroup(ps[2:], DefaultAdamOptions()); err != nil {
				t.Fatal(err)
			}
			return o
		},
	}
	for name, mk := range makers {
		t.Run(name, func(t *testing.T) {
			ref := ckNet(5, 3)
			ro := mk(ref)
			rs, _ := NewStepLR(ro, 2, 0.5)
			trainSteps(t, ref, ro, rs, 6)

			a := ckNet(5, 3)
			ao := mk(a)
			as, _ := NewStepLR(ao, 2, 0.5)
			trainSteps(t, a, ao, as, 3)
			path := filepath.Join(t.TempDir(), "resume.safetensors")
			if err := SaveCheckpoint(path, a, &SaveOptions{Optimizer: ao, Scheduler: as, Metadata: map[string]string{"epoch": "1"}}); err != nil {
				t.Fatal(err)
			}

			b := ckNet(9, 3) // different initial values: all must come from the file
			c, _, err := LoadCheckpoint(path, b, true)
			if err != nil {
				t.Fatal(err)
			}
			bo := mk(b)
			bs, _ := NewStepLR(bo, 2, 0.5)
			if err := c.LoadOptimizer(bo); err != nil {
				t.Fatal(err)
			}
			if err := c.LoadScheduler(bs); err != nil {
				t.Fatal(err)
			}
			if bo.LR(0) != ao.LR(0) || bs.LastEpoch() != as.LastEpoch() {
				t.Fatalf("lr %v epoch %d after loading, saved %v %d", bo.LR(0), bs.LastEpoch(), ao.LR(0), as.LastEpoch())
			}
			trainSteps(t, b, bo, bs, 3)
			sameState(t, ref, b)
			if bo.LR(1) != ro.LR(1) {
				t.Errorf("lr %v after resuming, %v straight", bo.LR(1), ro.LR(1))
			}

			// The optimizer state does not fit an optimizer of another kind
			// or over other parameters.
			other := "adam"
			if name == "adam" {
				other = "sgd"
			}
			if err := c.LoadOptimizer(makers[other](ckNet(1, 3))); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("loading %s state into %s: %v", name, other, err)
			}
			if err := c.LoadOptimizer(mk(ckNet(1, 7))); err == nil || !strings.Contains(err.Error(), "shape") {
				t.Errorf("loading into other shapes: %v", err)
			}
		})
	}
}

// TestConvertedPyTorchModel loads the file the Python converter wrote from
// a PyTorch checkpoint (gen_convert.py) and checks the model's outputs
// against PyTorch's, computed here with tensor ops.
func TestConvertedPyTorchModel(t *testing.T) {
	m := ckNet(1, 3)
	c, r, err := LoadCheckpoint(filepath.Join("testdata", "convert_model.safetensors"), m, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Loaded) != 9 || c.Metadata["epoch"] != "5" {
		t.Fatalf("report %+v, metadata %v", r, c.Metadata)
	}
	io, err := safetensors.ReadFile(filepath.Join("testdata", "convert_io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	xt, _ := io.Get("x")
	yt, _ := io.Get("y")
	xv, _ := xt.Float32s()
	yv, _ := yt.Float32s()
	sd := map[string]*tensor.Tensor{}
	for _, e := range StateDict(m) {
		sd[e.Name] = e.Value
	}
	if sd["1.num_batches_tracked"].Item() != 3 {
		t.Errorf("num_batches_tracked %v, want 3", sd["1.num_batches_tracked"].Item())
	}
	h := tensor.Linear(tensor.FromSlice(xv, xt.Shape...), sd["0.weight"], sd["0.bias"]).Data()
	mean, vr := sd["1.running_mean"].Data(), sd["1.running_var"].Data()
	g, b := sd["1.weight"].Data(), sd["1.bias"].Data()
	// BatchNorm in eval mode as PyTorch's CPU kernel computes it in
	// float32: y = x*alpha + beta with alpha = weight/sqrt(var+eps) and
	// beta = bias - mean*alpha.
	for i := range h {
		j := i % 4
		alpha := float32(1/float32(math.Sqrt(float64(vr[j]+1e-5)))) * g[j]
		beta := b[j] - float32(mean[j]*alpha)
		h[i] = max(float32(h[i]*alpha)+beta, 0)
	}
	y := tensor.Linear(tensor.FromSlice(h, xt.Shape[0], 4), sd["3.weight"], sd["3.bias"]).Data()
	// Errors are measured against the output's scale: one output (-2.05e-4)
	// is a cancellation of terms near 0.5, where float32 summation order
	// alone moves it by 1.5e-8 (7e-5 of itself, 3e-8 of the scale).
	scale := 0.0
	for _, v := range yv {
		scale = max(scale, math.Abs(float64(v)))
	}
	worst := 0.0
	for i := range yv {
		worst = max(worst, math.Abs(float64(y[i])-float64(yv[i]))/scale)
	}
	if worst > 1e-5 {
		t.Errorf("outputs differ from PyTorch's by %.3g of their scale %.3g", worst, scale)
	}
	t.Logf("worst difference from PyTorch's output: %.3g of the output scale", worst)
}

// torchFixture is a file written by PyTorch 1.13 for package torchfile
// (torchfile/testdata/gen_fixtures.py).
func torchFixture(name string) string { return filepath.Join("..", "torchfile", "testdata", name) }

// TestReadPyTorchCheckpoint reads PyTorch files directly: a legacy-format
// .pth.tar snapshot whose keys DataParallel prefixed with "module.", loaded
// strictly into a model with PyTorch's names, and a Lightning .ckpt whose
// state_dict also holds keys the model lacks. The values must be the
// golden's, bit for bit.
func TestReadPyTorchCheckpoint(t *testing.T) {
	golden, err := safetensors.ReadFile(torchFixture("golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(params map[string][]int, buffers ...string) *ckMod {
		m := &ckMod{}
		for _, n := range []string{"weight", "bias"} {
			if s, ok := params[n]; ok {
				m.RegisterParam(n, autograd.Param(tensor.Zeros(s...)))
			}
		}
		for _, b := range buffers {
			shape := []int{2}
			if b == "num_batches_tracked" {
				shape = nil
			}
			m.RegisterBuffer(b, tensor.Zeros(shape...))
		}
		return m
	}
	snap := &ckMod{}
	snap.RegisterModule("0", mod(map[string][]int{"weight": {2, 3, 1, 1}, "bias": {2}}))
	snap.RegisterModule("1", mod(map[string][]int{"weight": {2}, "bias": {2}}, "running_mean", "running_var", "num_batches_tracked"))
	c, r, err := LoadCheckpoint(torchFixture("snapshot.pth.tar"), snap, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Loaded) != 7 || c.Metadata["epoch"] != "90" || c.Metadata["torch_stripped_prefix"] != "module." || c.HasOptimizer() {
		t.Errorf("report %+v, metadata %v", r, c.Metadata)
	}
	check := func(file string, m Module) {
		t.Helper()
		for _, e := range StateDict(m) {
			g, ok := golden.Get(file + "/" + e.Name)
			if !ok {
				t.Fatalf("golden lacks %s/%s", file, e.Name)
			}
			var want []float32
			if g.DType == safetensors.I64 {
				iv, _ := g.Int64s()
				for _, v := range iv {
					want = append(want, float32(v))
				}
			} else {
				want, _ = g.Float32s()
			}
			got := e.Value.Data()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %s[%d] = %v, want %v", file, e.Name, i, got[i], want[i])
				}
			}
		}
	}
	check("snapshot.pth.tar", snap)

	vm := &ckMod{}
	enc := &ckMod{}
	enc.RegisterModule("0", mod(map[string][]int{"weight": {2, 1, 3, 3}, "bias": {2}}))
	enc.RegisterModule("3", mod(map[string][]int{"weight": {6, 8}, "bias": {6}}))
	vm.RegisterModule("encoder", enc)
	vm.RegisterModule("fc_mu", mod(map[string][]int{"weight": {4, 6}, "bias": {4}}))
	vm.RegisterModule("fc_var", mod(map[string][]int{"weight": {4, 6}, "bias": {4}}))
	c, r, err = LoadCheckpoint(torchFixture("lightning.ckpt"), vm, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Loaded) != 8 || strings.Join(r.Unexpected, ",") != "ae.weight,ae.bias" || len(r.Missing) != 0 {
		t.Errorf("report %+v", r)
	}
	if c.Metadata["global_step"] != "120" || !strings.Contains(c.Metadata["hyper_parameters"], `"enc_type":"mnist-conv"`) || c.HasOptimizer() {
		t.Errorf("metadata %v", c.Metadata)
	}
	check("lightning.ckpt", vm)
	if _, _, err := LoadCheckpoint(torchFixture("lightning.ckpt"), vm, true); err == nil || !strings.Contains(err.Error(), "unexpected key ae.weight") {
		t.Errorf("strict load of extra keys: %v", err)
	}

	// A damaged PyTorch file fails with torchfile's error, naming it; a
	// file of neither format with safetensors'.
	dir := t.TempDir()
	b, _ := os.ReadFile(torchFixture("plain_zip.pt"))
	cut := filepath.Join(dir, "cut.pt")
	os.WriteFile(cut, b[:len(b)-100], 0o644)
	if _, err := ReadCheckpoint(cut); err == nil || !strings.Contains(err.Error(), "torchfile: "+cut) || !strings.Contains(err.Error(), "not a valid zip archive") {
		t.Errorf("cut zip: %v", err)
	}
	junk := filepath.Join(dir, "junk.pt")
	os.WriteFile(junk, []byte("junk junk junk"), 0o644)
	if _, err := ReadCheckpoint(junk); err == nil || !strings.Contains(err.Error(), "safetensors: "+junk) {
		t.Errorf("junk: %v", err)
	}
}
