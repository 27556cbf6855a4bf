package backbone

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/nn"
)

func TestResNet18ShapesAndTaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	r := NewResNet18(rng)
	if r.OutDim() != 512 || r.TapDims() != [3]int{64, 128, 256} {
		t.Errorf("OutDim %d TapDims %v", r.OutDim(), r.TapDims())
	}
	// torchvision resnet18 without fc and with the 3×3 stem: 11,168,832
	// parameters, 120 state_dict entries (the golden test checks every key).
	if total, _ := nn.NumParams(r); total != 11168832 {
		t.Errorf("%d parameters, want 11168832", total)
	}
	if n := len(nn.StateDict(r)); n != 120 {
		t.Errorf("%d state_dict entries, want 120", n)
	}
	// Only the first block of stages 2-4 has a projection shortcut.
	for i, l := range r.Layers {
		for j, b := range l.Layers {
			if has := b.(*BasicBlock).Downsample != nil; has != (i > 0 && j == 0) {
				t.Errorf("layer%d.%d downsample %v", i+1, j, has)
			}
		}
	}
	checkForwardAgreesWithTaps(t, r, rng)
}

// TestResNet18Init checks the reference's initialization (the authors'
// ResNetEncoder has no init loop): every convolution uniform within
// ±1/sqrt(fan_in) (PyTorch's default) with the uniform's std, batch norms
// ones and zeros.
func TestResNet18Init(t *testing.T) {
	r := NewResNet18(rand.New(rand.NewPCG(11, 12)))
	for _, p := range nn.NamedParameters(r) {
		d := p.Value.Value().Data()
		var s, s2, lo, hi float64 = 0, 0, math.Inf(1), math.Inf(-1)
		for _, x := range d {
			s += float64(x)
			s2 += float64(x) * float64(x)
			lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
		}
		n := float64(len(d))
		sh := p.Value.Shape()
		switch {
		case len(sh) == 4:
			b := 1 / math.Sqrt(float64(sh[1]*sh[2]*sh[3]))
			if lo < -b || hi > b || lo > -0.9*b || hi < 0.9*b {
				t.Errorf("%s in [%g, %g], want uniform in ±%g", p.Name, lo, hi, b)
			}
			// At least 1728 draws: the sample std is within 5% of the
			// uniform's with overwhelming probability.
			if std := math.Sqrt(s2/n - (s/n)*(s/n)); math.Abs(std/(b/math.Sqrt(3))-1) > 0.05 {
				t.Errorf("%s std %g, want %g", p.Name, std, b/math.Sqrt(3))
			}
		case strings.HasSuffix(p.Name, ".weight"):
			if lo != 1 || hi != 1 {
				t.Errorf("%s in [%g, %g], want ones", p.Name, lo, hi)
			}
		default:
			if lo != 0 || hi != 0 {
				t.Errorf("%s in [%g, %g], want zeros", p.Name, lo, hi)
			}
		}
	}
}
