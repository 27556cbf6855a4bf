package backbone

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// DefaultClassNum is the reference's default class_num (GMM_VAE_Contrastive,
// CIFAR-10's ten classes): the width of the densenet encoder's classifier
// when NewModel or NewEncoder builds it.
const DefaultClassNum = 10

// encoders lists the supported --enc_type values with their builders and
// output widths: the five of the published experiments in the order the
// reference's --enc_type help lists them, then resnet50, mnist (the MLP)
// and cifar (the small conv net); mnist-conv and mnist take 1×28×28
// images, the others 3×32×32 (CIFAR). The
// class count sizes densenet's classifier, the one encoder of the
// reference that holds one; the others do not take it (the reference's
// WideResNet takes num_classes and ignores it).
var encoders = []struct {
	EncoderInfo
	build func(rng *rand.Rand, classNum int) nn.Module
}{
	{EncoderInfo{"mnist-conv", MnistConvOutDim, 1, 28, 28, true}, func(r *rand.Rand, _ int) nn.Module { return NewMnistConvEncoder(r) }},
	{EncoderInfo{"vgg", VGGOutDim, 3, 32, 32, true}, func(r *rand.Rand, _ int) nn.Module { return NewVGG(r) }},
	{EncoderInfo{"resnet18", ResNet18OutDim, 3, 32, 32, true}, func(r *rand.Rand, _ int) nn.Module { return NewResNet18(r) }},
	{EncoderInfo{"densenet", DenseNetOutDim, 3, 32, 32, true}, func(r *rand.Rand, c int) nn.Module { return NewDenseNet3(r, 100, c, 12, 0.5) }},
	{EncoderInfo{"wresnet", WideResNetOutDim, 3, 32, 32, true}, func(r *rand.Rand, _ int) nn.Module { return NewWideResNet(r) }},
	// The other encoders main.py's valid_encoders offers, after the
	// published five so that a dataset's default stays one of those.
	{EncoderInfo{"resnet50", ResNet50OutDim, 3, 32, 32, true}, func(r *rand.Rand, _ int) nn.Module { return NewResNet50(r) }},
	{EncoderInfo{"mnist", MnistMLPOutDim, 1, 28, 28, false}, func(r *rand.Rand, _ int) nn.Module { return NewMnistMLP(r) }},
	{EncoderInfo{"cifar", CifarConvOutDim, 3, 32, 32, false}, func(r *rand.Rand, _ int) nn.Module { return NewCifarConvEncoder(r) }},
}

// EncoderInfo is what the registry knows of an encoder without building
// it: the checks of a run's settings need its output width and the image
// shape it takes, and building a network to learn them would allocate its
// weights.
type EncoderInfo struct {
	// Name is the --enc_type value.
	Name string
	// OutDim is enc_out_dim, the width of the encoder's output h.
	OutDim int
	// Channels, Height and Width are the shape of one input image.
	Channels, Height, Width int
	// Taps reports whether the encoder is Tapped: whether it yields the
	// three feature maps of the test procedure's ensemble. The reference's
	// MnistEncoder and CifarConvEncoder define no get_layer_output, so
	// mnist and cifar train but cannot be tested.
	Taps bool
}

// InputShape returns the per-image input shape [Channels, Height, Width].
func (e EncoderInfo) InputShape() []int { return []int{e.Channels, e.Height, e.Width} }

// Encoders lists the supported encoders in the order of EncTypes.
func Encoders() []EncoderInfo {
	out := make([]EncoderInfo, len(encoders))
	for i, e := range encoders {
		out[i] = e.EncoderInfo
	}
	return out
}

// LookupEncoder returns the registry's entry for encType; ok is false for
// a name the registry does not have.
func LookupEncoder(encType string) (info EncoderInfo, ok bool) {
	for _, e := range encoders {
		if e.Name == encType {
			return e.EncoderInfo, true
		}
	}
	return EncoderInfo{}, false
}

// EncTypes returns the supported encoder names, in a fixed order.
func EncTypes() []string {
	out := make([]string, len(encoders))
	for i, e := range encoders {
		out[i] = e.Name
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
		if e.Name == encType {
			return e.build(rng, classNum), e.OutDim, nil
		}
	}
	return nil, 0, fmt.Errorf("unknown encoder type %q (supported: %s)", encType, strings.Join(EncTypes(), ", "))
}

// Tapped is a backbone that yields, from one forward pass, its output h and
// the three intermediate feature maps METHOD.md section 6 names (tap1, tap2,
// tap3), each global-average-pooled to [N, C]. The feature ensemble of the
// test procedure needs all four, and one pass costs a quarter of the
// reference's four.
type Tapped interface {
	// ForwardTaps returns h [N, OutDim()] and the pooled taps [N, TapDims()[i]].
	ForwardTaps(x *autograd.Var) (h *autograd.Var, taps [3]*autograd.Var)
	// OutDim is enc_out_dim, the width of h.
	OutDim() int
	// TapDims are the channel counts of the three taps.
	TapDims() [3]int
}

// relu is the ReLU of the hand-written forwards (resnet18, densenet,
// wresnet, the ResNet autoencoder). It is a variable only so that the golden
// tests can replay the float64 reference's decisions at pre-activations
// within rounding distance of zero (kinks_test.go); nothing else assigns it.
var relu = autograd.Relu

// bnRelu and bnAddRelu are the fused batch norm + ReLU and batch norm +
// residual add + ReLU of the hand-written forwards: one or two activation
// tensors less kept for backward per use. They are variables for the same
// reason as relu: the golden tests replace them by relu over the unfused
// ops.
var (
	bnRelu    = (*nn.BatchNorm2d).ForwardReLU
	bnAddRelu = (*nn.BatchNorm2d).ForwardAddReLU
)

// stage is the reference's DenseBlock (densenet) and NetworkBlock
// (wresnet): a module whose one child, "layer", is the Sequential of its
// blocks, applied in order. It holds nothing itself; it exists so that the
// keys are the reference's ("block1.layer.0.bn1.weight").
type stage struct {
	nn.Base
	layer *nn.Sequential
}

func newStage(blocks ...nn.Module) *stage {
	s := &stage{layer: nn.NewSequential(blocks...)}
	s.layer.DiscardIntermediates = true // the blocks keep nothing of their input
	s.RegisterModule("layer", s.layer)
	return s
}

// Forward runs x through the blocks.
func (s *stage) Forward(x *autograd.Var) *autograd.Var { return s.layer.Forward(x) }
