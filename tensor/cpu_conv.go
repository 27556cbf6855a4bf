package tensor

import (
	"math"

	"github.com/vmdls-go/vmdls/kernels"
)

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

// channelGrain is the number of channels per work chunk such that a chunk
// covers at least grainReduce elements.
func channelGrain(n, hw int) int { return max(1, grainReduce/max(1, n*hw)) }

func (cpuBackend) ChannelStats(mean, variance, x Buf, n, c, hw int) {
	xs, ms, vs := cpuSlice(x), cpuSlice(mean), cpuSlice(variance)
	cnt := float64(n * hw)
	kernels.ParallelFor(c, channelGrain(n, hw), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			// Two passes: the mean, then squares of differences from it,
			// corrected by the residual mean (no cancellation either way).
			var s float64
			for i := 0; i < n; i++ {
				d, _ := kernels.SumDiff64(xs[(i*c+ch)*hw:(i*c+ch+1)*hw], 0)
				s += d
			}
			m := s / cnt
			var sd, sq float64
			for i := 0; i < n; i++ {
				a, b := kernels.SumDiff64(xs[(i*c+ch)*hw:(i*c+ch+1)*hw], m)
				sd += a
				sq += b
			}
			if cnt == 0 {
				ms[ch], vs[ch] = float32(math.NaN()), float32(math.NaN())
				continue
			}
			ms[ch] = float32(m)
			vs[ch] = float32(math.Max(0, (sq-sd*sd/cnt)/cnt))
		}
	})
}

func (cpuBackend) ChannelAffine(y, x Buf, n, c, hw int, scale, shift Buf) {
	ys, xs, a, b := cpuSlice(y), cpuSlice(x), cpuSlice(scale), cpuSlice(shift)
	kernels.ParallelFor(n*c, max(1, grainElementwise/max(1, hw)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := p % c
			dst := ys[p*hw : (p+1)*hw]
			kernels.ScaleShift(dst, xs[p*hw:(p+1)*hw], a[ch], b[ch])
		}
	})
}

func (cpuBackend) BatchNormBackward(dx, dgamma, dbeta, dy, x Buf, n, c, hw int, mean, invstd, gamma Buf, batchStats bool) {
	dys, xs := cpuSlice(dy), cpuSlice(x)
	ms, is := cpuSlice(mean), cpuSlice(invstd)
	gs, dxs, dgs, dbs := optSlice(gamma), optSlice(dx), optSlice(dgamma), optSlice(dbeta)
	cnt := float64(n * hw)
	// Per channel: the coefficients of dx = dy*k1 - (x-mean)*k2 - k3.
	k1 := make([]float32, c)
	k2 := make([]float32, c)
	k3 := make([]float32, c)
	kernels.ParallelFor(c, channelGrain(n, hw), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			m := float64(ms[ch])
			var sdy, sdyx float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * hw
				g, v := dys[off:off+hw], xs[off:off+hw]
				a, b := kernels.SumProdDiff64(g, v, m)
				sdy += a
				sdyx += b
			}
			inv := float64(is[ch])
			w := 1.0
			if gs != nil {
				w = float64(gs[ch])
			}
			if dbs != nil {
				dbs[ch] = float32(sdy)
			}
			if dgs != nil {
				dgs[ch] = float32(sdyx * inv)
			}
			k1[ch] = float32(w * inv)
			if batchStats && cnt > 0 {
				k2[ch] = float32(w * inv * inv * inv * sdyx / cnt)
				k3[ch] = float32(w * inv * sdy / cnt)
			}
		}
	})
	if dxs == nil {
		return
	}
	kernels.ParallelFor(n*c, max(1, grainElementwise/max(1, hw)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := p % c
			a, b, d, m := k1[ch], k2[ch], k3[ch], ms[ch]
			dst, g, v := dxs[p*hw:(p+1)*hw], dys[p*hw:(p+1)*hw], xs[p*hw:(p+1)*hw]
			if !batchStats {
				kernels.Scale(dst, a, g)
				continue
			}
			kernels.BatchNormInputGrad(dst, g, v, a, b, m, d)
		}
	})
}
