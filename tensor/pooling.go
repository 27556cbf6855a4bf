package tensor

import "slices"

// Pooling over NCHW tensors: PyTorch's max_pool2d and avg_pool2d in floor
// mode without dilation. Kernel sizes, strides and paddings are (height,
// width) pairs; padding may be at most half the kernel, as in PyTorch.

func poolParams(op string, x *Tensor, kernel, stride, padding [2]int) PoolParams {
	if len(x.shape) != 4 {
		fail(op, "input must be [N, C, H, W]", x.shape)
	}
	if kernel[0] < 1 || kernel[1] < 1 || stride[0] < 1 || stride[1] < 1 || padding[0] < 0 || padding[1] < 0 {
		failf(op, [][]int{x.shape}, "kernel %v and stride %v must be positive, padding %v non-negative", kernel, stride, padding)
	}
	if 2*padding[0] > kernel[0] || 2*padding[1] > kernel[1] {
		failf(op, [][]int{x.shape}, "padding %v must be at most half the kernel %v", padding, kernel)
	}
	p := PoolParams{N: x.shape[0], C: x.shape[1], H: x.shape[2], W: x.shape[3], KH: kernel[0], KW: kernel[1],
		SH: stride[0], SW: stride[1], PH: padding[0], PW: padding[1]}
	if p.H+2*p.PH < p.KH || p.W+2*p.PW < p.KW {
		failf(op, [][]int{x.shape}, "%dx%d window is larger than the padded %dx%d input", p.KH, p.KW, p.H+2*p.PH, p.W+2*p.PW)
	}
	if p.H*p.W > 1<<24 {
		failf(op, [][]int{x.shape}, "input plane of %d elements is too large for exact indices", p.H*p.W)
	}
	p.OH = (p.H+2*p.PH-p.KH)/p.SH + 1
	p.OW = (p.W+2*p.PW-p.KW)/p.SW + 1
	return p
}

// MaxPool2d returns the maxima of x [N, C, H, W] over kernel-sized windows
// and, in a tensor of the output's shape, the position h*W+w of each
// maximum within its input plane (PyTorch's return_indices, as exact
// float32 integers). Padding never wins; the first maximum wins ties.
func MaxPool2d(x *Tensor, kernel, stride, padding [2]int) (y, indices *Tensor) {
	const op = "tensor.MaxPool2d"
	p := poolParams(op, x, kernel, stride, padding)
	y = uninit(x.dev, []int{p.N, p.C, p.OH, p.OW})
	indices = uninit(x.dev, y.shape)
	if y.n > 0 {
		backendOf(op, x.dev).MaxPool2d(p, y.buf(), indices.buf(), x.buf())
	}
	return y, indices
}

// MaxPool2dBackward returns the gradient of MaxPool2d with respect to its
// input of shape xShape, given dy and the indices the forward pass returned.
func MaxPool2dBackward(dy, indices *Tensor, xShape []int, kernel, stride, padding [2]int) *Tensor {
	const op = "tensor.MaxPool2dBackward"
	dev := sameDevice(op, dy, indices)
	p := poolParams(op, &Tensor{shape: xShape}, kernel, stride, padding)
	want := []int{p.N, p.C, p.OH, p.OW}
	if !slices.Equal(dy.shape, want) || !slices.Equal(indices.shape, want) {
		failf(op, [][]int{dy.shape, indices.shape, xShape}, "gradient and indices must be %v", want)
	}
	dx := empty(dev, xShape)
	if dx.n > 0 && dy.n > 0 {
		backendOf(op, dev).MaxPool2dBackward(p, dx.buf(), dy.buf(), indices.buf())
	}
	return dx
}

// AvgPool2d returns the means of x [N, C, H, W] over kernel-sized windows.
// With countIncludePad (PyTorch's default) the divisor counts the padding
// inside a window; otherwise only real input elements.
func AvgPool2d(x *Tensor, kernel, stride, padding [2]int, countIncludePad bool) *Tensor {
	const op = "tensor.AvgPool2d"
	p := poolParams(op, x, kernel, stride, padding)
	p.CountIncludePad = countIncludePad
	y := uninit(x.dev, []int{p.N, p.C, p.OH, p.OW})
	if y.n > 0 {
		backendOf(op, x.dev).AvgPool2d(p, y.buf(), x.buf())
	}
	return y
}

// AvgPool2dBackward returns the gradient of AvgPool2d with respect to its
// input of shape xShape, given dy.
func AvgPool2dBackward(dy *Tensor, xShape []int, kernel, stride, padding [2]int, countIncludePad bool) *Tensor {
	const op = "tensor.AvgPool2dBackward"
	p := poolParams(op, &Tensor{shape: xShape}, kernel, stride, padding)
	p.CountIncludePad = countIncludePad
	if want := []int{p.N, p.C, p.OH, p.OW}; !slices.Equal(dy.shape, want) {
		failf(op, [][]int{dy.shape, xShape}, "gradient must be %v", want)
	}
	dx := empty(dy.dev, xShape)
	if dx.n > 0 && dy.n > 0 {
		backendOf(op, dy.dev).AvgPool2dBackward(p, dx.buf(), dy.buf())
	}
	return dx
}
