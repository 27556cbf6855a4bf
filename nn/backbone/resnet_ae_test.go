package backbone

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

func TestResNetAEShapesAndKeys(t *testing.T) {
	m := NewResNetAE(rand.New(rand.NewPCG(5, 6)))
	x := autograd.Const(tensor.Zeros(2, 3, 32, 32))
	nn.SetTraining(m, false)
	if got := m.Encode(x).Shape(); !slices.Equal(got, []int{2, ResNetAELatentDim}) {
		t.Errorf("code shape %v, want [2 256]", got)
	}
	if got := m.Reconstruct(x).Shape(); !slices.Equal(got, []int{2, 3, 32, 32}) {
		t.Errorf("reconstruction shape %v, want [2 3 32 32]", got)
	}
	sd := nn.StateDict(m)
	// Bolts registers fc after the decoder.
	first, last := sd[0].Name, sd[len(sd)-1].Name
	if first != "encoder.conv1.weight" || last != "fc.bias" {
		t.Errorf("state_dict runs %s ... %s, want encoder.conv1.weight ... fc.bias", first, last)
	}
}

// TestResNetAEDefaultInit checks that the encoder's block convolutions have
// PyTorch's default initialization (Kaiming uniform with a = sqrt(5), i.e.
// U(±1/sqrt(fan_in))), not torchvision's Kaiming normal: Bolts' encoder has
// no init loop.
func TestResNetAEDefaultInit(t *testing.T) {
	m := NewResNetAE(rand.New(rand.NewPCG(7, 8)))
	for _, c := range []*nn.Conv2d{
		m.Encoder.Layers[2].Layers[0].(*BasicBlock).Conv1,
		m.Decoder.Layers[0].Layers[1].(*DecoderBlock).Conv1,
	} {
		w := c.Weight.Value()
		sh := w.Shape()
		bound := 1 / math.Sqrt(float64(sh[1]*sh[2]*sh[3]))
		var maxAbs, sumSq float64
		for _, v := range w.Data() {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
			sumSq += float64(v) * float64(v)
		}
		std := math.Sqrt(sumSq / float64(w.Numel()))
		want := bound / math.Sqrt(3)
		if maxAbs > bound || math.Abs(std-want) > 0.01*want {
			t.Errorf("conv %v: max |w| %.4g (bound %.4g), std %.4g (uniform's %.4g)", sh, maxAbs, bound, std, want)
		}
	}
}

// TestResNetAEMatchesPyTorch loads the generator's hashed weights and
// compares, in eval mode, code, reconstruction and loss; in train mode the
// same plus the gradients of the loss (input and a few parameters) and the
// losses after three Adam steps, with PyTorch's float64 run.
func TestResNetAEMatchesPyTorch(t *testing.T) {
	f := loadTestdata(t, "ae_resnet.safetensors")
	w := abWorst{}
	for _, name := range []string{"aer_eval", "aer_train"} {
		meta, err := f.Meta(name)
		if err != nil {
			t.Fatal(err)
		}
		m := NewResNetAE(rand.New(rand.NewPCG(1, 1)))
		loadHashedWeights(t, f, name, meta, m)
		training := meta["training"].(bool)
		nn.SetTraining(m, training)
		if training {
			withKinks(t, loadKinks(t, f, name), func() bool { return aeResNetCase(t, f, name, meta, m, w) })
		} else {
			_ = aeResNetCase(t, f, name, meta, m, w)
		}
	}
	t.Logf("worst normwise errors: forward %.3g, gradients %.3g, Adam-step losses %.3g", w["forward"], w["grad"], w["adam"])
}

// aeResNetCase runs one golden case of TestResNetAEMatchesPyTorch and
// reports whether it ran all of it (the Adam steps are left out in -short
// mode).
func aeResNetCase(t *testing.T, f *golden.File, name string, meta map[string]any, m *ResNetAE, w abWorst) (whole bool) {
	t.Helper()
	training := m.Training()
	in := goldenTensor(t, f, name+".in0")
	x := autograd.NewVar(in, training)
	code := m.Encode(x)
	recon := m.Decoder.Forward(code)
	loss := nn.MSELoss(recon, x)
	w.check(t, "forward", name+" code", code.Value(), goldenTensor(t, f, name+".code"), abFwdTol)
	w.check(t, "forward", name+" reconstruction", recon.Value(), goldenTensor(t, f, name+".recon"), abFwdTol)
	w.check(t, "forward", name+" loss", loss.Value().Reshape(1), goldenTensor(t, f, name+".loss"), abFwdTol)
	if !training {
		return true
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	w.check(t, "grad", name+" grad input", x.Grad(), goldenTensor(t, f, name+".grad0"), abGradTol)
	w.checkParamGrads(t, f, m, meta, name, name+" ")
	if testing.Short() {
		t.Log("Adam steps skipped in -short mode")
		return false
	}
	w["adam"] = math.Max(w["adam"], checkAdamLosses(t, m, in, goldenTensor(t, f, name+".adam_loss").Data()))
	return true
}

// TestResNetAETrainingLowersLoss trains the freshly initialized autoencoder
// (PyTorch's default init, as the reference starts) for a few Adam steps on
// one small batch through the Autoencoder interface and expects the
// reconstruction loss to fall.
func TestResNetAETrainingLowersLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("a few ResNet autoencoder training steps take seconds")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var ae Autoencoder = NewResNetAE(rng)
	data := make([]float32, 2*3*32*32)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	x := autograd.Const(tensor.FromSlice(data, 2, 3, 32, 32))
	opt, err := nn.NewAdam(nn.Parameters(ae), nn.AdamOptions{LR: 1e-3, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	var first, last float32
	for step := 0; step < 4; step++ {
		opt.ZeroGrad()
		loss := ae.ReconstructionLoss(x)
		if step == 0 {
			first = loss.Value().Item()
		}
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		opt.Step()
	}
	last = ae.ReconstructionLoss(x).Value().Item()
	t.Logf("loss %v -> %v after 4 Adam steps", first, last)
	if !(last < 0.9*first) {
		t.Errorf("loss %v after 4 Adam steps, from %v: want a drop of at least 10%%", last, first)
	}
}
