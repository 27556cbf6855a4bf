package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/tensor"
)

// optimGolden is nn/testdata/optim.safetensors, written by gen_optim.py
// with PyTorch 1.13.
func optimGolden(t *testing.T) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join("testdata", "optim.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func optimTensor(t *testing.T, f *safetensors.File, name string) *tensor.Tensor {
	t.Helper()
	x, ok := f.Get(name)
	if !ok {
		t.Fatalf("golden file lacks %s", name)
	}
	v, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return tensor.FromSlice(v, x.Shape...)
}

type optimCase struct {
	Optimizer string            `json:"optimizer"`
	Groups    []json.RawMessage `json:"groups"`
	Steps     int               `json:"steps"`
	Shapes    [][]int           `json:"shapes"`
}

// buildOptimizer makes the Go optimizer a golden case describes; each group
// object holds "params" and the hyperparameters under PyTorch's names,
// which the option structs share.
func buildOptimizer(t *testing.T, c optimCase, params []*autograd.Var) Optimizer {
	t.Helper()
	var sgd *SGD
	var adam *Adam
	for gi, raw := range c.Groups {
		var idx struct {
			Params []int `json:"params"`
		}
		if err := json.Unmarshal(raw, &idx); err != nil {
			t.Fatal(err)
		}
		var ps []*autograd.Var
		for _, i := range idx.Params {
			ps = append(ps, params[i])
		}
		var err error
		switch c.Optimizer {
		case "SGD":
			var o SGDOptions
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			if gi == 0 {
				sgd, err = NewSGD(ps, o)
			} else {
				err = sgd.AddGroup(ps, o)
			}
		case "Adam":
			o := DefaultAdamOptions()
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			if gi == 0 {
				adam, err = NewAdam(ps, o)
			} else {
				err = adam.AddGroup(ps, o)
			}
		default:
			t.Fatalf("unknown optimizer %q", c.Optimizer)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if sgd != nil {
		return sgd
	}
	return adam
}

// optimRelErr is the largest |got-want| / max(|want|, tiny) over the elements.
func optimRelErr(got, want []float32) (worst float64, at int) {
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d == 0 {
			continue
		}
		r := d / math.Max(math.Abs(float64(want[i])), 1e-30)
		if r > worst {
			worst, at = r, i
		}
	}
	return worst, at
}

// TestOptimizersMatchPyTorch replays PyTorch's optimizer runs: the same
// initial parameters and gradients must give the same parameters after
// every step (relative 1e-6 per element), and the same final state.
func TestOptimizersMatchPyTorch(t *testing.T) {
	f := optimGolden(t)
	var names []string
	for k := range f.Metadata {
		if k != "steplr" && !strings.HasPrefix(k, "format") && k != "source" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if len(names) < 9 {
		t.Fatalf("golden file has %d optimizer cases, want 9", len(names))
	}
	overall := 0.0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var c optimCase
			if err := json.Unmarshal([]byte(f.Metadata[name]), &c); err != nil {
				t.Fatal(err)
			}
			params := make([]*autograd.Var, len(c.Shapes))
			for i := range params {
				params[i] = autograd.Param(optimTensor(t, f, fmt.Sprintf("%s.p%d.init", name, i)))
			}
			opt := buildOptimizer(t, c, params)
			worst, inexact := 0.0, 0
			for k := range c.Steps {
				opt.ZeroGrad()
				for i, p := range params {
					key := fmt.Sprintf("%s.s%d.g%d", name, k, i)
					if _, ok := f.Get(key); ok {
						// Autograd fills Grad; here the golden gradient is put
						// there by a backward pass of sum(p * g).
						setGrad(t, p, optimTensor(t, f, key))
					}
				}
				opt.Step()
				for i, p := range params {
					want := optimTensor(t, f, fmt.Sprintf("%s.s%d.p%d", name, k, i))
					got := p.Value().Data()
					e, at := optimRelErr(got, want.Data())
					if e > 0 {
						inexact++
					}
					worst = max(worst, e)
					if e > 1e-6 {
						t.Fatalf("step %d, param %d, element %d: got %v, PyTorch %v (relative error %.3g)", k, i, at, got[at], want.Data()[at], e)
					}
				}
			}
			// The exported state equals PyTorch's optimizer.state_dict().
			st := opt.StateDict()
			got := map[string]*tensor.Tensor{}
			for _, e := range st.State {
				got[e.Name] = e.Value
			}
			prefix := name + ".state."
			n := 0
			for _, x := range f.Tensors {
				if !strings.HasPrefix(x.Name, prefix) {
					continue
				}
				n++
				key := strings.TrimPrefix(x.Name, prefix)
				g, ok := got[key]
				if !ok {
					t.Errorf("state %s missing from StateDict", key)
					continue
				}
				want := optimTensor(t, f, x.Name)
				if !slices.Equal(g.Shape(), want.Shape()) {
					t.Errorf("state %s: shape %v, PyTorch %v", key, g.Shape(), want.Shape())
					continue
				}
				if e, at := optimRelErr(g.Data(), want.Data()); e > 1e-6 {
					t.Errorf("state %s element %d: %v, PyTorch %v", key, at, g.Data()[at], want.Data()[at])
				}
			}
			if n != len(st.State) {
				t.Errorf("StateDict has %d entries, PyTorch %d", len(st.State), n)
			}
			t.Logf("worst relative error %.3g; %d of %d parameter checks not bit-exact", worst, inexact, c.Steps*len(params))
			if worst > overall {
				overall = worst
			}
		})
	}
	t.Logf("worst relative error over all optimizer cases: %.3g", overall)
}

// setGrad gives p the gradient g through autograd, as a training step does.
func setGrad(t *testing.T, p *autograd.Var, g *tensor.Tensor) {
	t.Helper()
	if err := autograd.Sum(autograd.Mul(p, autograd.Const(g)), false).Backward(); err != nil {
		t.Fatal(err)
	}
	if got := p.Grad(); got == nil || !tensor.AllClose(got, g, 0, 0) {
		t.Fatalf("backward of sum(p*g) did not give g")
	}
}

func TestStepLRMatchesPyTorch(t *testing.T) {
	f := optimGolden(t)
	var c struct {
		StepSize int       `json:"step_size"`
		Gamma    float64   `json:"gamma"`
		BaseLRs  []float64 `json:"base_lrs"`
		Epochs   int       `json:"epochs"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["steplr"]), &c); err != nil {
		t.Fatal(err)
	}
	x, _ := f.Get("steplr.lrs")
	lrs, err := x.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := autograd.Param(tensor.Zeros(1)), autograd.Param(tensor.Zeros(1))
	opt, err := NewSGD([]*autograd.Var{p1}, SGDOptions{LR: c.BaseLRs[0], Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if err := opt.AddGroup([]*autograd.Var{p2}, SGDOptions{LR: c.BaseLRs[1], Momentum: 0.9}); err != nil {
		t.Fatal(err)
	}
	s, err := NewStepLR(opt, c.StepSize, c.Gamma)
	if err != nil {
		t.Fatal(err)
	}
	for e := 0; e <= c.Epochs; e++ {
		if e > 0 {
			opt.Step()
			s.Step()
		}
		for g := range 2 {
			// Exact: the chained products round as PyTorch's do.
			if want := lrs[2*e+g]; opt.LR(g) != want || s.LastLR()[g] != want {
				t.Fatalf("epoch %d group %d: lr %v (LastLR %v), PyTorch %v", e, g, opt.LR(g), s.LastLR()[g], want)
			}
		}
	}
	if s.LastEpoch() != c.Epochs {
		t.Errorf("LastEpoch %d, want %d", s.LastEpoch(), c.Epochs)
	}
	// The closed form base*gamma^(epoch/step) agrees to rounding.
	want := c.BaseLRs[0] * math.Pow(c.Gamma, float64(c.Epochs/c.StepSize))
	if math.Abs(opt.LR(0)-want) > 1e-15*want {
		t.Errorf("lr %v, closed form %v", opt.LR(0), want)
	}
}

func TestOptimizerRejects(t *testing.T) {
	p := autograd.Param(tensor.Zeros(2))
	q := autograd.Param(tensor.Zeros(3))
	for _, o := range []SGDOptions{
		{LR: -1},
		{LR: 0.1, Momentum: -0.5},
		{LR: 0.1, WeightDecay: -1},
		{LR: 0.1, Nesterov: true},
		{LR: 0.1, Momentum: 0.9, Dampening: 0.1, Nesterov: true},
		{LR: math.NaN()},
	} {
		if _, err := NewSGD([]*autograd.Var{p}, o); err == nil {
			t.Errorf("NewSGD accepted %+v", o)
		}
	}
	for _, o := range []AdamOptions{
		{LR: 0.1, Betas: [2]float64{1, 0.9}},
		{LR: 0.1, Betas: [2]float64{0.9, -0.1}},
		{LR: 0.1, Betas: [2]float64{0.9, 0.9}, Eps: -1},
		{LR: -0.1, Betas: [2]float64{0.9, 0.9}},
	} {
		if _, err := NewAdam([]*autograd.Var{p}, o); err == nil {
			t.Errorf("NewAdam accepted %+v", o)
		}
	}
	if _, err := NewSGD(nil, SGDOptions{LR: 1}); err == nil {
		t.Error("empty parameter list accepted")
	}
	if _, err := NewSGD([]*autograd.Var{p, p}, SGDOptions{LR: 1}); err == nil {
		t.Error("a parameter listed twice was accepted")
	}
	s, err := NewSGD([]*autograd.Var{p}, SGDOptions{LR: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddGroup([]*autograd.Var{q, p}, SGDOptions{LR: 1}); err == nil {
		t.Error("a parameter in two groups was accepted")
	}
	if _, err := NewStepLR(s, 0, 0.1); err == nil {
		t.Error("step_size 0 accepted")
	}
	// A parameter without a gradient is left alone, and gets no state.
	if err := s.AddGroup([]*autograd.Var{q}, SGDOptions{LR: 1, Momentum: 0.9}); err != nil {
		t.Fatal(err)
	}
	s.Step()
	if len(s.StateDict().State) != 0 || q.Value().Data()[0] != 0 {
		t.Error("Step without gradients changed something")
	}
	// Bad states are rejected without changing the optimizer.
	st := s.StateDict()
	st.Type = "Adam"
	if err := s.LoadStateDict(st); err == nil {
		t.Error("Adam state loaded into SGD")
	}
	st = s.StateDict()
	st.State = []Named[*tensor.Tensor]{{"1.momentum_buffer", tensor.Zeros(2)}}
	if err := s.LoadStateDict(st); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("wrong-shape buffer: %v", err)
	}
	st.State = []Named[*tensor.Tensor]{{"7.momentum_buffer", tensor.Zeros(2)}}
	if err := s.LoadStateDict(st); err == nil {
		t.Error("out-of-range index accepted")
	}
	st.State = nil
	st.ParamGroups = json.RawMessage(`[{"params":[0],"lr":1,"momentum":0,"dampening":0,"weight_decay":0,"nesterov":false,"bogus":1},{"params":[1],"lr":1}]`)
	if err := s.LoadStateDict(st); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown hyperparameter: %v", err)
	}
}
