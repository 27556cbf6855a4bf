package autograd

import "github.com/vmdls-go/vmdls/tensor"

// Conv2d returns the 2-D convolution of x [N, C, H, W] with w [K, C, KH, KW]
// plus bias [K] (bias may be nil), with (height, width) strides and
// paddings: torch.nn.functional.conv2d with one group.
func Conv2d(x, w, bias *Var, stride, padding [2]int) *Var {
	inputs := []*Var{x, w}
	var bv *tensor.Tensor
	if bias != nil {
		bv = bias.value
		inputs = append(inputs, bias)
	}
	out := tensor.Conv2dWith(x.value, w.value, bv, tensor.ConvOptions{Stride: stride, Padding: padding, ForwardOnly: !recordsGraph(inputs)})
	return record("Conv2d", out, func(g *tensor.Tensor) []*tensor.Tensor {
		wantB := bias != nil && bias.requiresGrad
		dx, dw, db := tensor.Conv2dBackward(g, x.value, w.value, stride, padding, x.requiresGrad, w.requiresGrad, wantB)
		grads := []*tensor.Tensor{dx, dw}
		if bias != nil {
			grads = append(grads, db)
		}
		return grads
	}, inputs...)
}

// Conv2dReLU returns Relu(Conv2d(x, w, bias, stride, padding)) with the
// activation fused into the convolution (one pass over the output less, and
// one tensor less kept for backward). The gradient is masked where the
// output is 0, as PyTorch's relu backward does.
func Conv2dReLU(x, w, bias *Var, stride, padding [2]int) *Var {
	inputs := []*Var{x, w}
	var bv *tensor.Tensor
	if bias != nil {
		bv = bias.value
		inputs = append(inputs, bias)
	}
	out := tensor.Conv2dWith(x.value, w.value, bv, tensor.ConvOptions{Stride: stride, Padding: padding, ReLU: true, ForwardOnly: !recordsGraph(inputs)})
	return record("Conv2dReLU", out, func(g *tensor.Tensor) []*tensor.Tensor {
		g = tensor.ReluBackward(g, out)
		wantB := bias != nil && bias.requiresGrad
		dx, dw, db := tensor.Conv2dBackward(g, x.value, w.value, stride, padding, x.requiresGrad, w.requiresGrad, wantB)
		grads := []*tensor.Tensor{dx, dw}
		if bias != nil {
			grads = append(grads, db)
		}
		return grads
	}, inputs...)
}

// ConvTranspose2d returns the transposed convolution of x [N, Cin, H, W]
// with w [Cin, Cout, KH, KW] plus bias [Cout] (may be nil):
// torch.nn.functional.conv_transpose2d with one group.
func ConvTranspose2d(x, w, bias *Var, stride, padding, outPadding [2]int) *Var {
	inputs := []*Var{x, w}
	var bv *tensor.Tensor
	if bias != nil {
		bv = bias.value
		inputs = append(inputs, bias)
	}
	out := tensor.ConvTranspose2d(x.value, w.value, bv, stride, padding, outPadding)
	return record("ConvTranspose2d", out, func(g *tensor.Tensor) []*tensor.Tensor {
		wantB := bias != nil && bias.requiresGrad
		dx, dw, db := tensor.ConvTranspose2dBackward(g, x.value, w.value, stride, padding, outPadding,
			x.requiresGrad, w.requiresGrad, wantB)
		grads := []*tensor.Tensor{dx, dw}
		if bias != nil {
			grads = append(grads, db)
		}
		return grads
	}, inputs...)
}
