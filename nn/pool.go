package nn

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// MaxPool2d is torch.nn.MaxPool2d (floor mode, no dilation): the maximum of
// each Kernel window moved by Stride over the input padded by Padding.
type MaxPool2d struct {
	Base
	Kernel, Stride, Padding [2]int
}

// NewMaxPool2d makes a square max pool; stride 0 means stride = kernel,
// PyTorch's default.
func NewMaxPool2d(kernel, stride, padding int) *MaxPool2d {
	if stride == 0 {
		stride = kernel
	}
	if kernel < 1 || stride < 1 || padding < 0 || 2*padding > kernel {
		panic(fmt.Sprintf("nn.NewMaxPool2d: invalid kernel=%d stride=%d padding=%d", kernel, stride, padding))
	}
	return &MaxPool2d{Kernel: [2]int{kernel, kernel}, Stride: [2]int{stride, stride}, Padding: [2]int{padding, padding}}
}

// Forward pools x [N, C, H, W].
func (m *MaxPool2d) Forward(x *autograd.Var) *autograd.Var {
	y, _ := autograd.MaxPool2d(x, m.Kernel, m.Stride, m.Padding)
	return y
}

// AvgPool2d is torch.nn.AvgPool2d (floor mode): the mean of each Kernel
// window. CountIncludePad (true by default, as in PyTorch) counts padding
// in the divisor.
type AvgPool2d struct {
	Base
	Kernel, Stride, Padding [2]int
	CountIncludePad         bool
}

// NewAvgPool2d makes a square average pool; stride 0 means stride = kernel.
func NewAvgPool2d(kernel, stride, padding int) *AvgPool2d {
	if stride == 0 {
		stride = kernel
	}
	if kernel < 1 || stride < 1 || padding < 0 || 2*padding > kernel {
		panic(fmt.Sprintf("nn.NewAvgPool2d: invalid kernel=%d stride=%d padding=%d", kernel, stride, padding))
	}
	return &AvgPool2d{Kernel: [2]int{kernel, kernel}, Stride: [2]int{stride, stride}, Padding: [2]int{padding, padding},
		CountIncludePad: true}
}

// Forward pools x [N, C, H, W].
func (m *AvgPool2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.AvgPool2d(x, m.Kernel, m.Stride, m.Padding, m.CountIncludePad)
}

// AdaptiveAvgPool2d is torch.nn.AdaptiveAvgPool2d for output sizes that
// divide the input evenly (1×1, global average pooling, always does): the
// windows are then the plain tiles PyTorch's adaptive windows reduce to.
type AdaptiveAvgPool2d struct {
	Base
	OutH, OutW int
}

// NewAdaptiveAvgPool2d makes an adaptive average pool to outH×outW.
func NewAdaptiveAvgPool2d(outH, outW int) *AdaptiveAvgPool2d {
	if outH < 1 || outW < 1 {
		panic(fmt.Sprintf("nn.NewAdaptiveAvgPool2d: output size %dx%d", outH, outW))
	}
	return &AdaptiveAvgPool2d{OutH: outH, OutW: outW}
}

// Forward pools x [N, C, H, W] to [N, C, OutH, OutW].
func (m *AdaptiveAvgPool2d) Forward(x *autograd.Var) *autograd.Var {
	sh := x.Shape()
	if len(sh) != 4 {
		panic(&tensor.ShapeError{Op: "nn.AdaptiveAvgPool2d", Shapes: [][]int{sh}, Detail: "input must be [N, C, H, W]"})
	}
	if m.OutH == 1 && m.OutW == 1 {
		return autograd.GlobalAvgPool2d(x)
	}
	if sh[2]%m.OutH != 0 || sh[3]%m.OutW != 0 {
		panic(&tensor.ShapeError{Op: "nn.AdaptiveAvgPool2d", Shapes: [][]int{sh},
			Detail: fmt.Sprintf("output size %dx%d does not divide the input (only such sizes are supported)", m.OutH, m.OutW)})
	}
	k := [2]int{sh[2] / m.OutH, sh[3] / m.OutW}
	return autograd.AvgPool2d(x, k, k, [2]int{}, true)
}
