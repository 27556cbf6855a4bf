package tensor

import (
	"math"
	"slices"
)

// Batch normalization over the channel axis (axis 1) of x [N, C, ...], as
// torch.nn.functional.batch_norm.

// bnDims checks the operands and returns x as [n, c, hw].
func bnDims(op string, x *Tensor, perChannel ...*Tensor) (n, c, hw int) {
	if len(x.shape) < 2 {
		fail(op, "input must have a channel axis: [N, C, ...]", x.shape)
	}
	n, c, hw = x.shape[0], x.shape[1], 1
	for _, s := range x.shape[2:] {
		hw *= s
	}
	for _, t := range perChannel {
		if t != nil {
			sameDevice(op, x, t)
			if len(t.shape) != 1 || t.shape[0] != c {
				failf(op, [][]int{x.shape, t.shape}, "per-channel tensors must be [%d]", c)
			}
		}
	}
	return n, c, hw
}

// BatchNorm2d normalizes x [N, C, ...] per channel and applies the affine
// map gamma, beta (each may be nil: 1 and 0). In training, or when runMean
// and runVar are nil (PyTorch's track_running_stats=False), it uses the
// batch's mean and biased variance; in training with running statistics it
// then updates them in place: run = (1-momentum)*run + momentum*batch, with
// the unbiased variance. Otherwise it uses runMean and runVar. It returns y
// and the mean and 1/sqrt(var+eps) it used, which BatchNorm2dBackward needs.
func BatchNorm2d(x, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32) (y, mean, invstd *Tensor) {
	const op = "tensor.BatchNorm2d"
	n, c, hw := bnDims(op, x, gamma, beta, runMean, runVar)
	if (runMean == nil) != (runVar == nil) {
		fail(op, "running mean and variance must both be given or both be nil", x.shape)
	}
	b := backendOf(op, x.dev)
	batch := training || runMean == nil
	var variance *Tensor
	if batch {
		if n*hw <= 1 && training {
			failf(op, [][]int{x.shape}, "expected more than 1 value per channel when training")
		}
		mean, variance = uninit(x.dev, []int{c}), uninit(x.dev, []int{c})
		if c > 0 {
			b.ChannelStats(mean.buf(), variance.buf(), x.buf(), n, c, hw)
		}
	} else {
		mean, variance = runMean.Clone(), runVar
	}
	invstd = Div(OnesLike(variance), Sqrt(AddScalar(variance, eps)))
	scale := invstd
	if gamma != nil {
		scale = Mul(gamma, invstd)
	}
	shift := Neg(Mul(mean, scale))
	if beta != nil {
		shift = Add(beta, shift)
	}
	y = uninit(x.dev, x.shape)
	if y.n > 0 {
		b.ChannelAffine(y.buf(), x.buf(), n, c, hw, scale.buf(), shift.buf())
	}
	if training && runMean != nil {
		m := float64(n * hw)
		runMean.ScaleInPlace(1-momentum).AxpyInPlace(momentum, mean)
		unbiased := float32(m / math.Max(m-1, 1))
		runVar.ScaleInPlace(1-momentum).AxpyInPlace(momentum*unbiased, variance)
	}
	return y, mean, invstd
}

// BatchNorm2dBackward returns the gradients of BatchNorm2d with respect to
// x, gamma and beta (each only when asked for) given dy, the x and gamma of
// the forward pass and the mean and invstd it returned. batchStats says
// whether those statistics came from x (training), so that the gradient
// flows through them too.
func BatchNorm2dBackward(dy, x, mean, invstd, gamma *Tensor, batchStats, wantX, wantGamma, wantBeta bool) (dx, dgamma, dbeta *Tensor) {
	const op = "tensor.BatchNorm2dBackward"
	n, c, hw := bnDims(op, x, mean, invstd, gamma)
	sameDevice(op, x, dy)
	if !slices.Equal(dy.shape, x.shape) {
		fail(op, "gradient and input shapes differ", dy.shape, x.shape)
	}
	if wantX {
		dx = uninit(x.dev, x.shape)
	}
	if wantGamma {
		dgamma = uninit(x.dev, []int{c})
	}
	if wantBeta {
		dbeta = uninit(x.dev, []int{c})
	}
	if c > 0 && (wantX || wantGamma || wantBeta) {
		backendOf(op, x.dev).BatchNormBackward(optBuf(dx), optBuf(dgamma), optBuf(dbeta), dy.buf(), x.buf(), n, c, hw,
			mean.buf(), invstd.buf(), optBuf(gamma), batchStats)
	}
	return dx, dgamma, dbeta
}
