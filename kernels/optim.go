package kernels

import (
	"math"

	"github.com/vmdls-go/vmdls/parallel"
)

// Optimizer updates, elementwise over a parameter and its state, as
// PyTorch's CPU kernels compute them: where PyTorch calls a fused
// multiply-add (add(alpha=), addcmul), the result is rounded once, and the
// other operations are rounded one by one, so that updates agree with
// PyTorch bit for bit. The AVX2 path uses the FMA instructions, which round
// once by definition; the pure-Go twins use FMA32.

// FMA32 returns x*y+z rounded once to float32.
//
// The product of two float32 values is exact in float64, so only the sum
// rounds, first to float64 and then to float32. That double rounding differs
// from a single rounding only when the float64 sum lands exactly halfway
// between two float32 values while the exact sum does not; the error term of
// the sum (Knuth's TwoSum) tells which way to break that tie.
func FMA32(x, y, z float32) float32 {
	p := float64(float64(x) * float64(y)) // exact: 24+24 significant bits
	zz := float64(z)
	s := p + zz
	r := float32(s)
	if float64(r) == s || math.IsInf(s, 0) || math.IsNaN(s) {
		return r
	}
	// Error of the float64 sum, exact by TwoSum.
	bv := s - p
	e := (p - (s - bv)) + (zz - bv)
	if e == 0 {
		return r
	}
	// r2 is the float32 neighbour of r on the other side of s.
	var r2 float32
	if float64(r) < s {
		r2 = math.Nextafter32(r, float32(math.Inf(1)))
	} else {
		r2 = math.Nextafter32(r, float32(math.Inf(-1)))
	}
	if s-float64(r) != float64(r2)-s {
		return r // not a tie: both roundings agree
	}
	// A tie in float64 that is not one in exact arithmetic: round toward e.
	if (e > 0) == (r2 > r) {
		return r2
	}
	return r
}

// SGDOptions are the float32 scalars of one SGD update (torch.optim.SGD's
// single-tensor path with foreach off).
type SGDOptions struct {
	WeightDecay float32 // 0: none
	Momentum    float32 // 0: no momentum buffer
	// OneMinusDampening is 1 - dampening, formed in double and rounded, as
	// PyTorch passes it.
	OneMinusDampening float32
	NegLR             float32 // -lr
	Nesterov          bool
	// First marks the first step of a momentum buffer, which PyTorch sets
	// to the (decayed) gradient instead of updating it.
	First bool
}

// SGDStep applies one SGD update to the parameter p with gradient g and
// momentum buffer buf (unused, and may be nil, when Momentum is 0):
//
//	d = g + wd*p                       (fused; only with weight decay)
//	buf = d (first step) or buf*mom + (1-damp)*d (the sum fused)
//	d = d + mom*buf (Nesterov, fused) or buf
//	p = p - lr*d                       (fused)
//
// Work is split over the worker pool for large parameters.
func SGDStep(p, g, buf []float32, o SGDOptions) {
	checkLen2("SGDStep", "g", len(g), "p", len(p))
	if o.Momentum != 0 {
		checkLen2("SGDStep", "buf", len(buf), "p", len(p))
	}
	parallel.For(len(p), optimGrain, func(lo, hi int) {
		var bs []float32
		if o.Momentum != 0 {
			bs = buf[lo:hi]
		}
		sgdStep(p[lo:hi], g[lo:hi], bs, o)
	})
}

// optimGrain is the least number of elements a worker's share of an update
// should have: below it the hand-off costs more than the memory pass.
const optimGrain = 1 << 15

func sgdStep(p, g, buf []float32, o SGDOptions) {
	done := 0
	if useAVX2 {
		done = len(p) &^ 7
		if done > 0 {
			var bp *float32
			if buf != nil {
				bp = &buf[0]
			}
			sgdStepAVX2(&p[0], &g[0], bp, done, o.WeightDecay, o.Momentum, o.OneMinusDampening, o.NegLR, sgdFlags(o))
		}
	}
	var bs []float32
	if buf != nil {
		bs = buf[done:]
	}
	sgdStepGeneric(p[done:], g[done:], bs, o)
}

// The sgdStepAVX2 flags.
const (
	sgdWeightDecay = 1 << iota
	sgdMomentum
	sgdFirst
	sgdNesterov
)

func sgdFlags(o SGDOptions) int {
	f := 0
	if o.WeightDecay != 0 {
		f |= sgdWeightDecay
	}
	if o.Momentum != 0 {
		f |= sgdMomentum
		if o.First {
			f |= sgdFirst
		}
		if o.Nesterov {
			f |= sgdNesterov
		}
	}
	return f
}

// sgdStepGeneric is SGDStep's specification.
func sgdStepGeneric(p, g, buf []float32, o SGDOptions) {
	for j := range p {
		d := g[j]
		if o.WeightDecay != 0 {
			d = FMA32(p[j], o.WeightDecay, d)
		}
		if o.Momentum != 0 {
			if o.First {
				buf[j] = d
			} else {
				buf[j] = FMA32(d, o.OneMinusDampening, float32(buf[j]*o.Momentum))
			}
			if o.Nesterov {
				d = FMA32(buf[j], o.Momentum, d)
			} else {
				d = buf[j]
			}
		}
		p[j] = FMA32(d, o.NegLR, p[j])
	}
}

// AdamOptions are the float32 scalars of one Adam update, rounded from the
// double-precision values PyTorch forms in Python.
type AdamOptions struct {
	WeightDecay   float32 // 0: none (L2, added to the gradient)
	Beta1, Beta2  float32
	OneMinusBeta1 float32 // 1 - beta1, formed in double
	OneMinusBeta2 float32 // 1 - beta2, formed in double
	NegStep       float32 // -lr / (1 - beta1^t)
	SqrtBiasCorr2 float32 // sqrt(1 - beta2^t)
	Eps           float32
}

// AdamStep applies one Adam update to parameter p with gradient g and the
// moment buffers m and v; vmax, when not nil, is AMSGrad's running maximum
// of v:
//
//	g = g + wd*p                 (fused; only with weight decay)
//	m = m*b1 + (1-b1)*g          (the sum fused)
//	v = v*b2 + ((1-b2)*g)*g      (the sum fused)
//	p = p + (-step*m) / (sqrt(max(vmax, v))/sqrt(bc2) + eps)
//
// Work is split over the worker pool for large parameters.
func AdamStep(p, g, m, v, vmax []float32, o AdamOptions) {
	checkLen2("AdamStep", "g", len(g), "p", len(p))
	checkLen2("AdamStep", "m", len(m), "p", len(p))
	checkLen2("AdamStep", "v", len(v), "p", len(p))
	if vmax != nil {
		checkLen2("AdamStep", "vmax", len(vmax), "p", len(p))
	}
	parallel.For(len(p), optimGrain, func(lo, hi int) {
		var vm []float32
		if vmax != nil {
			vm = vmax[lo:hi]
		}
		adamStep(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], vm, o)
	})
}

func adamStep(p, g, m, v, vmax []float32, o AdamOptions) {
	done := 0
	// AMSGrad's maximum stays in Go: VMAXPS does not propagate a NaN in
	// its first operand as torch.maximum does.
	if useAVX2 && vmax == nil {
		done = len(p) &^ 7
		if done > 0 {
			wd := 0
			if o.WeightDecay != 0 {
				wd = 1
			}
			adamStepAVX2(&p[0], &g[0], &m[0], &v[0], done, &o, wd)
		}
	}
	var vm []float32
	if vmax != nil {
		vm = vmax[done:]
	}
	adamStepGeneric(p[done:], g[done:], m[done:], v[done:], vm, o)
}

// adamStepGeneric is AdamStep's specification.
func adamStepGeneric(p, g, m, v, vmax []float32, o AdamOptions) {
	for j := range p {
		gj := g[j]
		if o.WeightDecay != 0 {
			gj = FMA32(p[j], o.WeightDecay, gj)
		}
		m[j] = FMA32(gj, o.OneMinusBeta1, float32(m[j]*o.Beta1))
		v[j] = FMA32(float32(o.OneMinusBeta2*gj), gj, float32(v[j]*o.Beta2))
		vv := v[j]
		if vmax != nil {
			vmax[j] = max(vmax[j], vv)
			vv = vmax[j]
		}
		denom := float32(float32(math.Sqrt(float64(vv)))/o.SqrtBiasCorr2) + o.Eps
		p[j] = p[j] + float32(float32(o.NegStep*m[j])/denom)
	}
}
