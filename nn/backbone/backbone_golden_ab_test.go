package backbone

import (
	"github.com/vmdls-go/vmdls/internal/golden"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// Tolerances of the issue: normwise relative error of forward values and of
// gradients against PyTorch's float64 run.
const (
	abFwdTol  = 1e-4
	abGradTol = 1e-3
)

// detMix is the generator's 32-bit finalizer (mix in gen_backbones_ab.py).
func detMix(u uint32) uint32 {
	u ^= u >> 16
	u *= 0x7FEB352D
	u ^= u >> 15
	u *= 0x846CA68B
	u ^= u >> 16
	return u
}

// detFill writes the generator's deterministic values for key into dst:
// center + bound*(2*(mix(i*0x9E3779B1 + crc32(key))+0.5)/2^32 - 1), in float64
// (each product rounded explicitly, so no fused multiply-add changes a bit),
// rounded once to float32.
func detFill(dst []float32, key string, center, bound float64) {
	seed := crc32.ChecksumIEEE([]byte(key))
	for i := range dst {
		u := detMix(uint32(i)*0x9E3779B1 + seed)
		v := float64(float64(float64(u)+0.5)/(1<<32))*2 - 1
		dst[i] = float32(center + float64(bound*v))
	}
}

// abKeySpec is one entry of a case's "keys" metadata.
type abKeySpec struct {
	key           string
	shape         []int
	center, bound float64
}

func abKeys(t *testing.T, meta map[string]any) []abKeySpec {
	t.Helper()
	raw, ok := meta["keys"].([]any)
	if !ok {
		t.Fatal("case metadata lacks keys")
	}
	out := make([]abKeySpec, len(raw))
	for i, r := range raw {
		e := r.([]any)
		var shape []int
		for _, d := range e[1].([]any) {
			shape = append(shape, int(d.(float64)))
		}
		out[i] = abKeySpec{e[0].(string), shape, e[2].(float64), e[3].(float64)}
	}
	return out
}

type abWorst map[string]float64

func (w abWorst) check(t *testing.T, kind, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no value", what)
		return
	}
	if !slices.Equal(got.Shape(), want.Shape()) {
		t.Errorf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
		return
	}
	e := normwiseErr(got, want)
	w[kind] = math.Max(w[kind], e)
	if e > tol {
		t.Errorf("%s: normwise error %.3g > %.0e", what, e, tol)
	}
}

// checkParamGrads compares the gradient of every parameter of m that the
// golden case lists in meta["grad_keys"] with the stored "<prefix>.grad.<key>".
func (w abWorst) checkParamGrads(t *testing.T, f *golden.File, m nn.Module, meta map[string]any, prefix, label string) {
	t.Helper()
	params := map[string]*autograd.Var{}
	for _, p := range nn.NamedParameters(m) {
		params[p.Name] = p.Value
	}
	for _, gk := range meta["grad_keys"].([]any) {
		k := gk.(string)
		p, ok := params[k]
		if !ok {
			t.Errorf("no parameter %s", k)
			continue
		}
		w.check(t, "grad", label+"grad "+k, p.Grad(), goldenTensor(t, f, prefix+".grad."+k), abGradTol)
	}
}

// tappedModule is what the golden test needs of a backbone.
type tappedModule interface {
	nn.Module
	Tapped
}

// loadHashedWeights checks m's state_dict keys, order and shapes against
// PyTorch's (in meta), fills every tensor with the generator's hashed values
// (num_batches_tracked counters with 0), checks the regenerated values
// against the stored probe <name>.probe, and checks the parameter count.
func loadHashedWeights(t *testing.T, f *golden.File, name string, meta map[string]any, m nn.Module) {
	t.Helper()
	keys := abKeys(t, meta)
	sd := nn.StateDict(m)
	if len(sd) != len(keys) {
		t.Fatalf("%d state_dict entries, PyTorch has %d", len(sd), len(keys))
	}
	var probe []float32
	for i, e := range sd {
		k := keys[i]
		if e.Name != k.key || !slices.Equal(e.Value.Shape(), k.shape) {
			t.Fatalf("entry %d: %s %v, PyTorch's %s %v", i, e.Name, e.Value.Shape(), k.key, k.shape)
		}
		if e.Value.Dim() == 0 { // num_batches_tracked
			e.Value.Set(0)
			continue
		}
		d := e.Value.Data()
		detFill(d, k.key, k.center, k.bound)
		probe = append(probe, d[:min(4, len(d))]...) // numpy slices clamp too
	}
	if want := goldenTensor(t, f, name+".probe").Data(); !slices.Equal(probe, want) {
		t.Fatal("regenerated weights differ from the generator's")
	}
	total, trainable := nn.NumParams(m)
	if want := int(meta["num_params"].(float64)); total != want || trainable != want {
		t.Errorf("parameters %d (trainable %d), PyTorch %d", total, trainable, want)
	}
}

// checkBackboneGolden loads the generator's deterministic weights into m
// (after checking its state_dict keys, order and shapes against PyTorch's)
// and compares h, the taps, the input gradient, a few parameter gradients
// and, in training mode, the updated running statistics.
func checkBackboneGolden(t *testing.T, name string, m tappedModule) {
	f := loadTestdata(t, "backbones_ab.safetensors")
	meta, err := f.Meta(name)
	if err != nil {
		t.Fatal(err)
	}
	loadHashedWeights(t, f, name, meta, m)
	training := meta["training"].(bool)
	nn.SetTraining(m, training)

	x := autograd.Param(goldenTensor(t, f, name+".in0"))
	h, taps := m.ForwardTaps(x)
	w := abWorst{}
	w.check(t, "forward", "h", h.Value(), goldenTensor(t, f, name+".out"), abFwdTol)
	for j, tp := range taps {
		w.check(t, "forward", "tap"+string(rune('0'+j)), tp.Value(), goldenTensor(t, f, name+".tap"+string(rune('0'+j))), abFwdTol)
		if tp.Shape()[1] != m.TapDims()[j] {
			t.Errorf("tap %d has %d channels, TapDims says %d", j, tp.Shape()[1], m.TapDims()[j])
		}
	}
	if h.Shape()[1] != m.OutDim() {
		t.Errorf("h has width %d, OutDim says %d", h.Shape()[1], m.OutDim())
	}
	if err := autograd.Sum(autograd.Mul(h, autograd.Const(goldenTensor(t, f, name+".w"))), false).Backward(); err != nil {
		t.Fatal(err)
	}
	w.check(t, "grad", "grad input", x.Grad(), goldenTensor(t, f, name+".grad0"), abGradTol)
	w.checkParamGrads(t, f, m, meta, name, "")
	if training {
		n := 0
		for _, e := range nn.StateDict(m) {
			if f.Has(name + ".after." + e.Name) {
				w.check(t, "forward", "after "+e.Name, e.Value, goldenTensor(t, f, name+".after."+e.Name), abFwdTol)
				n++
			}
		}
		if n == 0 {
			t.Error("no running statistics to compare")
		}
	}
	t.Logf("worst normwise errors: forward %.3g, gradients %.3g", w["forward"], w["grad"])
}

func TestVGGMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"vgg_train", "vgg_eval"} {
		t.Run(name, func(t *testing.T) { checkBackboneGolden(t, name, NewVGG(rand.New(rand.NewPCG(1, 1)))) })
	}
}

func TestResNet18MatchesPyTorch(t *testing.T) {
	for _, name := range []string{"resnet18_train", "resnet18_eval"} {
		t.Run(name, func(t *testing.T) { checkBackboneGolden(t, name, NewResNet18(rand.New(rand.NewPCG(1, 1)))) })
	}
}
