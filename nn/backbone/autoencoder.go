package backbone

import (
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// MnistAECodeDim is the width of the MNIST autoencoder's code.
const MnistAECodeDim = 32

// MnistAE is the MNIST autoencoder of METHOD.md section 5, whose
// reconstruction error weights the known data. It mirrors the reference's
// MNIST_AE module by module, so a state_dict saved by the reference code
// (ae_mnist.ckpt, converted to safetensors) loads without renaming:
// "encoder" is the reference's MnistConvEncoder (encoder.encoder.{0,2,5,7,10},
// encoder.dec_layer), "decoder" its MnistConvDecoder (decoder.latent,
// decoder.enc_layer, decoder.decoder.{0,2,...,12}) and "fc" the
// Linear(500, 32) between them, in the reference's registration order.
type MnistAE struct {
	nn.Base
	Encoder *MnistConv
	Decoder *MnistDecoder
	FC      *nn.Linear
}

// MnistDecoder is the reference's MnistConvDecoder: Linear(32, 500) as
// "latent" and Linear(500, 900) as "enc_layer" (no activation between or
// after them, as in the reference), the result viewed as 100×3×3, then the
// Sequential "decoder": six kernel-2 transposed convolutions of strides 1,
// 1, 1, 1, 2, 2, each followed by a ReLU, and a final 1×1 convolution to one
// channel.
type MnistDecoder struct {
	nn.Base
	Latent   *nn.Linear
	EncLayer *nn.Linear
	Convs    *nn.Sequential
}

// newMnistDecoder builds the decoder, drawing PyTorch's default
// initialization from rng in the reference's construction order. The
// spatial sizes, (H-1)*s + 2 per transposed convolution: 3 -> 4 -> 5 -> 6
// -> 7 -> 14 -> 28, so the output is [N, 1, 28, 28], the input's shape.
func newMnistDecoder(rng *rand.Rand) *MnistDecoder {
	c := mnistConvChannels
	d := &MnistDecoder{
		Latent:   nn.NewLinear(rng, MnistAECodeDim, MnistConvOutDim, true),
		EncLayer: nn.NewLinear(rng, MnistConvOutDim, c*3*3, true),
		Convs:    nn.NewSequential(),
	}
	for _, s := range []int{1, 1, 1, 1, 2, 2} {
		d.Convs.Append(nn.NewConvTranspose2d(rng, c, c, 2, s, 0, true))
		d.Convs.Append(nn.NewReLU())
	}
	d.Convs.Append(nn.NewConv2d(rng, c, 1, 1, 1, 0, true))
	d.RegisterModule("latent", d.Latent)
	d.RegisterModule("enc_layer", d.EncLayer)
	d.RegisterModule("decoder", d.Convs)
	return d
}

// Forward returns the image [N, 1, 28, 28] decoded from codes [N, 32].
func (d *MnistDecoder) Forward(code *autograd.Var) *autograd.Var {
	h := d.EncLayer.Forward(d.Latent.Forward(code))
	return d.Convs.Forward(autograd.Reshape(h, h.Shape()[0], mnistConvChannels, 3, 3))
}

// NewMnistAE builds the MNIST autoencoder with PyTorch's default
// initialization drawn from rng in the reference's construction order
// (encoder, decoder, fc).
func NewMnistAE(rng *rand.Rand) *MnistAE {
	m := &MnistAE{Encoder: NewMnistConvEncoder(rng)}
	m.Decoder = newMnistDecoder(rng)
	m.FC = nn.NewLinear(rng, MnistConvOutDim, MnistAECodeDim, true)
	m.RegisterModule("encoder", m.Encoder)
	m.RegisterModule("decoder", m.Decoder)
	m.RegisterModule("fc", m.FC)
	return m
}

// Encode returns the code [N, 32] of images x [N, 1, 28, 28].
func (m *MnistAE) Encode(x *autograd.Var) *autograd.Var {
	return m.FC.Forward(m.Encoder.Forward(x))
}

// Forward returns the reconstruction [N, 1, 28, 28] of x.
func (m *MnistAE) Forward(x *autograd.Var) *autograd.Var {
	return m.Decoder.Forward(m.Encode(x))
}

// Reconstruct is Forward.
func (m *MnistAE) Reconstruct(x *autograd.Var) *autograd.Var { return m.Forward(x) }

// ReconstructionLoss is the training objective: the mean squared error
// between Forward(x) and x itself. Gradients flow into x through both uses
// when x requires them, as in PyTorch's mse_loss(model(x), x).
func (m *MnistAE) ReconstructionLoss(x *autograd.Var) *autograd.Var {
	return nn.MSELoss(m.Forward(x), x)
}
