package backbone

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

var (
	_ Tapped = (*VGG)(nil)
	_ Tapped = (*ResNet18)(nil)
)

// checkForwardAgreesWithTaps runs m on a small random batch and checks the
// shapes of h and the taps, that Forward's h is ForwardTaps' h, and that a
// loss on the taps alone reaches the input.
func checkForwardAgreesWithTaps(t *testing.T, m tappedModule, rng *rand.Rand) {
	t.Helper()
	nn.SetTraining(m, false) // eval, so two passes see the same statistics
	x := autograd.Param(tensor.Randn(rng, 3, 3, 32, 32))
	h, taps := m.ForwardTaps(x)
	if !slices.Equal(h.Shape(), []int{3, m.OutDim()}) {
		t.Fatalf("h %v, want [3 %d]", h.Shape(), m.OutDim())
	}
	for j, tp := range taps {
		if !slices.Equal(tp.Shape(), []int{3, m.TapDims()[j]}) {
			t.Fatalf("tap %d %v, want [3 %d]", j, tp.Shape(), m.TapDims()[j])
		}
	}
	if !tensor.AllClose(m.Forward(x).Value(), h.Value(), 0, 0) {
		t.Error("Forward differs from ForwardTaps' h")
	}
	loss := autograd.Add(autograd.Add(autograd.Sum(taps[0], false), autograd.Sum(taps[1], false)), autograd.Sum(taps[2], false))
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	var g float64
	for _, v := range x.Grad().Data() {
		g = math.Max(g, math.Abs(float64(v)))
	}
	if g == 0 {
		t.Error("no gradient from the taps reaches the input")
	}
}

func TestVGGShapesAndTaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	v := NewVGG(rng)
	if v.OutDim() != 1024 || v.TapDims() != [3]int{128, 256, 256} {
		t.Errorf("OutDim %d TapDims %v", v.OutDim(), v.TapDims())
	}
	// nets.py VGGM: 8,569,600 parameters, 60 state_dict entries
	// (the golden test checks every key and shape against PyTorch's).
	if total, _ := nn.NumParams(v); total != 8569600 {
		t.Errorf("%d parameters, want 8569600", total)
	}
	if n := len(nn.StateDict(v)); n != 60 {
		t.Errorf("%d state_dict entries, want 60", n)
	}
	// The taps are batch norms (their outputs, before the ReLU).
	for _, i := range vggTapAt {
		if _, ok := v.Encoder.Layers[i].(*nn.BatchNorm2d); !ok {
			t.Errorf("layer %d is %T, want a BatchNorm2d", i, v.Encoder.Layers[i])
		}
	}
	checkForwardAgreesWithTaps(t, v, rng)
}

// TestVGGDefaultInit checks PyTorch's default initialization: conv and linear
// weights and biases uniform within ±1/sqrt(fan_in), batch norms ones and zeros.
func TestVGGDefaultInit(t *testing.T) {
	v := NewVGG(rand.New(rand.NewPCG(7, 8)))
	for _, p := range nn.NamedParameters(v) {
		d := p.Value.Value().Data()
		var lo, hi float64 = math.Inf(1), math.Inf(-1)
		for _, x := range d {
			lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
		}
		switch l := v.Encoder.Layers[layerIndex(t, p.Name)].(type) {
		case *nn.BatchNorm2d:
			want := 0.0
			if p.Value == l.Weight {
				want = 1
			}
			if lo != want || hi != want {
				t.Errorf("%s in [%g, %g], want %g", p.Name, lo, hi, want)
			}
		default:
			var fanIn int
			switch l := l.(type) {
			case *nn.Conv2d:
				fanIn = l.In * 9
			case *nn.Linear:
				fanIn = l.In
			}
			b := 1 / math.Sqrt(float64(fanIn))
			// Far more draws than needed to come within 5% of both ends.
			if lo < -b || hi > b || lo > -0.95*b || hi < 0.95*b {
				t.Errorf("%s in [%g, %g], want uniform in ±%g", p.Name, lo, hi, b)
			}
		}
	}
}

// layerIndex parses the layer number of an "encoder.<i>.<name>" key.
func layerIndex(t *testing.T, key string) int {
	t.Helper()
	i := 0
	for _, c := range key[len("encoder."):] {
		if c == '.' {
			return i
		}
		i = 10*i + int(c-'0')
	}
	t.Fatalf("bad key %s", key)
	return 0
}
