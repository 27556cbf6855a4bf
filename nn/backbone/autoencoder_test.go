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

// aeAdamTol bounds the relative error of each loss after an Adam step.
const aeAdamTol = 1e-4

func TestMnistAEShapes(t *testing.T) {
	m := NewMnistAE(rand.New(rand.NewPCG(3, 4)))
	x := autograd.Const(tensor.Zeros(3, 1, 28, 28))
	if got := m.Encode(x).Shape(); !slices.Equal(got, []int{3, MnistAECodeDim}) {
		t.Errorf("code shape %v, want [3 32]", got)
	}
	if got := m.Forward(x).Shape(); !slices.Equal(got, []int{3, 1, 28, 28}) {
		t.Errorf("reconstruction shape %v, want [3 1 28 28]", got)
	}
	if got := m.ReconstructionLoss(x).Shape(); len(got) != 0 {
		t.Errorf("loss shape %v, want a scalar", got)
	}
	// The reference's MNIST_AE state_dict keys, in its order.
	var want []string
	for _, mod := range []string{"encoder.encoder.0", "encoder.encoder.2", "encoder.encoder.5", "encoder.encoder.7",
		"encoder.encoder.10", "encoder.dec_layer", "decoder.latent", "decoder.enc_layer", "decoder.decoder.0",
		"decoder.decoder.2", "decoder.decoder.4", "decoder.decoder.6", "decoder.decoder.8", "decoder.decoder.10",
		"decoder.decoder.12", "fc"} {
		want = append(want, mod+".weight", mod+".bias")
	}
	var got []string
	for _, e := range nn.StateDict(m) {
		got = append(got, e.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("state_dict keys\n%v\nwant the reference's\n%v", got, want)
	}
}

// TestMnistAEMatchesPyTorch loads the generator's hashed weights into the
// autoencoder and compares code, reconstruction, loss, the gradients of the
// loss (input and a few parameters) and the losses after three Adam steps
// with PyTorch's float64 run.
func TestMnistAEMatchesPyTorch(t *testing.T) {
	f := loadTestdata(t, "autoencoder.safetensors")
	meta, err := f.Meta("ae")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMnistAE(rand.New(rand.NewPCG(1, 1)))
	loadHashedWeights(t, f, "ae", meta, m)

	in := goldenTensor(t, f, "ae.in0")
	x := autograd.Param(in)
	w := abWorst{}
	code := m.Encode(x)
	recon := m.Decoder.Forward(code)
	loss := nn.MSELoss(recon, x)
	w.check(t, "forward", "code", code.Value(), goldenTensor(t, f, "ae.code"), abFwdTol)
	w.check(t, "forward", "reconstruction", recon.Value(), goldenTensor(t, f, "ae.recon"), abFwdTol)
	w.check(t, "forward", "loss", loss.Value().Reshape(1), goldenTensor(t, f, "ae.loss"), abFwdTol)
	if got, want := m.ReconstructionLoss(autograd.Const(in)).Value().Item(), loss.Value().Item(); got != want {
		t.Errorf("ReconstructionLoss %v, the same computation step by step %v", got, want)
	}
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	w.check(t, "grad", "grad input", x.Grad(), goldenTensor(t, f, "ae.grad0"), abGradTol)
	w.checkParamGrads(t, f, m, meta, "ae", "")

	opt, err := nn.NewAdam(nn.Parameters(m), nn.AdamOptions{LR: 1e-4, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	xc := autograd.Const(in)
	want := goldenTensor(t, f, "ae.adam_loss").Data()
	var worstAdam float64
	for step, wl := range want {
		opt.ZeroGrad()
		if err := m.ReconstructionLoss(xc).Backward(); err != nil {
			t.Fatal(err)
		}
		opt.Step()
		got := m.ReconstructionLoss(xc).Value().Item()
		e := math.Abs(float64(got)-float64(wl)) / math.Abs(float64(wl))
		worstAdam = math.Max(worstAdam, e)
		if !(e <= aeAdamTol) {
			t.Errorf("loss after Adam step %d: %v, PyTorch %v (relative error %.3g > %.0e)", step+1, got, wl, e, aeAdamTol)
		}
	}
	t.Logf("worst normwise errors: forward %.3g, gradients %.3g, Adam-step losses %.3g", w["forward"], w["grad"], worstAdam)
}

// BenchmarkMnistAEStep times one Adam step of the MNIST autoencoder on a
// batch of 64 images, the train-ae default.
func BenchmarkMnistAEStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := NewMnistAE(rng)
	opt, err := nn.NewAdam(nn.Parameters(m), nn.DefaultAdamOptions())
	if err != nil {
		b.Fatal(err)
	}
	x := autograd.Const(tensor.Randn(rng, 64, 1, 28, 28))
	b.ResetTimer()
	for range b.N {
		loss := m.ReconstructionLoss(x)
		opt.ZeroGrad()
		if err := loss.Backward(); err != nil {
			b.Fatal(err)
		}
		opt.Step()
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "images/s")
}
