package backbone

import (
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// Tolerances of the issue, normwise (max|err| / max|ref|) against PyTorch's
// float64 references: 1e-4 forward, 1e-3 gradients.
const (
	dwFwdTol  = 1e-4
	dwGradTol = 1e-3
)

// dwFillValues is fill_values of gen_backbones_dw.py: n values uniform in
// [lo, hi) from the top 24 bits of splitmix64((crc32(key) << 32) + i),
// computed in float64 and rounded once, so both sides get the same bits.
func dwFillValues(key string, n int, lo, hi float64) []float32 {
	base := uint64(crc32.ChecksumIEEE([]byte(key))) << 32
	out := make([]float32, n)
	for i := range out {
		z := base + uint64(i) + 0x9E3779B97F4A7C15
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		u := float64(z>>40) / (1 << 24)
		out[i] = float32(lo + (hi-lo)*u)
	}
	return out
}

// dwFillRange is fill_range of the generator.
func dwFillRange(key string, shape []int) (lo, hi float64) {
	switch {
	case strings.HasSuffix(key, ".running_mean"):
		return -0.3, 0.3
	case strings.HasSuffix(key, ".running_var"):
		return 0.5, 2.0
	case strings.HasSuffix(key, ".bias"):
		return -0.2, 0.2
	case len(shape) == 1:
		return 0.5, 1.5
	case len(shape) == 2:
		// A Linear weight (gen_reference_golden.py's fill_range; the
		// mirror of gen_backbones_dw.py has none).
		b := math.Sqrt(3.0 / float64(shape[1]))
		return -b, b
	}
	b := math.Sqrt(3.0 / float64(shape[1]*shape[2]*shape[3]))
	return -b, b
}

// dwFill overwrites every state_dict tensor of m as the generator's fill does.
func dwFill(m nn.Module) { dwFillAs(m, nil) }

// dwFillAs is dwFill with each tensor keyed by as[its name] where as has
// the name (see dwMirrorNames), by its own name otherwise.
func dwFillAs(m nn.Module, as map[string]string) {
	for _, e := range nn.StateDict(m) {
		if strings.HasSuffix(e.Name, "num_batches_tracked") {
			continue
		}
		key := e.Name
		if k, ok := as[key]; ok {
			key = k
		}
		lo, hi := dwFillRange(key, e.Value.Shape())
		copy(e.Value.Data(), dwFillValues(key, e.Value.Numel(), lo, hi))
	}
}

// dwMirrorNames maps the state_dict keys of net, a *DenseNet or a
// *WideResNet with the reference's names, to those of the mirror in
// gen_backbones_dw.py (which follows ../shared/anchors/nets.py): there each
// network is one Sequential "net" of the stem (net.0), every bottleneck
// and transition (densenet) or wide block (wresnet) in turn, and the final
// batch norm; a transition's bn1, conv1 are bn, conv and a wide block's
// convShortcut is short. The mapping is fixed by the structure, so
// backbones_dw.safetensors still checks these networks bit for bit as it
// was generated. densenet's classifier fc, which the mirror lacks, is not
// in the map.
func dwMirrorNames(t *testing.T, net nn.Module) map[string]string {
	t.Helper()
	var n int      // blocks per group
	var stride int // Sequential entries per group (a densenet transition is one)
	var trans bool // densenet
	switch v := net.(type) {
	case *DenseNet:
		n, stride, trans = len(v.blocks[0].layer.Layers), len(v.blocks[0].layer.Layers)+1, true
	case *WideResNet:
		n, stride = len(v.blocks[0].layer.Layers), len(v.blocks[0].layer.Layers)
	default:
		t.Fatalf("dwMirrorNames: %T", net)
	}
	final := 1 + 3*n
	if trans {
		final += 2
	}
	out := map[string]string{}
	for _, e := range nn.StateDict(net) {
		parts := strings.Split(e.Name, ".")
		var idx int
		var rest []string
		switch {
		case parts[0] == "conv1":
			idx, rest = 0, parts[1:]
		case parts[0] == "bn1":
			idx, rest = final, parts[1:]
		case parts[0] == "fc":
			continue
		case len(parts) > 3 && strings.HasPrefix(parts[0], "block") && parts[1] == "layer":
			g, _ := strconv.Atoi(strings.TrimPrefix(parts[0], "block"))
			i, _ := strconv.Atoi(parts[2])
			idx, rest = 1+(g-1)*stride+i, parts[3:]
			if rest[0] == "convShortcut" {
				rest = append([]string{"short"}, rest[1:]...)
			}
		case trans && strings.HasPrefix(parts[0], "trans"):
			g, _ := strconv.Atoi(strings.TrimPrefix(parts[0], "trans"))
			idx, rest = 1+(g-1)*stride+n, parts[1:]
			rest = append([]string{map[string]string{"bn1": "bn", "conv1": "conv"}[rest[0]]}, rest[1:]...)
		default:
			t.Fatalf("dwMirrorNames: unexpected key %s", e.Name)
		}
		out[e.Name] = strings.Join(append([]string{"net", strconv.Itoa(idx)}, rest...), ".")
	}
	return out
}

// dwCheckKeys compares m's state_dict keys, order and shapes and its
// parameter count with those PyTorch recorded for the mirror module, with
// m's keys renamed by as (dwMirrorNames); keys without a mirror name are
// left out of the comparison and of the count.
func dwCheckKeys(t *testing.T, f *golden.File, caseName string, m nn.Module, as map[string]string) {
	t.Helper()
	meta, err := f.Meta(caseName)
	if err != nil {
		t.Fatal(err)
	}
	want := meta["keys"].([]any)
	var got []nn.Named[*tensor.Tensor]
	for _, e := range nn.StateDict(m) {
		if k, ok := as[e.Name]; ok {
			got = append(got, nn.Named[*tensor.Tensor]{Name: k, Value: e.Value})
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d state_dict entries, PyTorch has %d", caseName, len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		w := want[i].([]any)
		name := w[0].(string)
		var shape []int
		for _, d := range w[1].([]any) {
			shape = append(shape, int(d.(float64)))
		}
		gs := got[i].Value.Shape()
		if got[i].Name != name || !slices.Equal(gs, shape) {
			t.Errorf("%s: entry %d is %s %v, PyTorch has %s %v", caseName, i, got[i].Name, gs, name, shape)
			return
		}
	}
	total := 0
	for _, p := range nn.NamedParameters(m) {
		if _, ok := as[p.Name]; ok {
			total += p.Value.Value().Numel()
		}
	}
	if wantN := int(meta["params"].(float64)); total != wantN {
		t.Errorf("%s: %d parameters, PyTorch has %d", caseName, total, wantN)
	}
}

// dwRunCase runs one golden case through net (already filled) and compares
// h, the taps, d loss/d x and the named parameter gradients, with the
// reference's ReLU kink decisions replayed (kinks_test.go). Without the
// replay, dense_train, wrn_eval and wrn_train0 gradients differ from the
// float64 reference by 3e-3 to 3e-2 normwise (forward within 2e-6), and so
// does PyTorch's own float32 run: a handful of pre-activations within 1e-6
// of zero land on the other side in float32, and each flip spreads through
// batch norm and the convolutions before it. With the decisions shared the
// gradients agree to float32 rounding.
func dwRunCase(t *testing.T, f *golden.File, caseName string, net tappedModule, as map[string]string) {
	t.Helper()
	meta, err := f.Meta(caseName)
	if err != nil {
		t.Fatal(err)
	}
	training := meta["training"].(bool)
	nn.SetTraining(net, training)
	nn.ZeroGrad(net)
	withKinks(t, loadKinks(t, f, caseName), func() bool { dwCompare(t, f, caseName, meta, net, as); return true })
}

// dwCompare is the body of dwRunCase, run with the kink replay in place;
// the golden names parameters by as[name] (dwMirrorNames).
func dwCompare(t *testing.T, f *golden.File, caseName string, meta map[string]any, net tappedModule, as map[string]string) {
	t.Helper()
	x := autograd.NewVar(goldenTensor(t, f, caseName+".x"), true)
	h, taps := net.ForwardTaps(x)
	check := func(what string, got, want *tensor.Tensor, tol float64) {
		t.Helper()
		if got == nil {
			t.Errorf("%s %s: no value", caseName, what)
			return
		}
		if !slices.Equal(got.Shape(), want.Shape()) {
			t.Errorf("%s %s: shape %v, want %v", caseName, what, got.Shape(), want.Shape())
			return
		}
		e := normwiseErr(got, want)
		t.Logf("%s %s: normwise error %.3g", caseName, what, e)
		if e > tol {
			t.Errorf("%s %s: normwise error %.3g > %.0e", caseName, what, e, tol)
		}
	}
	check("h", h.Value(), goldenTensor(t, f, caseName+".h"), dwFwdTol)
	for i, tp := range taps {
		check("tap"+string(rune('0'+i)), tp.Value(), goldenTensor(t, f, caseName+".tap"+string(rune('0'+i))), dwFwdTol)
	}
	w := autograd.Const(goldenTensor(t, f, caseName+".w"))
	if err := autograd.Sum(autograd.Mul(h, w), false).Backward(); err != nil {
		t.Fatal(err)
	}
	check("gradx", x.Grad(), goldenTensor(t, f, caseName+".gradx"), dwGradTol)
	params := map[string]*autograd.Var{}
	for _, p := range nn.NamedParameters(net) {
		params[as[p.Name]] = p.Value
	}
	for _, k := range meta["grad_params"].([]any) {
		name := k.(string)
		p, ok := params[name]
		if !ok {
			t.Errorf("%s: no parameter %s", caseName, name)
			continue
		}
		check("grad "+name, p.Grad(), goldenTensor(t, f, caseName+".grad."+name), dwGradTol)
	}
}

func TestDenseNetMatchesPyTorch(t *testing.T) {
	f := loadTestdata(t, "backbones_dw.safetensors")
	net := NewDenseNet(rand.New(rand.NewPCG(1, 2)))
	as := dwMirrorNames(t, net)
	dwCheckKeys(t, f, "dense100_keys", net, as)
	dwFillAs(net, as)
	// Eval first: train mode updates the running statistics eval reads.
	dwRunCase(t, f, "dense_eval", net, as)
	dwRunCase(t, f, "dense_train", net, as)
}

func TestWideResNetMatchesPyTorch(t *testing.T) {
	f := loadTestdata(t, "backbones_dw.safetensors")
	net := NewWideResNet(rand.New(rand.NewPCG(1, 2)))
	as := dwMirrorNames(t, net)
	dwCheckKeys(t, f, "wrn28_10_keys", net, as)
	if testing.Short() {
		t.Skip("WideResNet-28-10 forward and backward take seconds; keys and parameter count checked")
	}
	dwFillAs(net, as)
	dwRunCase(t, f, "wrn_eval", net, as)
	// The generator sets p = 0 for its train-mode case: train-mode batch
	// norm without a random mask.
	for _, blk := range net.blocks {
		for _, l := range blk.layer.Layers {
			l.(*wrnBlock).drop = 0
		}
	}
	dwRunCase(t, f, "wrn_train0", net, as)
}
