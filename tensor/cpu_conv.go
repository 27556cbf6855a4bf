package tensor

import "github.com/vmdls-go/vmdls/kernels"

// The CPU backend's convolution, pooling and batch-norm primitives.

// optSlice is the host slice of an optional Buf, nil when it is absent.
func optSlice(b Buf) []float32 {
	if b.S == nil {
		return nil
	}
	return cpuSlice(b)
}

func (p ConvParams) kernelShape() kernels.ConvShape {
	return kernels.ConvShape{N: p.N, C: p.C, H: p.H, W: p.W, K: p.K, KH: p.KH, KW: p.KW, SH: p.SH, SW: p.SW, PH: p.PH, PW: p.PW,
		ReLU: p.ReLU, ForwardOnly: p.ForwardOnly}
}

func (p PoolParams) kernelShape() kernels.PoolShape {
	return kernels.PoolShape{N: p.N, C: p.C, H: p.H, W: p.W, KH: p.KH, KW: p.KW, SH: p.SH, SW: p.SW, PH: p.PH, PW: p.PW,
		CountIncludePad: p.CountIncludePad}
}

func (cpuBackend) Conv2d(p ConvParams, y, x, w, bias Buf) {
	kernels.Conv2d(p.kernelShape(), cpuSlice(y), cpuSlice(x), cpuSlice(w), optSlice(bias))
}

func (cpuBackend) Conv2dBackward(p ConvParams, dx, dw, db, dy, x, w Buf) {
	kernels.Conv2dBackward(p.kernelShape(), optSlice(dx), optSlice(dw), optSlice(db), cpuSlice(dy), optSlice(x), optSlice(w))
}

func (cpuBackend) MaxPool2d(p PoolParams, y, idx, x Buf) {
	kernels.MaxPool2d(p.kernelShape(), cpuSlice(y), cpuSlice(idx), cpuSlice(x))
}

func (cpuBackend) MaxPool2dBackward(p PoolParams, dx, dy, idx Buf) {
	kernels.MaxPool2dBackward(p.kernelShape(), cpuSlice(dx), cpuSlice(dy), cpuSlice(idx))
}

func (cpuBackend) AvgPool2d(p PoolParams, y, x Buf) {
	kernels.AvgPool2d(p.kernelShape(), cpuSlice(y), cpuSlice(x))
}

func (cpuBackend) AvgPool2dBackward(p PoolParams, dx, dy Buf) {
	kernels.AvgPool2dBackward(p.kernelShape(), cpuSlice(dx), cpuSlice(dy))
}

func (cpuBackend) ChannelStats(mean, variance, x Buf, n, c, hw int) {
	kernels.ChannelStats(cpuSlice(mean), cpuSlice(variance), cpuSlice(x), n, c, hw)
}

func (cpuBackend) ChannelAffine(y, x Buf, n, c, hw int, scale, shift Buf) {
	kernels.ChannelAffine(cpuSlice(y), cpuSlice(x), n, c, hw, cpuSlice(scale), cpuSlice(shift))
}

func (cpuBackend) BatchNormBackward(dx, dgamma, dbeta, dy, x Buf, n, c, hw int, mean, invstd, gamma Buf, batchStats bool) {
	kernels.BatchNormBackward(optSlice(dx), optSlice(dgamma), optSlice(dbeta), cpuSlice(dy), cpuSlice(x), n, c, hw,
		cpuSlice(mean), cpuSlice(invstd), optSlice(gamma), batchStats)
}
