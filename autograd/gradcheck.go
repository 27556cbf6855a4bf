package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/tensor"
)

// CheckOptions tunes CheckGrad. The zero value means the defaults.
type CheckOptions struct {
	// Step is the finite-difference step relative to max(1, |x|): 1e-2 by
	// default, large because the function is evaluated in float32, whose
	// rounding noise (about 6e-8 of the loss) is divided by the step.
	Step float64
	// RTol and ATol bound |analytic - numeric| <= ATol + RTol*|numeric|
	// (defaults 1e-2 and 1e-3).
	RTol, ATol float64
	// Seed picks the random weights that turn the output into a scalar.
	Seed uint64
}

// CheckGrad compares the gradients Backward computes for f at inputs with
// central finite differences. The output y = f(xs) is reduced to the scalar
// L = sum(w * y) with fixed random weights w, so that every output element
// counts; L is accumulated in float64 and the differences (L(x+h) -
// L(x-h)) / 2h are formed in float64. It returns an error naming the input,
// the element and both values at the first disagreement.
//
// Inputs must stay clear of kinks (relu at 0, ties of max, clamp bounds) by
// more than the step; the inputs are perturbed in place and restored.
func CheckGrad(f func(xs []*Var) *Var, inputs []*tensor.Tensor, opt CheckOptions) error {
	if opt.Step == 0 {
		opt.Step = 1e-2
	}
	if opt.RTol == 0 {
		opt.RTol = 1e-2
	}
	if opt.ATol == 0 {
		opt.ATol = 1e-3
	}
	if !GradEnabled() {
		return fmt.Errorf("autograd: CheckGrad called inside NoGrad")
	}
	xs := make([]*Var, len(inputs))
	for i, t := range inputs {
		xs[i] = Param(t)
	}
	y := f(xs)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	w := tensor.Uniform(rng, -1, 1, y.Shape()...)
	loss := func(y *tensor.Tensor) float64 {
		var s float64
		for i, v := range y.Data() {
			s += float64(v) * float64(w.Data()[i])
		}
		return s
	}
	if err := y.BackwardWith(w); err != nil {
		return err
	}
	for i, t := range inputs {
		g := xs[i].Grad()
		if g == nil {
			return fmt.Errorf("autograd: CheckGrad: input %d (shape %v) received no gradient", i, t.Shape())
		}
		data := t.Data()
		for j := range data {
			orig := data[j]
			h := opt.Step * math.Max(1, math.Abs(float64(orig)))
			// Use the step actually representable in float32.
			plus, minus := float32(float64(orig)+h), float32(float64(orig)-h)
			var lp, lm float64
			NoGrad(func() {
				data[j] = plus
				lp = loss(f(constants(inputs)).value)
				data[j] = minus
				lm = loss(f(constants(inputs)).value)
			})
			data[j] = orig
			num := (lp - lm) / (float64(plus) - float64(minus))
			ana := float64(g.Data()[j])
			if math.IsNaN(ana) || math.Abs(ana-num) > opt.ATol+opt.RTol*math.Abs(num) {
				return fmt.Errorf("autograd: CheckGrad: input %d (shape %v) element %d: analytic %.6g, numeric %.6g",
					i, t.Shape(), j, ana, num)
			}
		}
	}
	return nil
}

func constants(ts []*tensor.Tensor) []*Var {
	vs := make([]*Var, len(ts))
	for i, t := range ts {
		vs[i] = Const(t)
	}
	return vs
}
