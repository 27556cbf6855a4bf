package backbone

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// The state_dict of the reference's GMM_VAE_Contrastive with the
// MnistConvEncoder (models/decoders_encoders.py), latent_dim 32, without
// its frozen "ae." autoencoder: keys, order and shapes.
var mnistConvKeys = []struct {
	key   string
	shape []int
}{
	{"encoder.encoder.0.weight", []int{100, 1, 3, 3}}, {"encoder.encoder.0.bias", []int{100}},
	{"encoder.encoder.2.weight", []int{100, 100, 3, 3}}, {"encoder.encoder.2.bias", []int{100}},
	{"encoder.encoder.5.weight", []int{100, 100, 3, 3}}, {"encoder.encoder.5.bias", []int{100}},
	{"encoder.encoder.7.weight", []int{100, 100, 3, 3}}, {"encoder.encoder.7.bias", []int{100}},
	{"encoder.encoder.10.weight", []int{100, 100, 3, 3}}, {"encoder.encoder.10.bias", []int{100}},
	{"encoder.dec_layer.weight", []int{500, 900}}, {"encoder.dec_layer.bias", []int{500}},
	{"fc_mu.weight", []int{32, 500}}, {"fc_mu.bias", []int{32}},
	{"fc_var.weight", []int{32, 500}}, {"fc_var.bias", []int{32}},
}

func TestMnistConvStateDictMatchesPyTorch(t *testing.T) {
	m, err := NewModel("mnist-conv", 32, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict(m)
	if len(sd) != len(mnistConvKeys) {
		t.Fatalf("%d state_dict entries, want %d", len(sd), len(mnistConvKeys))
	}
	for i, e := range sd {
		if e.Name != mnistConvKeys[i].key || !slices.Equal(e.Value.Shape(), mnistConvKeys[i].shape) {
			t.Errorf("entry %d: %s %v, want %s %v", i, e.Name, e.Value.Shape(), mnistConvKeys[i].key, mnistConvKeys[i].shape)
		}
	}
	// The count for latent_dim 32.
	if total, trainable := nn.NumParams(m); total != 843964 || trainable != total {
		t.Errorf("parameters %d (trainable %d), want 843964", total, trainable)
	}
	if m.EncOutDim != MnistConvOutDim || m.LatentDim != 32 {
		t.Errorf("EncOutDim %d LatentDim %d", m.EncOutDim, m.LatentDim)
	}
}

func TestMnistConvForwardShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, err := NewModel("mnist-conv", 8, rng)
	if err != nil {
		t.Fatal(err)
	}
	x := autograd.Const(tensor.Randn(rng, 3, 1, 28, 28))
	h := m.Enc.Forward(x)
	if !slices.Equal(h.Shape(), []int{3, 500}) {
		t.Fatalf("encoder output %v, want [3 500]", h.Shape())
	}
	mu, logvar := m.Encode(x)
	if !slices.Equal(mu.Shape(), []int{3, 8}) || !slices.Equal(logvar.Shape(), []int{3, 8}) {
		t.Fatalf("heads %v %v, want [3 8] each", mu.Shape(), logvar.Shape())
	}
	// Forward is the mu head, and the two heads are distinct layers.
	if !tensor.AllClose(m.Forward(x).Value(), mu.Value(), 0, 0) {
		t.Error("Forward differs from Encode's mu")
	}
	if tensor.AllClose(mu.Value(), logvar.Value(), 1e-3, 1e-3) {
		t.Error("mu and logvar heads give the same output")
	}
	// A gradient reaches the first convolution through both heads.
	mu, logvar = m.Encode(autograd.Const(tensor.Randn(rng, 2, 1, 28, 28)))
	if err := autograd.Sum(autograd.Add(mu, logvar), false).Backward(); err != nil {
		t.Fatal(err)
	}
	for _, p := range nn.NamedParameters(m) {
		if p.Value.Grad() == nil {
			t.Errorf("%s: no gradient", p.Name)
		}
	}
}

// TestMnistConvTaps checks the three taps against the reference's
// get_layer_output: the pooled outputs of encoder[0:3], [0:5] and [0:7].
func TestMnistConvTaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m := NewMnistConvEncoder(rng)
	x := autograd.Const(tensor.Randn(rng, 2, 1, 28, 28))
	h, taps := m.ForwardTaps(x)
	if !tensor.AllClose(h.Value(), m.Forward(x).Value(), 0, 0) {
		t.Error("ForwardTaps' h differs from Forward")
	}
	for k, end := range []int{3, 5, 7} {
		y := x
		for _, l := range m.Convs.Layers[:end] {
			y = l.Forward(y)
		}
		want := tensor.Mean(y.Value(), false, 2, 3)
		if !tensor.AllClose(taps[k].Value(), want, 1e-6, 1e-6) {
			t.Errorf("tap %d differs from the pooled output of encoder[0:%d]", k+1, end)
		}
	}
	if got := m.TapDims(); got != [3]int{100, 100, 100} || m.OutDim() != 500 {
		t.Errorf("TapDims %v OutDim %d", got, m.OutDim())
	}
}

func TestMnistConvRejectsOtherSizes(t *testing.T) {
	m := NewMnistConv(rand.New(rand.NewPCG(5, 6)))
	err := tensor.Catch(func() { m.Forward(autograd.Const(tensor.Zeros(2, 1, 32, 32))) })
	if err == nil {
		t.Fatal("a 32x32 input went through an encoder built for 28x28")
	}
}

func TestUnknownEncType(t *testing.T) {
	_, err := NewModel("resnet-1000", 32, rand.New(rand.NewPCG(1, 1)))
	if err == nil || !strings.Contains(err.Error(), `"resnet-1000"`) || !strings.Contains(err.Error(), "mnist-conv") {
		t.Fatalf("error %v; want one naming the type and listing mnist-conv", err)
	}
	if _, err := NewModel("mnist-conv", 0, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("latent_dim 0 accepted")
	}
	if got := EncTypes(); !slices.Equal(got, []string{"mnist-conv", "vgg", "resnet18", "densenet", "wresnet", "resnet50", "mnist", "cifar"}) {
		t.Errorf("EncTypes() = %v", got)
	}
}
