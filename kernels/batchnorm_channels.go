package kernels

import (
	"math"

	"github.com/vmdls-go/vmdls/parallel"
)

// Batch normalization over NCHW data, channel by channel, built on the
// per-plane passes of batchnorm.go and split over the worker pool by
// channel (statistics) or by plane (the elementwise passes). Each
// channel's sums run in one fixed order, so the results do not depend on
// the number of threads.

// channelGrain is the number of channels per work chunk such that a chunk
// covers at least grainReduce elements.
func channelGrain(n, hw int) int { return max(1, grainReduce/max(1, n*hw)) }

// planeChunk returns the planes of hw elements per chunk of an elementwise
// pass over planes.
func planeChunk(hw int) int { return max(1, grainRows/max(1, hw)) }

// ChannelStats sets mean[ch] and variance[ch] (biased) of each channel of
// the [n, c, hw] block x, by two passes in float64: the mean, then the
// squares of differences from it, corrected by the residual mean, so that
// neither pass cancels. An empty channel (n*hw = 0) gives NaN.
func ChannelStats(mean, variance, x []float32, n, c, hw int) {
	cnt := float64(n * hw)
	parallel.For(c, channelGrain(n, hw), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				d, _ := SumDiff64(x[(i*c+ch)*hw:(i*c+ch+1)*hw], 0)
				s += d
			}
			m := s / cnt
			var sd, sq float64
			for i := 0; i < n; i++ {
				a, b := SumDiff64(x[(i*c+ch)*hw:(i*c+ch+1)*hw], m)
				sd += a
				sq += b
			}
			if cnt == 0 {
				mean[ch], variance[ch] = float32(math.NaN()), float32(math.NaN())
				continue
			}
			mean[ch] = float32(m)
			variance[ch] = float32(math.Max(0, (sq-sd*sd/cnt)/cnt))
		}
	})
}

// ChannelAffine sets y = x*scale[ch] + shift[ch] over the [n, c, hw] block
// x; y may be x.
func ChannelAffine(y, x []float32, n, c, hw int, scale, shift []float32) {
	parallel.For(n*c, planeChunk(hw), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := p % c
			ScaleShift(y[p*hw:(p+1)*hw], x[p*hw:(p+1)*hw], scale[ch], shift[ch])
		}
	})
}

// BatchNormBackward computes the gradients of batch normalization over the
// [n, c, hw] block x from dy: dbeta = Σdy and dgamma = Σdy·(x-mean)·invstd
// per channel, and dx, which with batch statistics (training) includes the
// paths through the mean and variance and otherwise is dy·gamma·invstd.
// gamma nil means a unit scale; any of dx, dgamma, dbeta may be nil when
// not wanted.
func BatchNormBackward(dx, dgamma, dbeta, dy, x []float32, n, c, hw int, mean, invstd, gamma []float32, batchStats bool) {
	cnt := float64(n * hw)
	// Per channel: the coefficients of dx = dy*k1 - (x-mean)*k2 - k3.
	k1 := make([]float32, c)
	k2 := make([]float32, c)
	k3 := make([]float32, c)
	parallel.For(c, channelGrain(n, hw), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			m := float64(mean[ch])
			var sdy, sdyx float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * hw
				a, b := SumProdDiff64(dy[off:off+hw], x[off:off+hw], m)
				sdy += a
				sdyx += b
			}
			inv := float64(invstd[ch])
			w := 1.0
			if gamma != nil {
				w = float64(gamma[ch])
			}
			if dbeta != nil {
				dbeta[ch] = float32(sdy)
			}
			if dgamma != nil {
				dgamma[ch] = float32(sdyx * inv)
			}
			k1[ch] = float32(w * inv)
			if batchStats && cnt > 0 {
				k2[ch] = float32(w * inv * inv * inv * sdyx / cnt)
				k3[ch] = float32(w * inv * sdy / cnt)
			}
		}
	})
	if dx == nil {
		return
	}
	parallel.For(n*c, planeChunk(hw), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := p % c
			dst, g, v := dx[p*hw:(p+1)*hw], dy[p*hw:(p+1)*hw], x[p*hw:(p+1)*hw]
			if !batchStats {
				Scale(dst, k1[ch], g)
				continue
			}
			BatchNormInputGrad(dst, g, v, k1[ch], k2[ch], mean[ch], k3[ch])
		}
	})
}
