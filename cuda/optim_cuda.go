//go:build cuda

package cuda

import (
	"github.com/vmdls-go/vmdls/tensor"
)

// The optimizers' fused updates and dropout: one kernel pass each, rounding
// as the CPU's kernels do (see vm_sgd_step, vm_adam_step and vm_dropout),
// so a step on the GPU leaves the same bits as on the CPU.

// sgdFlags encodes the options' switches as vm_sgd_step reads them.
func sgdFlags(o tensor.SGDOptions) uint64 {
	var f uint64
	if o.WeightDecay != 0 {
		f |= 1
	}
	if o.Momentum != 0 {
		f |= 2
		if o.First {
			f |= 4
		}
		if o.Nesterov {
			f |= 8
		}
	}
	return f
}

func (backend) SGDStep(p, g, buf tensor.Buf, o tensor.SGDOptions) {
	if p.N == 0 {
		return
	}
	gp := mustGPU()
	must(gp.do(func() error {
		return gp.launch("vm_sgd_step", p.N, addr(p), addr(g), optAddr(buf), ival(p.N),
			fval(o.WeightDecay), fval(o.Momentum), fval(o.OneMinusDampening), fval(o.NegLR), sgdFlags(o))
	}))
}

func (backend) AdamStep(p, g, m, v, vmax tensor.Buf, o tensor.AdamOptions) {
	if p.N == 0 {
		return
	}
	gp := mustGPU()
	must(gp.do(func() error {
		return gp.launch("vm_adam_step", p.N, addr(p), addr(g), addr(m), addr(v), optAddr(vmax), ival(p.N),
			fval(o.WeightDecay), fval(o.Beta1), fval(o.Beta2), fval(o.OneMinusBeta1), fval(o.OneMinusBeta2),
			fval(o.NegStep), fval(o.SqrtBiasCorr2), fval(o.Eps))
	}))
}

func (backend) Dropout(dst, x tensor.Buf, seed uint64, p, scale float32) {
	if dst.N == 0 {
		return
	}
	gp := mustGPU()
	must(gp.do(func() error {
		return gp.launch("vm_dropout", (dst.N+3)/4, addr(dst), addr(x), ival(dst.N), seed, fval(p), fval(scale))
	}))
}
