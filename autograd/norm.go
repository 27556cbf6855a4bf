package autograd

import "github.com/vmdls-go/vmdls/tensor"

// BatchNorm2d normalizes x [N, C, ...] per channel, as
// torch.nn.functional.batch_norm: with the batch's statistics in training
// (updating runMean and runVar in place with momentum, the variance
// unbiased) and when runMean and runVar are nil, with the running
// statistics otherwise; then scales by gamma and shifts by beta (either may
// be nil). In training the gradient flows through the batch statistics.
func BatchNorm2d(x, gamma, beta *Var, runMean, runVar *tensor.Tensor, training bool, momentum, eps float32) *Var {
	return batchNorm2d("BatchNorm2d", x, gamma, beta, nil, runMean, runVar, training, momentum, eps, false)
}

// BatchNorm2dReLU returns Relu(BatchNorm2d(x, ...)) as one op. The
// normalized tensor is rectified in place, so backward keeps only x and the
// output, as PyTorch does with an in-place ReLU after batch norm: one
// activation-sized tensor less per layer in training. Values and gradients
// are those of the two ops composed (the gradient is 0 where the output is).
func BatchNorm2dReLU(x, gamma, beta *Var, runMean, runVar *tensor.Tensor, training bool, momentum, eps float32) *Var {
	return batchNorm2d("BatchNorm2dReLU", x, gamma, beta, nil, runMean, runVar, training, momentum, eps, true)
}

// BatchNorm2dAddReLU returns Relu(Add(BatchNorm2d(x, ...), residual)) as one
// op, the join of a ResNet basic block: the shortcut is added into the
// normalized tensor and the sum rectified in place, as PyTorch's in-place
// `out += identity; relu_(out)` does, so backward keeps x and the output
// and nothing in between. residual must broadcast to x's shape. Values and
// gradients are those of the three ops composed.
func BatchNorm2dAddReLU(x, gamma, beta, residual *Var, runMean, runVar *tensor.Tensor, training bool, momentum, eps float32) *Var {
	return batchNorm2d("BatchNorm2dAddReLU", x, gamma, beta, residual, runMean, runVar, training, momentum, eps, true)
}

// batchNorm2d is the batch norm op, optionally followed in place by the
// addition of residual (when not nil) and a ReLU.
func batchNorm2d(op string, x, gamma, beta, residual *Var, runMean, runVar *tensor.Tensor, training bool, momentum, eps float32, relu bool) *Var {
	var gv, bv *tensor.Tensor
	inputs := []*Var{x}
	if gamma != nil {
		gv = gamma.value
		inputs = append(inputs, gamma)
	}
	if beta != nil {
		bv = beta.value
		inputs = append(inputs, beta)
	}
	if residual != nil {
		inputs = append(inputs, residual)
	}
	y, mean, invstd := tensor.BatchNorm2d(x.value, gv, bv, runMean, runVar, training, momentum, eps)
	if residual != nil {
		y.AddInPlace(residual.value)
	}
	if relu {
		y.ReluInPlace()
	}
	batchStats := training || runMean == nil
	xv, needX := x.value, x.requiresGrad
	hasG, hasB, hasR := gamma != nil, beta != nil, residual != nil
	wantG := hasG && gamma.requiresGrad
	wantB := hasB && beta.requiresGrad
	wantR := hasR && residual.requiresGrad
	var rs []int
	if hasR {
		rs = residual.Shape()
	}
	var rectified *tensor.Tensor // the output, kept for the ReLU's mask
	if relu {
		rectified = y
	}
	return record(op, y, func(g *tensor.Tensor) []*tensor.Tensor {
		if rectified != nil {
			g = tensor.ReluBackward(g, rectified)
		}
		dx, dg, db := tensor.BatchNorm2dBackward(g, xv, mean, invstd, gv, batchStats, needX, wantG, wantB)
		grads := []*tensor.Tensor{dx}
		if hasG {
			grads = append(grads, dg)
		}
		if hasB {
			grads = append(grads, db)
		}
		if hasR {
			var dr *tensor.Tensor
			if wantR {
				dr = reduce(g, rs)
			}
			grads = append(grads, dr)
		}
		return grads
	}, inputs...)
}
