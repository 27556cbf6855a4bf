package backbone

import (
	"math/rand/v2"
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// Autoencoder is what the reconstruction weight of METHOD.md section 4
// needs of either autoencoder: the reconstruction of a batch and the
// training objective. Both are in the module's current mode (train or
// eval, nn.SetTraining); the ResNet autoencoder's batch norms depend on it.
type Autoencoder interface {
	nn.Module
	// Reconstruct returns x_hat, of x's shape.
	Reconstruct(x *autograd.Var) *autograd.Var
	// ReconstructionLoss returns mse_loss(Reconstruct(x), x), a scalar.
	ReconstructionLoss(x *autograd.Var) *autograd.Var
}

var (
	_ Autoencoder = (*MnistAE)(nil)
	_ Autoencoder = (*ResNetAE)(nil)
)

// Widths of the CIFAR ResNet-18 autoencoder (PyTorch-Lightning-Bolts AE with
// enc_type "resnet18", enc_out_dim 512, latent_dim 256, input_height 32);
// the ResNet-50 one has the same code width and first decoder map size.
const (
	ResNetAELatentDim = 256
	resnetAEStem      = 4 // the decoder's first map is 512×4×4
)

// ResNetAE is the CIFAR-10 autoencoder of METHOD.md section 5, the Bolts AE:
// "encoder" (resnet18_encoder(first_conv=False, maxpool1=False): the CIFAR
// ResNet-18 with PyTorch's default initialization everywhere), "decoder"
// (resnet18_decoder) and "fc" (Linear(512, 256)), registered in the Bolts
// order encoder, decoder, fc, so a Bolts state_dict loads key for key.
// The encoder's stateless modules (relu, maxpool of kernel 1, avgpool) hold
// no keys, as in PyTorch.
type ResNetAE struct {
	nn.Base
	Encoder *ResNet18
	Decoder *ResNetDecoder
	FC      *nn.Linear
}

// NewResNetAE builds the autoencoder with PyTorch's default initialization
// (the Bolts modules have no custom init) drawn from rng, in the Bolts
// construction order: encoder, decoder, fc.
func NewResNetAE(rng *rand.Rand) *ResNetAE {
	m := &ResNetAE{Encoder: newResNet18(rng, plainConv)}
	m.RegisterModule("encoder", m.Encoder)
	m.Decoder = NewResNetDecoder(rng, ResNetAELatentDim)
	m.RegisterModule("decoder", m.Decoder)
	m.FC = nn.NewLinear(rng, ResNet18OutDim, ResNetAELatentDim, true)
	m.RegisterModule("fc", m.FC)
	return m
}

// Encode returns the latent code z [N, 256] of x [N, 3, 32, 32].
func (m *ResNetAE) Encode(x *autograd.Var) *autograd.Var {
	return m.FC.Forward(m.Encoder.Forward(x))
}

// Forward returns the reconstruction [N, 3, 32, 32] of x, the Bolts AE's
// forward (no output nonlinearity).
func (m *ResNetAE) Forward(x *autograd.Var) *autograd.Var {
	return m.Decoder.Forward(m.Encode(x))
}

// Reconstruct is Forward.
func (m *ResNetAE) Reconstruct(x *autograd.Var) *autograd.Var { return m.Forward(x) }

// ReconstructionLoss is the Bolts AE's step loss, mse_loss(x_hat, x) with
// mean reduction.
func (m *ResNetAE) ReconstructionLoss(x *autograd.Var) *autograd.Var {
	return nn.MSELoss(m.Forward(x), x)
}

// DecoderBlock is the Bolts decoder's residual block: a 3×3 convolution at
// the input width, BN, ReLU, then a "resize convolution" (nearest upsample
// by scale, then 3×3 convolution to the output width), BN; the shortcut is
// the identity or, when the shape changes, "upsample": a resize 1×1
// convolution and a BN; ReLU after the sum. With scale 2, conv2 is a
// Sequential (upsample, conv), so its weight is "conv2.1.weight" and the
// shortcut's "upsample.0.1.weight", as in Bolts.
type DecoderBlock struct {
	nn.Base
	Conv1    *nn.Conv2d
	BN1, BN2 *nn.BatchNorm2d
	Conv2    nn.Module      // *nn.Conv2d, or Sequential(Upsample, Conv2d)
	Upsample *nn.Sequential // nil for the identity shortcut
}

// resizeConv is Bolts' resize_conv3x3 / resize_conv1x1: a plain bias-free
// convolution at scale 1, else nearest upsampling followed by it.
func resizeConv(rng *rand.Rand, in, out, k, scale int) nn.Module {
	c := plainConv(rng, in, out, k, 1, k/2)
	if scale == 1 {
		return c
	}
	return nn.NewSequential(nn.NewUpsampleScale(float64(scale)), c)
}

// newDecoderBlock builds a block from in to out channels upsampling by
// scale, in Bolts' construction order (the shortcut first, as _make_layer
// builds it before the block).
func newDecoderBlock(rng *rand.Rand, in, out, scale int) *DecoderBlock {
	b := &DecoderBlock{}
	if scale != 1 || in != out {
		b.Upsample = nn.NewSequential(resizeConv(rng, in, out, 1, scale), nn.NewBatchNorm2d(out, true))
	}
	b.Conv1 = plainConv(rng, in, in, 3, 1, 1)
	b.BN1 = nn.NewBatchNorm2d(in, true)
	b.Conv2 = resizeConv(rng, in, out, 3, scale)
	b.BN2 = nn.NewBatchNorm2d(out, true)
	b.RegisterModule("conv1", b.Conv1)
	b.RegisterModule("bn1", b.BN1)
	b.RegisterModule("conv2", b.Conv2)
	b.RegisterModule("bn2", b.BN2)
	if b.Upsample != nil {
		b.RegisterModule("upsample", b.Upsample)
	}
	return b
}

// Forward returns relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
func (b *DecoderBlock) Forward(x *autograd.Var) *autograd.Var {
	y := bnRelu(b.BN1, b.Conv1.Forward(x))
	y = b.Conv2.Forward(y)
	s := x
	if b.Upsample != nil {
		s = b.Upsample.Forward(x)
	}
	return bnAddRelu(b.BN2, y, s)
}

// ResNetDecoder is Bolts' resnet18_decoder for 32×32 inputs without the
// ImageNet stem (first_conv, maxpool1 false): Linear(latent, 512·4·4)
// viewed as 512×4×4, four stages of two DecoderBlocks (512→256, 256→128,
// 128→64 each upsampling by 2: 4→8→16→32; then 64→64 at scale 1) and a
// bias-free 3×3 convolution to 3 channels. Keys: linear.*, layer1 ...
// layer4, conv1.weight. Bolts' two Interpolate modules (to size 32/8 = 4
// after the view, scale 1 before conv1) are identities at this input size
// and hold no state, so they are left out.
type ResNetDecoder struct {
	nn.Base
	Linear *nn.Linear
	Layers [4]*nn.Sequential
	Conv1  *nn.Conv2d
}

// NewResNetDecoder builds the decoder from a latentDim-wide code with
// PyTorch's default initialization drawn from rng.
func NewResNetDecoder(rng *rand.Rand, latentDim int) *ResNetDecoder {
	d := &ResNetDecoder{Linear: nn.NewLinear(rng, latentDim, 512*resnetAEStem*resnetAEStem, true)}
	d.RegisterModule("linear", d.Linear)
	in := 512
	for i, c := range [4]int{256, 128, 64, 64} {
		scale := 2
		if i == 3 {
			scale = 1
		}
		d.Layers[i] = nn.NewSequential(newDecoderBlock(rng, in, c, scale), newDecoderBlock(rng, c, c, 1))
		d.RegisterModule("layer"+strconv.Itoa(i+1), d.Layers[i])
		in = c
	}
	d.Conv1 = plainConv(rng, 64, 3, 3, 1, 1)
	d.RegisterModule("conv1", d.Conv1)
	return d
}

// Forward returns the image [N, 3, 32, 32] decoded from z [N, latentDim].
func (d *ResNetDecoder) Forward(z *autograd.Var) *autograd.Var {
	x := d.Linear.Forward(z)
	x = autograd.Reshape(x, z.Shape()[0], 512, resnetAEStem, resnetAEStem)
	for _, l := range d.Layers {
		x = l.Forward(x)
	}
	return d.Conv1.Forward(x)
}
