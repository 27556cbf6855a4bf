package tensor

import (
	"slices"

	"github.com/vmdls-go/vmdls/kernels"
)

// SGDOptions are the float32 scalars of one fused SGD update
// (kernels.SGDOptions): the optimizer (nn.SGD) forms them from its float64
// hyperparameters as PyTorch does, and every backend applies the same
// rule with them.
type SGDOptions = kernels.SGDOptions

// AdamOptions are the float32 scalars of one fused Adam update
// (kernels.AdamOptions), the bias corrections already folded in by the
// optimizer (nn.Adam).
type AdamOptions = kernels.AdamOptions

// SGDStep applies one SGD update in place to parameter p from gradient g,
// with momentum buffer buf (nil when o.Momentum is 0): PyTorch 1.13's rule
// with its CPU rounding (one fused multiply-add per "a + s*b"; see
// kernels.SGDStep). It is a backend primitive so that a step on a device
// is one pass there, with no host copy of the parameters.
func SGDStep(p, g, buf *Tensor, o SGDOptions) {
	ts := []*Tensor{p, g}
	if o.Momentum != 0 {
		if buf == nil {
			fail("tensor.SGDStep", "momentum needs a buffer", p.shape)
		}
		ts = append(ts, buf)
	}
	checkOptim("tensor.SGDStep", ts)
	if p.n == 0 {
		return
	}
	var bb Buf
	if o.Momentum != 0 {
		bb = buf.buf()
	}
	p.backend().SGDStep(p.buf(), g.buf(), bb, o)
}

// AdamStep applies one Adam update in place to parameter p from gradient
// g and the moments m and v; vmax, when not nil, is AMSGrad's running
// maximum of v (kernels.AdamStep's rule and rounding).
func AdamStep(p, g, m, v, vmax *Tensor, o AdamOptions) {
	ts := []*Tensor{p, g, m, v}
	if vmax != nil {
		ts = append(ts, vmax)
	}
	checkOptim("tensor.AdamStep", ts)
	if p.n == 0 {
		return
	}
	var vb Buf
	if vmax != nil {
		vb = vmax.buf()
	}
	p.backend().AdamStep(p.buf(), g.buf(), m.buf(), v.buf(), vb, o)
}

// checkOptim panics unless the optimizer operands share one device and
// one shape.
func checkOptim(op string, ts []*Tensor) {
	sameDevice(op, ts...)
	for _, t := range ts[1:] {
		if !slices.Equal(t.shape, ts[0].shape) {
			fail(op, "shapes differ", ts[0].shape, t.shape)
		}
	}
}
