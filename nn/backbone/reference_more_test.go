package backbone

import (
	"math/rand/v2"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/internal/golden"
	"github.com/vmdls-go/vmdls/nn"
)

// The encoders main.py offers beyond the published five (resnet50, the
// MNIST MLP, the small CIFAR conv net) and the CIFAR-100 autoencoder,
// against the modules of the authors' and Bolts' own code
// (testdata/gen_reference_more.py): state_dict keys, order and shapes,
// a strict load of the reference's state_dict, the eval-mode forward and,
// in train mode, the gradients of a loss with respect to the input and a
// few parameters.

// refGrads compares the input gradient and the parameter gradients the
// case <name> lists with the generator's, normwise within the project's
// gradient tolerance, and returns the worst error.
func refGrads(t *testing.T, f *golden.File, name string, m nn.Module, x *autograd.Var) float64 {
	t.Helper()
	meta, err := f.Meta(name)
	if err != nil {
		t.Fatal(err)
	}
	w := abWorst{}
	w.check(t, "grad", name+" grad input", x.Grad(), goldenTensor(t, f, name+".grad0"), abGradTol)
	w.checkParamGrads(t, f, m, meta, name, name+" ")
	return w["grad"]
}

func TestReferenceMoreEncoders(t *testing.T) {
	f := loadTestdata(t, "reference_more.safetensors")
	for _, enc := range []string{"resnet50", "mnist", "cifar"} {
		t.Run(enc, func(t *testing.T) {
			keys, params, meta := refCase(t, f, enc)
			m, err := NewModel(enc, int(meta["latent_dim"].(float64)), rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			info, _ := LookupEncoder(enc)
			if m.EncOutDim != int(meta["enc_out_dim"].(float64)) || info.OutDim != m.EncOutDim {
				t.Errorf("enc_out_dim %d (registry %d), the reference's %v", m.EncOutDim, info.OutDim, meta["enc_out_dim"])
			}
			tapped, ok := m.Enc.(Tapped)
			if ok != meta["taps"].(bool) || info.Taps != ok {
				t.Errorf("Tapped %v, registry Taps %v; the reference's get_layer_output exists: %v", ok, info.Taps, meta["taps"])
			}
			refCheckKeys(t, enc, m, keys, params)
			refLoad(t, enc, m, keys)

			nn.SetTraining(m, false)
			x := autograd.Const(goldenTensor(t, f, enc+".x"))
			var h *autograd.Var
			var taps [3]*autograd.Var
			autograd.NoGrad(func() {
				if ok {
					h, taps = tapped.ForwardTaps(x)
				} else {
					h = m.Enc.Forward(x)
				}
			})
			worst := refCompare(t, f, enc, "h", h)
			if ok {
				for i, tp := range taps {
					worst = max(worst, refCompare(t, f, enc, "tap"+string(rune('0'+i)), tp))
					if tp.Shape()[1] != tapped.TapDims()[i] {
						t.Errorf("tap %d has %d channels, TapDims says %d", i, tp.Shape()[1], tapped.TapDims()[i])
					}
				}
			}
			var mu, logvar *autograd.Var
			autograd.NoGrad(func() { mu, logvar = m.Mu.Forward(h), m.Logvar.Forward(h) })
			worst = max(worst, refCompare(t, f, enc, "mu", mu), refCompare(t, f, enc, "logvar", logvar))

			// Train mode: loss = (h * w).sum() and its gradients.
			name := enc + "_train"
			nn.SetTraining(m, true)
			xg := autograd.Param(goldenTensor(t, f, enc+".x"))
			run := func() bool {
				loss := autograd.Sum(autograd.Mul(m.Enc.Forward(xg), autograd.Const(goldenTensor(t, f, name+".w"))), false)
				if err := loss.Backward(); err != nil {
					t.Fatal(err)
				}
				return true
			}
			if f.Has(name + ".kinks") {
				withKinks(t, loadKinks(t, f, name), run)
			} else {
				run()
			}
			g := refGrads(t, f, name, m, xg)
			t.Logf("%s: worst normwise error %.3g over h, taps, mu, logvar (eval); gradients %.3g (train)", enc, worst, g)
		})
	}
}

// TestReferenceResNet50AE checks the CIFAR-100 autoencoder against Bolts'
// AE(input_height=32, enc_type="resnet50", enc_out_dim=2048): keys, a
// strict load, code and reconstruction, and the MSE loss of the
// reconstruction and its gradients, all in eval mode.
func TestReferenceResNet50AE(t *testing.T) {
	f := loadTestdata(t, "reference_more.safetensors")
	const name = "ae_resnet50"
	keys, params, _ := refCase(t, f, name)
	ae := NewResNet50AE(rand.New(rand.NewPCG(1, 2)))
	refCheckKeys(t, name, ae, keys, params)
	refLoad(t, name, ae, keys)
	nn.SetTraining(ae, false)
	x := autograd.Const(goldenTensor(t, f, name+".x"))
	var code, xhat *autograd.Var
	autograd.NoGrad(func() {
		code = ae.Encode(x)
		xhat = ae.Reconstruct(x)
	})
	e := max(refCompare(t, f, name, "code", code), refCompare(t, f, name, "xhat", xhat))

	// Gradients in eval mode, where the case is well conditioned (the
	// generator says why); train mode's batch norm backward is checked by
	// the resnet50 case.
	xg := autograd.Param(goldenTensor(t, f, name+".x"))
	var loss *autograd.Var
	withKinks(t, loadKinks(t, f, name+"_grad"), func() bool {
		loss = ae.ReconstructionLoss(xg)
		return true
	})
	w := abWorst{}
	w.check(t, "forward", name+" loss", loss.Value().Reshape(1), goldenTensor(t, f, name+"_grad.loss"), abFwdTol)
	if err := loss.Backward(); err != nil {
		t.Fatal(err)
	}
	g := refGrads(t, f, name+"_grad", ae, xg)
	t.Logf("%s: worst normwise error %.3g over code, xhat; loss %.3g, gradients %.3g", name, e, w["forward"], g)
}
