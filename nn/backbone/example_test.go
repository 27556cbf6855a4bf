package backbone_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/tensor"
)

// NewModel builds the reference's --enc_type mnist-conv --latent_dim 32
// network; a seeded generator fixes its weights. Encode gives both latent
// heads for a batch of NCHW images.
func ExampleNewModel() {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := backbone.NewModel("mnist-conv", 32, rng)
	if err != nil {
		panic(err)
	}
	fmt.Println("enc_out_dim", m.EncOutDim, "latent_dim", m.LatentDim)

	x := autograd.Const(tensor.Rand(rng, 2, 1, 28, 28))
	mu, logvar := m.Encode(x)
	fmt.Println(mu.Shape(), logvar.Shape())

	// The state_dict keys are the reference's, so PyTorch checkpoints load.
	sd := nn.StateDict(m)
	fmt.Println(len(sd), sd[0].Name, sd[len(sd)-1].Name)
	// Output:
	// enc_out_dim 500 latent_dim 32
	// [2 32] [2 32]
	// 16 encoder.encoder.0.weight fc_var.bias
}

// Every encoder is Tapped: one pass yields its output h and three pooled
// intermediate feature maps, the parts of the test procedure's feature
// ensemble.
func ExampleTapped() {
	rng := rand.New(rand.NewPCG(3, 4))
	m, err := backbone.NewModel("mnist-conv", 32, rng)
	if err != nil {
		panic(err)
	}
	nn.SetTraining(m, false)
	enc := m.Enc.(backbone.Tapped)
	x := autograd.Const(tensor.Rand(rng, 2, 1, 28, 28))
	h, taps := enc.ForwardTaps(x)
	fmt.Println("h", h.Shape())
	for i, t := range taps {
		fmt.Println("tap", i+1, t.Shape())
	}
	fmt.Println(enc.OutDim(), enc.TapDims())
	// Output:
	// h [2 500]
	// tap 1 [2 100]
	// tap 2 [2 100]
	// tap 3 [2 100]
	// 500 [100 100 100]
}

// EncTypes lists the --enc_type values; an unknown name is an error that
// lists them too.
func ExampleEncTypes() {
	fmt.Println(backbone.EncTypes())
	_, err := backbone.NewModel("alexnet", 32, rand.New(rand.NewPCG(1, 1)))
	fmt.Println(err)
	// Output:
	// [mnist-conv vgg resnet18 densenet wresnet resnet50 mnist cifar]
	// unknown encoder type "alexnet" (supported: mnist-conv, vgg, resnet18, densenet, wresnet, resnet50, mnist, cifar)
}
