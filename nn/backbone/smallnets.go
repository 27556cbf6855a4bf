package backbone

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// The two small encoders of the reference's models/decoders_encoders.py
// that main.py offers besides the published ones: MnistEncoder (--enc_type
// mnist) and CifarConvEncoder (--enc_type cifar). Neither defines
// get_layer_output, so neither has the taps of the test procedure (the
// reference's test.py fails on them too); they train.

// Output widths of the small encoders.
const (
	MnistMLPOutDim  = 64
	CifarConvOutDim = 500
)

// MnistMLP is the reference's MnistEncoder: the image flattened to 784
// values, then the Sequential "encoder" Linear(784, 128), ReLU,
// Linear(128, 64), ReLU. Keys: encoder.0.*, encoder.2.*.
type MnistMLP struct {
	nn.Base
	Layers *nn.Sequential
}

// NewMnistMLP builds the encoder with PyTorch's default initialization
// drawn from rng in construction order.
func NewMnistMLP(rng *rand.Rand) *MnistMLP {
	m := &MnistMLP{Layers: nn.NewSequential(
		nn.NewLinear(rng, 28*28, 128, true), nn.NewReLU(),
		nn.NewLinear(rng, 128, MnistMLPOutDim, true), nn.NewReLU(),
	)}
	m.RegisterModule("encoder", m.Layers)
	return m
}

// Forward returns h [N, 64] for images x [N, 1, 28, 28] (x.view(-1, 784)).
func (m *MnistMLP) Forward(x *autograd.Var) *autograd.Var {
	return m.Layers.Forward(autograd.Reshape(x, -1, 28*28))
}

// CifarConv is the reference's CifarConvEncoder: mnist-conv's layers on
// 3×32×32 images (five 3×3 convolutions of 100 channels with ReLUs, three
// 2×2 max pools: 32→16→8→4) as the Sequential "encoder", then
// Linear(1600, 500) as "dec_layer". Keys: encoder.{0,2,5,7,10}.*,
// dec_layer.*.
type CifarConv struct {
	nn.Base
	Convs    *nn.Sequential
	DecLayer *nn.Linear
}

// NewCifarConvEncoder builds the encoder with PyTorch's default
// initialization drawn from rng in construction order.
func NewCifarConvEncoder(rng *rand.Rand) *CifarConv {
	c := mnistConvChannels
	conv := func(in int) nn.Module { return nn.NewConv2d(rng, in, c, 3, 1, 1, true) }
	m := &CifarConv{Convs: nn.NewSequential(
		conv(3), nn.NewReLU(), conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		conv(c), nn.NewReLU(), conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
	)}
	m.DecLayer = nn.NewLinear(rng, c*4*4, CifarConvOutDim, true)
	m.RegisterModule("encoder", m.Convs)
	m.RegisterModule("dec_layer", m.DecLayer)
	return m
}

// Forward returns h [N, 500] for images x [N, 3, 32, 32].
func (m *CifarConv) Forward(x *autograd.Var) *autograd.Var {
	return m.DecLayer.Forward(autograd.Flatten(m.Convs.Forward(x), 1, -1))
}
