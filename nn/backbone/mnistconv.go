package backbone

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// MnistConvOutDim is enc_out_dim of the mnist-conv encoder.
const MnistConvOutDim = 500

// mnistConvChannels is the width of every convolution of mnist-conv.
const mnistConvChannels = 100

// NewMnistConv builds the mnist-conv encoder for 1×28×28 images: five 3×3
// convolutions of 100 channels (padding 1) with ReLUs and three 2×2 max
// pools, then Flatten and Linear(900, 500). The layers are the children of
// one Sequential in PyTorch's order, so its keys are "0.weight", "0.bias",
// "2.weight", ..., "14.weight", "14.bias", as in torch.nn.Sequential.
func NewMnistConv(rng *rand.Rand) *nn.Sequential {
	c := mnistConvChannels
	conv := func(in int) nn.Module { return nn.NewConv2d(rng, in, c, 3, 1, 1, true) }
	return nn.NewSequential(
		conv(1), nn.NewReLU(), conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		conv(c), nn.NewReLU(), conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		conv(c), nn.NewReLU(), nn.NewMaxPool2d(2, 0, 0),
		nn.NewFlatten(), nn.NewLinear(rng, c*3*3, MnistConvOutDim, true),
	)
}

// MnistConv is the reference's MnistConvEncoder: the convolutional part as
// the Sequential "encoder" (indices 0..12, as in PyTorch) and the final
// Linear(900, 500) as "dec_layer", the reference's names.
type MnistConv struct {
	nn.Base
	Convs    *nn.Sequential
	DecLayer *nn.Linear
}

// NewMnistConvEncoder builds the mnist-conv encoder with the reference's
// module layout, drawing weights from rng in PyTorch's order.
func NewMnistConvEncoder(rng *rand.Rand) *MnistConv {
	seq := NewMnistConv(rng)
	m := &MnistConv{Convs: nn.NewSequential(seq.Layers[:13]...), DecLayer: seq.Layers[14].(*nn.Linear)}
	m.RegisterModule("encoder", m.Convs)
	m.RegisterModule("dec_layer", m.DecLayer)
	return m
}

// Forward returns h [N, 500] for images x [N, 1, 28, 28].
func (m *MnistConv) Forward(x *autograd.Var) *autograd.Var {
	return m.DecLayer.Forward(autograd.Flatten(m.Convs.Forward(x), 1, -1))
}

// ForwardTaps returns h and the reference's three taps, global-average
// pooled: the 2nd convolution before its ReLU (encoder[0:3]), the first
// max-pool (encoder[0:5]) and the 3rd convolution after its ReLU
// (encoder[0:7]). The layers run one by one so that the pre-ReLU tap is
// not lost to the fused convolution+ReLU of Sequential.
func (m *MnistConv) ForwardTaps(x *autograd.Var) (*autograd.Var, [3]*autograd.Var) {
	var taps [3]*autograd.Var
	tapAt := map[int]int{2: 0, 4: 1, 6: 2}
	for i, l := range m.Convs.Layers {
		x = l.Forward(x)
		if k, ok := tapAt[i]; ok {
			taps[k] = autograd.Flatten(autograd.GlobalAvgPool2d(x), 1, 3)
		}
	}
	return m.DecLayer.Forward(autograd.Flatten(x, 1, -1)), taps
}

// OutDim is enc_out_dim, 500.
func (m *MnistConv) OutDim() int { return MnistConvOutDim }

// TapDims are the tap widths, 100 each.
func (m *MnistConv) TapDims() [3]int {
	return [3]int{mnistConvChannels, mnistConvChannels, mnistConvChannels}
}

// DefaultClassNum is the reference's default class_num (GMM_VAE_Contrastive,
// CIFAR-10's ten classes): the width of the densenet encoder's classifier
// when NewModel or NewEncoder builds it.
const DefaultClassNum = 10

// encoders lists the supported --enc_type values with their builders and
// output widths, in the order the reference's --enc_type help lists them:
// mnist-conv takes 1×28×28 images, the other four 3×32×32 (CIFAR). The
// class count sizes densenet's classifier, the one encoder of the
// reference that holds one; the others do not take it (the reference's
// WideResNet takes num_classes and ignores it).
var encoders = []struct {
	name   string
	outDim int
	build  func(rng *rand.Rand, classNum int) nn.Module
}{
	{"mnist-conv", MnistConvOutDim, func(r *rand.Rand, _ int) nn.Module { return NewMnistConvEncoder(r) }},
	{"vgg", VGGOutDim, func(r *rand.Rand, _ int) nn.Module { return NewVGG(r) }},
	{"resnet18", ResNet18OutDim, func(r *rand.Rand, _ int) nn.Module { return NewResNet18(r) }},
	{"densenet", DenseNetOutDim, func(r *rand.Rand, c int) nn.Module { return NewDenseNet3(r, 100, c, 12, 0.5) }},
	{"wresnet", WideResNetOutDim, func(r *rand.Rand, _ int) nn.Module { return NewWideResNet(r) }},
}

// EncTypes returns the supported encoder names, in a fixed order.
func EncTypes() []string {
	out := make([]string, len(encoders))
	for i, e := range encoders {
		out[i] = e.name
	}
	return out
}

// NewEncoder builds the encoder named encType with weights drawn from rng
// and returns it with its output width (enc_out_dim); densenet's classifier
// has DefaultClassNum classes. An unknown name is an error that lists the
// supported ones.
func NewEncoder(encType string, rng *rand.Rand) (nn.Module, int, error) {
	return NewEncoderClasses(encType, DefaultClassNum, rng)
}

// NewEncoderClasses is NewEncoder for a reference run of classNum known
// classes (--class_num): densenet's classifier, which h does not use but
// the reference's state_dict holds, is Linear(342, classNum), so that the
// reference's checkpoint of such a run loads strictly.
func NewEncoderClasses(encType string, classNum int, rng *rand.Rand) (nn.Module, int, error) {
	if classNum < 1 {
		return nil, 0, fmt.Errorf("class_num = %d, want at least 1", classNum)
	}
	for _, e := range encoders {
		if e.name == encType {
			return e.build(rng, classNum), e.outDim, nil
		}
	}
	return nil, 0, fmt.Errorf("unknown encoder type %q (supported: %s)", encType, strings.Join(EncTypes(), ", "))
}

// Model is the VMDLS network of METHOD.md section 1: an encoder and the two
// latent heads mu and logvar, each Linear(enc_out_dim, latent_dim). Its
// children are registered as "encoder", "fc_mu" and "fc_var", the names of
// the reference's GMM_VAE_Contrastive, so its checkpoints' keys match.
type Model struct {
	nn.Base
	Enc        nn.Module
	Mu, Logvar *nn.Linear
	EncOutDim  int
	LatentDim  int
}

// NewModel builds the encoder named encType and the latent heads of
// latentDim outputs, drawing every weight from rng in the order PyTorch
// constructs them (encoder, mu, logvar); densenet's classifier has
// DefaultClassNum classes.
func NewModel(encType string, latentDim int, rng *rand.Rand) (*Model, error) {
	return NewModelClasses(encType, latentDim, DefaultClassNum, rng)
}

// NewModelClasses is NewModel for a run of classNum known classes
// (--class_num), which sizes densenet's classifier (NewEncoderClasses).
func NewModelClasses(encType string, latentDim, classNum int, rng *rand.Rand) (*Model, error) {
	if latentDim < 1 {
		return nil, fmt.Errorf("latent_dim = %d, want at least 1", latentDim)
	}
	enc, outDim, err := NewEncoderClasses(encType, classNum, rng)
	if err != nil {
		return nil, err
	}
	m := &Model{Enc: enc, EncOutDim: outDim, LatentDim: latentDim}
	m.RegisterModule("encoder", enc)
	m.Mu = nn.NewLinear(rng, outDim, latentDim, true)
	m.RegisterModule("fc_mu", m.Mu)
	m.Logvar = nn.NewLinear(rng, outDim, latentDim, true)
	m.RegisterModule("fc_var", m.Logvar)
	return m, nil
}

// Encode returns the heads' outputs mu and logvar [N, latentDim] for x.
func (m *Model) Encode(x *autograd.Var) (mu, logvar *autograd.Var) {
	h := m.Enc.Forward(x)
	return m.Mu.Forward(h), m.Logvar.Forward(h)
}

// Forward returns mu, the embedding used at evaluation time (z = mu there);
// training needs both heads, which Encode gives. The logvar head is not
// computed.
func (m *Model) Forward(x *autograd.Var) *autograd.Var {
	return m.Mu.Forward(m.Enc.Forward(x))
}
