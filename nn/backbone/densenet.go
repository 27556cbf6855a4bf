package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// DenseNetOutDim is enc_out_dim of the densenet encoder (DenseNet-BC-100,
// growth 12): 150 channels entering the third block plus 16 layers of 12.
const DenseNetOutDim = 342

// denseConvStd is the standard deviation the reference draws every
// DenseNet convolution weight from, sqrt(2/16) whatever the layer's fan
// (METHOD.md section 6 lists it among the reference's quirks; the issue
// asks for the reference's custom initializations).
var denseConvStd = math.Sqrt(2.0 / 16)

// denseBottleneck is one bottleneck layer of a dense block: BN-ReLU-1×1
// conv to 4k channels, BN-ReLU-3×3 conv to k, and the k new channels
// appended to the input. Children "bn1", "conv1", "bn2", "conv2" as in the
// reference's Bottleneck.
type denseBottleneck struct {
	nn.Base
	bn1, bn2     *nn.BatchNorm2d
	conv1, conv2 *nn.Conv2d
}

func newDenseBottleneck(rng *rand.Rand, cin, k int) *denseBottleneck {
	b := &denseBottleneck{}
	b.bn1 = nn.NewBatchNorm2d(cin, true)
	b.RegisterModule("bn1", b.bn1)
	b.conv1 = denseConv(rng, cin, 4*k, 1, 0)
	b.RegisterModule("conv1", b.conv1)
	b.bn2 = nn.NewBatchNorm2d(4*k, true)
	b.RegisterModule("bn2", b.bn2)
	b.conv2 = denseConv(rng, 4*k, k, 3, 1)
	b.RegisterModule("conv2", b.conv2)
	return b
}

// Forward returns x with the layer's k new channels concatenated after it.
func (b *denseBottleneck) Forward(x *autograd.Var) *autograd.Var {
	y := b.conv1.Forward(bnRelu(b.bn1, x))
	y = b.conv2.Forward(bnRelu(b.bn2, y))
	return autograd.Concat(1, x, y)
}

// denseTransition is BN-ReLU-1×1 conv-2×2 average pool between dense
// blocks; children "bn", "conv" as in the reference's Transition.
type denseTransition struct {
	nn.Base
	bn   *nn.BatchNorm2d
	conv *nn.Conv2d
}

func newDenseTransition(rng *rand.Rand, cin, cout int) *denseTransition {
	t := &denseTransition{}
	t.bn = nn.NewBatchNorm2d(cin, true)
	t.RegisterModule("bn", t.bn)
	t.conv = denseConv(rng, cin, cout, 1, 0)
	t.RegisterModule("conv", t.conv)
	return t
}

// Forward halves the spatial size and compresses the channels.
func (t *denseTransition) Forward(x *autograd.Var) *autograd.Var {
	y := t.conv.Forward(bnRelu(t.bn, x))
	return autograd.AvgPool2d(y, [2]int{2, 2}, [2]int{2, 2}, [2]int{}, true)
}

// denseConv is a bias-free convolution initialized as the reference's
// DenseNet does (normal, std sqrt(2/16)).
func denseConv(rng *rand.Rand, in, out, k, pad int) *nn.Conv2d {
	c := nn.NewConv2d(rng, in, out, k, 1, pad, false)
	nn.Normal(c.Weight.Value(), rng, 0, denseConvStd)
	return c
}

// DenseNet is the CIFAR DenseNet-BC encoder: a 3×3 stem of 2k channels,
// three dense blocks of bottleneck layers with compressing transitions
// between them, a final BN+ReLU and global average pooling. Its one child
// "net" is a Sequential laid out as the reference's DenseNetBC.net, so the
// state_dict keys are "net.0.weight", "net.1.bn1.weight", ...
type DenseNet struct {
	nn.Base
	Net     *nn.Sequential
	outDim  int
	tapDims [3]int
	trans   [2]int // indices in Net of the two transitions (taps 1 and 2)
	final   int    // index in Net of the final BatchNorm2d
}

// NewDenseNet builds the densenet encoder of METHOD.md section 6:
// DenseNet-BC-100, growth 12, compression 0.5, output width 342.
func NewDenseNet(rng *rand.Rand) *DenseNet { return NewDenseNetBC(rng, 100, 12, 0.5) }

// NewDenseNetBC builds a DenseNet-BC of the given depth (4 + 6n: three
// blocks of n bottleneck layers), growth rate k and transition compression
// (reduction); smaller ones serve tests.
func NewDenseNetBC(rng *rand.Rand, depth, k int, reduction float64) *DenseNet {
	if depth < 10 || (depth-4)%6 != 0 || k < 1 || reduction <= 0 || reduction > 1 {
		panic(fmt.Sprintf("backbone.NewDenseNetBC: invalid depth=%d growth=%d reduction=%v", depth, k, reduction))
	}
	n := (depth - 4) / 6
	c := 2 * k
	d := &DenseNet{}
	net := nn.NewSequential(denseConv(rng, 3, c, 3, 1))
	for b := 0; b < 3; b++ {
		for i := 0; i < n; i++ {
			net.Append(newDenseBottleneck(rng, c, k))
			c += k
		}
		if b < 2 {
			// int(c * reduction) in the reference truncates toward zero.
			co := int(float64(c) * reduction)
			net.Append(newDenseTransition(rng, c, co))
			d.trans[b] = len(net.Layers) - 1
			d.tapDims[b] = co
			c = co
		}
	}
	d.final = len(net.Layers)
	net.Append(nn.NewBatchNorm2d(c, true))
	net.Append(nn.NewReLU())
	net.Append(nn.NewAdaptiveAvgPool2d(1, 1))
	net.Append(nn.NewFlatten())
	d.Net = net
	d.RegisterModule("net", net)
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
// of the final BN+ReLU (which, pooled, is h itself), from one pass.
func (d *DenseNet) ForwardTaps(x *autograd.Var) (*autograd.Var, [3]*autograd.Var) {
	var taps [3]*autograd.Var
	for i := 0; i < d.final; i++ {
		x = d.Net.Layers[i].Forward(x)
		if i == d.trans[0] {
			taps[0] = dwPool(x)
		} else if i == d.trans[1] {
			taps[1] = dwPool(x)
		}
	}
	x = bnRelu(d.Net.Layers[d.final].(*nn.BatchNorm2d), x)
	h := dwPool(x)
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
