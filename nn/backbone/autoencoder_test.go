package backbone

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/kernels"
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

	worstAdam := checkAdamLosses(t, m, in, goldenTensor(t, f, "ae.adam_loss").Data())
	t.Logf("worst normwise errors: forward %.3g, gradients %.3g, Adam-step losses %.3g", w["forward"], w["grad"], worstAdam)
}

// checkAdamLosses takes len(want) steps of Adam (lr 1e-4, the generators')
// on m's reconstruction loss of in and checks the loss after each against
// PyTorch's, returning the worst relative error.
//
// The steps run with im2col convolutions. Adam divides each gradient entry
// by its own running magnitude, so an entry that is exactly zero in
// PyTorch's float64 run but a rounding residue of 1e-9 in ours moves its
// weight by a sizeable fraction of the learning rate instead of not at all.
// Winograd's weight gradient sums in the transformed domain and keeps
// exact zeros only where a whole channel is zero; on these batches of two,
// max pooling and ReLU make thousands of single entries exactly zero, and
// those residues move the loss by 1.7e-4 in three steps (measured
// on the generic path, where every 3×3 layer takes Winograd). im2col sums
// only products, so its zeros stay zeros, as PyTorch's CPU convolutions'
// do: these are the runs that must agree step for step. The Winograd paths
// are checked against PyTorch by the gradient comparisons above (the
// default path) and nn's TestGoldensWithConvPathForced (each path forced).
func checkAdamLosses(t *testing.T, m interface {
	nn.Module
	ReconstructionLoss(*autograd.Var) *autograd.Var
}, in *tensor.Tensor, want []float32) float64 {
	t.Helper()
	prev, err := kernels.SetConvPath("im2col")
	if err != nil {
		t.Fatal(err)
	}
	defer kernels.SetConvPath(prev)
	opt, err := nn.NewAdam(nn.Parameters(m), nn.AdamOptions{LR: 1e-4, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	xc := autograd.Const(in)
	var worst float64
	for step, wl := range want {
		opt.ZeroGrad()
		if err := m.ReconstructionLoss(xc).Backward(); err != nil {
			t.Fatal(err)
		}
		opt.Step()
		got := m.ReconstructionLoss(xc).Value().Item()
		e := math.Abs(float64(got)-float64(wl)) / math.Abs(float64(wl))
		worst = math.Max(worst, e)
		if !(e <= aeAdamTol) {
			t.Errorf("loss after Adam step %d: %v, PyTorch %v (relative error %.3g > %.0e)", step+1, got, wl, e, aeAdamTol)
		}
	}
	return worst
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
