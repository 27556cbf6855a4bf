package tensor

import (
	"fmt"
	"slices"
)

// Convolutions over NCHW tensors, PyTorch's conv2d and conv_transpose2d with
// one group and no dilation. Strides and paddings are (height, width) pairs.

// nilBuf is the absent optional operand of a primitive.
var nilBuf Buf

// optBuf is t's Buf, or the absent Buf for a nil tensor.
func optBuf(t *Tensor) Buf {
	if t == nil {
		return nilBuf
	}
	return t.buf()
}

// convParams checks a convolution's operands and returns its description:
// x is [N, C, H, W] and w is [K, C, KH, KW].
func convParams(op string, x, w *Tensor, stride, padding [2]int) ConvParams {
	if len(x.shape) != 4 || len(w.shape) != 4 {
		fail(op, "input must be [N, C, H, W] and weight [out, in, kh, kw]", x.shape, w.shape)
	}
	if x.shape[1] != w.shape[1] {
		failf(op, [][]int{x.shape, w.shape}, "input has %d channels, weight expects %d", x.shape[1], w.shape[1])
	}
	if stride[0] < 1 || stride[1] < 1 || padding[0] < 0 || padding[1] < 0 {
		failf(op, [][]int{x.shape, w.shape}, "stride %v must be positive and padding %v non-negative", stride, padding)
	}
	p := ConvParams{N: x.shape[0], C: x.shape[1], H: x.shape[2], W: x.shape[3], K: w.shape[0], KH: w.shape[2], KW: w.shape[3],
		SH: stride[0], SW: stride[1], PH: padding[0], PW: padding[1]}
	if p.KH < 1 || p.KW < 1 {
		fail(op, "empty kernel", x.shape, w.shape)
	}
	if p.H+2*p.PH < p.KH || p.W+2*p.PW < p.KW {
		failf(op, [][]int{x.shape, w.shape}, "%dx%d kernel is larger than the padded %dx%d input", p.KH, p.KW, p.H+2*p.PH, p.W+2*p.PW)
	}
	p.OH = (p.H+2*p.PH-p.KH)/p.SH + 1
	p.OW = (p.W+2*p.PW-p.KW)/p.SW + 1
	return p
}

func checkBias(op string, bias *Tensor, k int, shapes ...[]int) {
	if bias != nil && (len(bias.shape) != 1 || bias.shape[0] != k) {
		failf(op, append(shapes, bias.shape), "bias must be [%d]", k)
	}
}

// Conv2d returns the 2-D cross-correlation of x [N, C, H, W] with the
// filters w [K, C, KH, KW], plus bias [K] when it is not nil: a
// [N, K, OH, OW] tensor with OH = (H + 2*padding[0] - KH)/stride[0] + 1 and
// likewise OW, as torch.nn.functional.conv2d.
func Conv2d(x, w, bias *Tensor, stride, padding [2]int) *Tensor {
	return Conv2dWith(x, w, bias, ConvOptions{Stride: stride, Padding: padding})
}

// Conv2dReLU returns Relu(Conv2d(x, w, bias, stride, padding)) in one pass:
// the activation is applied while the output is still in cache.
func Conv2dReLU(x, w, bias *Tensor, stride, padding [2]int) *Tensor {
	return Conv2dWith(x, w, bias, ConvOptions{Stride: stride, Padding: padding, ReLU: true})
}

// ConvOptions are the settings of Conv2dWith.
type ConvOptions struct {
	Stride, Padding [2]int // (height, width)
	// ReLU fuses max(·, 0) into the output, as Conv2dReLU.
	ReLU bool
	// ForwardOnly promises that no gradient will be taken through the
	// result (inference), which lets the CPU use F(4×4, 3×3) Winograd where
	// it is the fastest: its error, about 2e-6 of the output's scale, is
	// four times F(2×2)'s and im2col's and harmless to a forward pass.
	// autograd sets it when it records no graph.
	ForwardOnly bool
}

// Conv2dWith is Conv2d with the settings of o.
func Conv2dWith(x, w, bias *Tensor, o ConvOptions) *Tensor {
	op := "tensor.Conv2d"
	if o.ReLU {
		op = "tensor.Conv2dReLU"
	}
	dev := sameDevice(op, x, w)
	if bias != nil {
		sameDevice(op, x, bias)
	}
	p := convParams(op, x, w, o.Stride, o.Padding)
	p.ReLU, p.ForwardOnly = o.ReLU, o.ForwardOnly
	checkBias(op, bias, p.K, x.shape, w.shape)
	y := uninit(dev, []int{p.N, p.K, p.OH, p.OW})
	if y.n > 0 {
		backendOf(op, dev).Conv2d(p, y.buf(), x.buf(), w.buf(), optBuf(bias))
	}
	return y
}

// Conv2dBackward returns the gradients of Conv2d(x, w, bias, stride,
// padding) given dy, the gradient of its output: with respect to x, w and
// the bias, each only when asked for (nil otherwise).
func Conv2dBackward(dy, x, w *Tensor, stride, padding [2]int, wantX, wantW, wantBias bool) (dx, dw, db *Tensor) {
	const op = "tensor.Conv2dBackward"
	dev := sameDevice(op, dy, x, w)
	p := convParams(op, x, w, stride, padding)
	if !slices.Equal(dy.shape, []int{p.N, p.K, p.OH, p.OW}) {
		failf(op, [][]int{dy.shape, x.shape, w.shape}, "output gradient must be [%d %d %d %d]", p.N, p.K, p.OH, p.OW)
	}
	// The backend overwrites each gradient it is given.
	if wantX {
		dx = uninit(dev, x.shape)
	}
	if wantW {
		dw = uninit(dev, w.shape)
	}
	if wantBias {
		db = uninit(dev, []int{p.K})
	}
	if !wantX && !wantW && !wantBias {
		return
	}
	bx, bw := nilBuf, nilBuf
	if wantW {
		bx = x.buf()
	}
	if wantX {
		bw = w.buf()
	}
	if x.n > 0 || w.n > 0 || dy.n > 0 {
		backendOf(op, dev).Conv2dBackward(p, optBuf(dx), optBuf(dw), optBuf(db), dy.buf(), bx, bw)
	}
	return
}

// convTransposeParams describes ConvTranspose2d(x, w) as the convolution
// whose input gradient it is: x [N, Cin, H, W], w [Cin, Cout, KH, KW], the
// convolution maps [N, Cout, OH, OW] (the transposed output) to x's shape.
func convTransposeParams(op string, x, w *Tensor, stride, padding, outPadding [2]int) ConvParams {
	if len(x.shape) != 4 || len(w.shape) != 4 {
		fail(op, "input must be [N, C, H, W] and weight [in, out, kh, kw]", x.shape, w.shape)
	}
	if x.shape[1] != w.shape[0] {
		failf(op, [][]int{x.shape, w.shape}, "input has %d channels, weight expects %d", x.shape[1], w.shape[0])
	}
	if stride[0] < 1 || stride[1] < 1 || padding[0] < 0 || padding[1] < 0 || outPadding[0] < 0 || outPadding[1] < 0 {
		failf(op, [][]int{x.shape, w.shape}, "stride %v must be positive, padding %v and output padding %v non-negative", stride, padding, outPadding)
	}
	if outPadding[0] >= stride[0] || outPadding[1] >= stride[1] {
		failf(op, [][]int{x.shape, w.shape}, "output padding %v must be smaller than the stride %v", outPadding, stride)
	}
	if w.shape[2] < 1 || w.shape[3] < 1 {
		fail(op, "empty kernel", x.shape, w.shape)
	}
	oh := (x.shape[2]-1)*stride[0] - 2*padding[0] + w.shape[2] + outPadding[0]
	ow := (x.shape[3]-1)*stride[1] - 2*padding[1] + w.shape[3] + outPadding[1]
	if x.shape[2] < 1 || x.shape[3] < 1 || oh < 1 || ow < 1 {
		failf(op, [][]int{x.shape, w.shape}, "output size %dx%d is not positive", oh, ow)
	}
	return ConvParams{N: x.shape[0], C: w.shape[1], H: oh, W: ow, K: w.shape[0], KH: w.shape[2], KW: w.shape[3],
		SH: stride[0], SW: stride[1], PH: padding[0], PW: padding[1], OH: x.shape[2], OW: x.shape[3]}
}

// ConvTranspose2d returns the transposed convolution of x [N, Cin, H, W]
// with w [Cin, Cout, KH, KW] plus bias [Cout] when not nil, as
// torch.nn.functional.conv_transpose2d: a [N, Cout, OH, OW] tensor with
// OH = (H-1)*stride[0] - 2*padding[0] + KH + outPadding[0], likewise OW.
func ConvTranspose2d(x, w, bias *Tensor, stride, padding, outPadding [2]int) *Tensor {
	const op = "tensor.ConvTranspose2d"
	dev := sameDevice(op, x, w)
	if bias != nil {
		sameDevice(op, x, bias)
	}
	p := convTransposeParams(op, x, w, stride, padding, outPadding)
	checkBias(op, bias, p.C, x.shape, w.shape)
	y := uninit(dev, []int{p.N, p.C, p.H, p.W})
	if y.n == 0 {
		return y
	}
	b := backendOf(op, dev)
	b.Conv2dBackward(p, y.buf(), nilBuf, nilBuf, x.buf(), nilBuf, w.buf())
	if bias != nil {
		b.Binary(BAdd, y.buf(), y.shape, y.buf(), contiguousStrides(y.shape), bias.buf(), []int{0, 1, 0, 0})
	}
	return y
}

// ConvTranspose2dBackward returns the gradients of ConvTranspose2d with
// respect to x, w and the bias (each only when asked for) given dy, the
// gradient of its output.
func ConvTranspose2dBackward(dy, x, w *Tensor, stride, padding, outPadding [2]int, wantX, wantW, wantBias bool) (dx, dw, db *Tensor) {
	const op = "tensor.ConvTranspose2dBackward"
	dev := sameDevice(op, dy, x, w)
	p := convTransposeParams(op, x, w, stride, padding, outPadding)
	if !slices.Equal(dy.shape, []int{p.N, p.C, p.H, p.W}) {
		failf(op, [][]int{dy.shape, x.shape, w.shape}, "output gradient must be [%d %d %d %d]", p.N, p.C, p.H, p.W)
	}
	b := backendOf(op, dev)
	if wantX {
		// The transposed convolution's input gradient is the forward
		// convolution of dy with the same filters.
		dx = uninit(dev, x.shape)
		if dx.n > 0 {
			b.Conv2d(p, dx.buf(), dy.buf(), w.buf(), nilBuf)
		}
	}
	if wantW {
		// The filter gradient of the convolution with dy as its input and x
		// as its output gradient.
		dw = uninit(dev, w.shape)
		if dw.n > 0 {
			b.Conv2dBackward(p, nilBuf, dw.buf(), nilBuf, x.buf(), dy.buf(), nilBuf)
		}
	}
	if wantBias {
		db = Sum(dy, false, 0, 2, 3)
	}
	return
}

// String describes the convolution, for messages.
func (p ConvParams) String() string {
	return fmt.Sprintf("conv %dx%dx%dx%d * %dx%dx%dx%d stride %dx%d pad %dx%d -> %dx%d",
		p.N, p.C, p.H, p.W, p.K, p.C, p.KH, p.KW, p.SH, p.SW, p.PH, p.PW, p.OH, p.OW)
}
