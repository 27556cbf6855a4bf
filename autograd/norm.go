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
	return record(op, y, func(g *tensor.Tensor) []*tensor.Tensor {
		if relu {
			g = tensor.ReluBackward(g, y)
		}
		wantG := gamma != nil && gamma.requiresGrad
		wantB := beta != nil && beta.requiresGrad
		dx, dg, db := tensor.BatchNorm2dBackward(g, x.value, mean, invstd, gv, batchStats, x.requiresGrad, wantG, wantB)
		grads := []*tensor.Tensor{dx}
		if gamma != nil {
			grads = append(grads, dg)
		}
		if beta != nil {
			grads = append(grads, db)
		}
		if residual != nil {
			var dr *tensor.Tensor
			if residual.requiresGrad {
				dr = reduce(g, residual)
			}
			grads = append(grads, dr)
		}
		return grads
	}, inputs...)
}
