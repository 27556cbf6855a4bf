package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/tensor"
)

// DenseNetOutDim is enc_out_dim of the densenet encoder (DenseNet-BC-100,
// growth 12): 150 channels entering the third block plus 16 layers of 12.
const DenseNetOutDim = 342

// denseBottleneck is the reference's BottleneckBlock: BN-ReLU-1×1 conv to
// 4k channels, BN-ReLU-3×3 conv to k, and the k new channels appended to
// the input. Children "bn1", "conv1", "bn2", "conv2", the reference's names.
// The reference's dropRate is 0 for the densenet encoder, so there is no
// dropout.
type denseBottleneck struct {
	nn.Base
	bn1, bn2     *nn.BatchNorm2d
	conv1, conv2 *nn.Conv2d
}

func newDenseBottleneck(rng *rand.Rand, cin, k int, std float64) *denseBottleneck {
	b := &denseBottleneck{}
	b.bn1 = nn.NewBatchNorm2d(cin, true)
	b.RegisterModule("bn1", b.bn1)
	b.conv1 = denseConv(rng, cin, 4*k, 1, 0, std)
	b.RegisterModule("conv1", b.conv1)
	b.bn2 = nn.NewBatchNorm2d(4*k, true)
	b.RegisterModule("bn2", b.bn2)
	b.conv2 = denseConv(rng, 4*k, k, 3, 1, std)
	b.RegisterModule("conv2", b.conv2)
	return b
}

// Forward returns x with the layer's k new channels concatenated after it.
func (b *denseBottleneck) Forward(x *autograd.Var) *autograd.Var {
	// In inference each intermediate goes back for reuse once consumed
	// (autograd.DiscardUnrecorded; with a graph nothing is discarded).
	mark := tensor.AllocMark()
	a := bnRelu(b.bn1, x)
	y := b.conv1.Forward(a)
	autograd.DiscardUnrecorded(mark, a)
	a = bnRelu(b.bn2, y)
	autograd.DiscardUnrecorded(mark, y)
	y = b.conv2.Forward(a)
	autograd.DiscardUnrecorded(mark, a)
	out := autograd.Concat(1, x, y)
	autograd.DiscardUnrecorded(mark, y)
	return out
}

// denseTransition is the reference's TransitionBlock, BN-ReLU-1×1
// conv-2×2 average pool between dense blocks; children "bn1", "conv1".
type denseTransition struct {
	nn.Base
	bn1   *nn.BatchNorm2d
	conv1 *nn.Conv2d
}

func newDenseTransition(rng *rand.Rand, cin, cout int, std float64) *denseTransition {
	t := &denseTransition{}
	t.bn1 = nn.NewBatchNorm2d(cin, true)
	t.RegisterModule("bn1", t.bn1)
	t.conv1 = denseConv(rng, cin, cout, 1, 0, std)
	t.RegisterModule("conv1", t.conv1)
	return t
}

// Forward halves the spatial size and compresses the channels.
func (t *denseTransition) Forward(x *autograd.Var) *autograd.Var {
	mark := tensor.AllocMark()
	a := bnRelu(t.bn1, x)
	y := t.conv1.Forward(a)
	autograd.DiscardUnrecorded(mark, a)
	out := autograd.AvgPool2d(y, [2]int{2, 2}, [2]int{2, 2}, [2]int{}, true)
	autograd.DiscardUnrecorded(mark, y)
	return out
}

// denseConv is a bias-free convolution initialized as the reference's
// DenseNet3 does: normal with standard deviation std = sqrt(2/n), n the
// number of layers per dense block, whatever the layer's fan (METHOD.md
// section 6 lists it among the reference's quirks).
func denseConv(rng *rand.Rand, in, out, k, pad int, std float64) *nn.Conv2d {
	c := nn.NewConv2d(rng, in, out, k, 1, pad, false)
	nn.Normal(c.Weight.Value(), rng, 0, std)
	return c
}

// DenseNet is the CIFAR DenseNet-BC encoder, the reference's DenseNet3
// (models/densenet.py) with bottleneck layers: a 3×3 stem of 2k channels,
// three dense blocks of bottleneck layers with compressing transitions
// between them, a final BN+ReLU and global average pooling. Its children
// are the reference's, in its order: "conv1", "block1", "trans1",
// "block2", "trans2", "block3", "bn1", "fc", each block's layers under
// "layer", so the state_dict keys are the reference's ("conv1.weight",
// "block1.layer.0.bn1.weight", "trans1.conv1.weight", ..., "fc.bias") and a
// state_dict saved by the reference loads strictly.
type DenseNet struct {
	nn.Base
	// FC is the reference's classifier, Linear(OutDim(), classes). h does
	// not use it (neither does the reference's forward: only its unused
	// penultimate_forward does), so it never gets a gradient and optimizers
	// leave it alone; it is here because it is in the reference's
	// state_dict, so that a checkpoint loads strictly and saves back whole.
	FC      *nn.Linear
	conv1   *nn.Conv2d
	blocks  [3]*stage
	trans   [2]*denseTransition
	bn1     *nn.BatchNorm2d
	outDim  int
	tapDims [3]int
}

// NewDenseNet builds the densenet encoder of METHOD.md section 6:
// DenseNet-BC-100, growth 12, compression 0.5, output width 342, with the
// reference's classifier for DefaultClassNum classes.
func NewDenseNet(rng *rand.Rand) *DenseNet { return NewDenseNetBC(rng, 100, 12, 0.5) }

// NewDenseNetBC builds a DenseNet-BC of the given depth (4 + 6n: three
// blocks of n bottleneck layers), growth rate k and transition compression
// (reduction), with the classifier for DefaultClassNum classes; smaller ones
// serve tests.
func NewDenseNetBC(rng *rand.Rand, depth, k int, reduction float64) *DenseNet {
	return NewDenseNet3(rng, depth, DefaultClassNum, k, reduction)
}

// NewDenseNet3 builds the reference's DenseNet3(depth, classNum,
// growth_rate=k, reduction, bottleneck=True) with its initialization: conv
// weights normal with standard deviation sqrt(2/n) (n = (depth-4)/6 layers
// per block), batch norms ones and zeros, the classifier's weight PyTorch's
// default and its bias zero. classNum sizes only the classifier that h does
// not use (DenseNet.FC); a checkpoint's must match it.
func NewDenseNet3(rng *rand.Rand, depth, classNum, k int, reduction float64) *DenseNet {
	if depth < 10 || (depth-4)%6 != 0 || classNum < 1 || k < 1 || reduction <= 0 || reduction > 1 {
		panic(fmt.Sprintf("backbone.NewDenseNet3: invalid depth=%d classes=%d growth=%d reduction=%v", depth, classNum, k, reduction))
	}
	n := (depth - 4) / 6
	std := math.Sqrt(2 / float64(n))
	c := 2 * k
	d := &DenseNet{conv1: denseConv(rng, 3, c, 3, 1, std)}
	d.RegisterModule("conv1", d.conv1)
	for b := 0; b < 3; b++ {
		layers := make([]nn.Module, n)
		for i := range layers {
			layers[i] = newDenseBottleneck(rng, c, k, std)
			c += k
		}
		d.blocks[b] = newStage(layers...)
		d.RegisterModule("block"+strconv.Itoa(b+1), d.blocks[b])
		if b < 2 {
			// int(math.floor(c * reduction)) in the reference.
			co := int(float64(c) * reduction)
			d.trans[b] = newDenseTransition(rng, c, co, std)
			d.RegisterModule("trans"+strconv.Itoa(b+1), d.trans[b])
			d.tapDims[b] = co
			c = co
		}
	}
	d.bn1 = nn.NewBatchNorm2d(c, true)
	d.RegisterModule("bn1", d.bn1)
	d.FC = nn.NewLinear(rng, c, classNum, true)
	d.FC.Bias.Value().Fill(0)
	d.RegisterModule("fc", d.FC)
	d.outDim = c
	d.tapDims[2] = c
	return d
}

// Forward returns h [N, OutDim()] for x [N, 3, H, W].
func (d *DenseNet) Forward(x *autograd.Var) *autograd.Var {
	h, _ := d.ForwardTaps(x)
	return h
}

// ForwardTaps returns h and the pooled outputs of the two transitions and
// of the final BN+ReLU (which, pooled, is h itself), from one pass: the
// reference's get_layer_output(x, 1..3).
func (d *DenseNet) ForwardTaps(x *autograd.Var) (*autograd.Var, [3]*autograd.Var) {
	var taps [3]*autograd.Var
	mark := tensor.AllocMark() // the caller's x is older: never discarded
	x = d.conv1.Forward(x)
	for b, blk := range d.blocks {
		in := x
		x = blk.Forward(x)
		autograd.DiscardUnrecorded(mark, in)
		if b < 2 {
			in = x
			x = d.trans[b].Forward(x)
			autograd.DiscardUnrecorded(mark, in)
			taps[b] = dwPool(x)
		}
	}
	a := bnRelu(d.bn1, x)
	autograd.DiscardUnrecorded(mark, x)
	h := dwPool(a)
	autograd.DiscardUnrecorded(mark, a)
	taps[2] = h
	return h, taps
}

// OutDim is the width of h (342 for DenseNet-BC-100, growth 12).
func (d *DenseNet) OutDim() int { return d.outDim }

// TapDims are the channels after transition 1 and 2 and of h.
func (d *DenseNet) TapDims() [3]int { return d.tapDims }

// dwPool is global average pooling to [N, C].
func dwPool(x *autograd.Var) *autograd.Var {
	sh := x.Shape()
	return autograd.Reshape(autograd.GlobalAvgPool2d(x), sh[0], sh[1])
}
