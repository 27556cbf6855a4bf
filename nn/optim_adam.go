package nn

import (
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// AdamOptions are one parameter group's hyperparameters of Adam, under
// PyTorch's names. DefaultAdamOptions gives PyTorch's defaults.
type AdamOptions struct {
	LR          float64    `json:"lr"`
	Betas       [2]float64 `json:"betas"`
	Eps         float64    `json:"eps"`
	WeightDecay float64    `json:"weight_decay"`
	AMSGrad     bool       `json:"amsgrad"`
}

// DefaultAdamOptions returns PyTorch's defaults: lr 1e-3, betas (0.9,
// 0.999), eps 1e-8, no weight decay, no AMSGrad.
func DefaultAdamOptions() AdamOptions {
	return AdamOptions{LR: 1e-3, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8}
}

func (o AdamOptions) check() error {
	switch {
	case !(o.LR >= 0):
		return fmt.Errorf("invalid learning rate %v", o.LR)
	case !(o.Eps >= 0):
		return fmt.Errorf("invalid epsilon %v", o.Eps)
	case !(o.Betas[0] >= 0 && o.Betas[0] < 1):
		return fmt.Errorf("invalid beta parameter at index 0: %v", o.Betas[0])
	case !(o.Betas[1] >= 0 && o.Betas[1] < 1):
		return fmt.Errorf("invalid beta parameter at index 1: %v", o.Betas[1])
	case !(o.WeightDecay >= 0):
		return fmt.Errorf("invalid weight_decay value %v", o.WeightDecay)
	}
	return nil
}

func (o AdamOptions) lr() float64 { return o.LR }

func (o AdamOptions) withLR(lr float64) AdamOptions { o.LR = lr; return o }

// adamState is one parameter's moments.
type adamState struct {
	step      int64
	m, v, max *tensor.Tensor // max only with AMSGrad
}

// Adam is the Adam optimizer with PyTorch 1.13's update rule (L2 weight
// decay added to the gradient, not AdamW). For each parameter p with
// gradient g, at step t:
//
//	g = g + weight_decay*p                  if weight_decay != 0
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	vmax = max(vmax, v); use vmax for v     with AMSGrad
//	p = p - (lr/(1-beta1^t)) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
//
// in float32, with PyTorch's operation order and fused multiply-adds, and
// the bias corrections in float64 as PyTorch forms them in Python. The
// update is one backend primitive per parameter (tensor.AdamStep), on the
// parameter's device.
type Adam struct {
	// The groups, and each parameter's moments (nil until the first step
	// that has a gradient).
	paramGroups[AdamOptions, *adamState]
}

// NewAdam makes an Adam optimizer with one parameter group.
func NewAdam(params []*autograd.Var, o AdamOptions) (*Adam, error) {
	if len(params) == 0 {
		return nil, fmt.Errorf("nn.NewAdam: empty parameter list")
	}
	a := &Adam{}
	if err := a.AddGroup(params, o); err != nil {
		return nil, err
	}
	return a, nil
}

// AddGroup adds a parameter group with its own hyperparameters.
// A parameter may belong to one group only.
func (a *Adam) AddGroup(params []*autograd.Var, o AdamOptions) error {
	return a.addGroup("Adam", params, o)
}

// Options returns group g's hyperparameters.
func (a *Adam) Options(g int) AdamOptions { return a.opts[g] }

// Step applies one Adam update to every parameter that has a gradient.
func (a *Adam) Step() {
	for gi, o := range a.opts {
		b1, b2 := float32(o.Betas[0]), float32(o.Betas[1])
		c1, c2 := float32(1-o.Betas[0]), float32(1-o.Betas[1])
		wd := float32(o.WeightDecay)
		eps := float32(o.Eps)
		for pi, p := range a.params[gi] {
			gt := p.Grad()
			if gt == nil {
				continue
			}
			checkGrad("Adam", p, gt)
			pv := p.Value()
			dev := pv.Device()
			st := a.state[gi][pi]
			if st == nil {
				st = &adamState{m: tensor.ZerosOn(dev, p.Shape()...), v: tensor.ZerosOn(dev, p.Shape()...)}
				if o.AMSGrad {
					st.max = tensor.ZerosOn(dev, p.Shape()...)
				}
				a.state[gi][pi] = st
			}
			if o.AMSGrad && st.max == nil { // AMSGrad switched on after some steps
				st.max = tensor.ZerosOn(dev, p.Shape()...)
			}
			st.moveTo(dev) // state restored on the host follows its parameter
			st.step++
			// PyTorch computes these in Python doubles, then its kernels round
			// the scalars to float32.
			bc1 := 1 - powInt(o.Betas[0], st.step)
			bc2 := 1 - powInt(o.Betas[1], st.step)
			negStep := float32(-(o.LR / bc1))
			bc2s := float32(math.Sqrt(bc2))

			var vmax *tensor.Tensor
			if o.AMSGrad {
				vmax = st.max
			}
			tensor.AdamStep(pv, gt, st.m, st.v, vmax, tensor.AdamOptions{WeightDecay: wd, Beta1: b1, Beta2: b2,
				OneMinusBeta1: c1, OneMinusBeta2: c2, NegStep: negStep, SqrtBiasCorr2: bc2s, Eps: eps})
		}
	}
}

// StateDict exports the hyperparameters, step counts and moments.
func (a *Adam) StateDict() *OptimizerState {
	st := &OptimizerState{Type: "Adam", ParamGroups: a.exportGroups()}
	for idx, s := range a.flatState() {
		if s != nil {
			add := func(name string, t *tensor.Tensor) {
				st.State = append(st.State, Named[*tensor.Tensor]{fmt.Sprintf("%d.%s", idx, name), t})
			}
			add("step", tensor.Scalar(float32(s.step)))
			add("exp_avg", s.m.Clone())
			add("exp_avg_sq", s.v.Clone())
			if s.max != nil {
				add("max_exp_avg_sq", s.max.Clone())
			}
		}
	}
	return st
}

// LoadStateDict restores hyperparameters, step counts and moments.
func (a *Adam) LoadStateDict(st *OptimizerState) error {
	opts, err := a.importOptions("Adam", st)
	if err != nil {
		return err
	}
	flat := a.flatParams()
	states := make([]*adamState, len(flat))
	seen := map[string]bool{}
	for _, e := range st.State {
		i, name, ok := splitStateKey(e.Name)
		if !ok || i >= len(flat) {
			return fmt.Errorf("nn.Adam.LoadStateDict: unexpected state %q (Adam over %d parameters)", e.Name, len(flat))
		}
		if seen[e.Name] {
			return fmt.Errorf("nn.Adam.LoadStateDict: state %q given twice", e.Name)
		}
		seen[e.Name] = true
		if states[i] == nil {
			states[i] = &adamState{}
		}
		s := states[i]
		if name == "step" {
			if e.Value == nil || e.Value.Numel() != 1 {
				return fmt.Errorf("nn.Adam.LoadStateDict: state %q must be a single number", e.Name)
			}
			f := e.Value.Item()
			if !(f >= 1 && f <= 1<<24 && f == float32(math.Trunc(float64(f)))) {
				return fmt.Errorf("nn.Adam.LoadStateDict: state %q = %v is not a step count", e.Name, f)
			}
			s.step = int64(f)
			continue
		}
		var dst **tensor.Tensor
		switch name {
		case "exp_avg":
			dst = &s.m
		case "exp_avg_sq":
			dst = &s.v
		case "max_exp_avg_sq":
			dst = &s.max
		default:
			return fmt.Errorf("nn.Adam.LoadStateDict: unexpected state %q (Adam keeps step, exp_avg, exp_avg_sq, max_exp_avg_sq)", e.Name)
		}
		t, err := stateTensor("Adam", e.Name, e.Value, flat[i].Shape())
		if err != nil {
			return err
		}
		*dst = t
	}
	idx := 0
	for gi := range a.params {
		for range a.params[gi] {
			if s := states[idx]; s != nil {
				if s.step == 0 || s.m == nil || s.v == nil || (opts[gi].AMSGrad && s.max == nil) {
					return fmt.Errorf("nn.Adam.LoadStateDict: parameter %d's state is incomplete (needs step, exp_avg, exp_avg_sq%s)", idx,
						map[bool]string{true: ", max_exp_avg_sq", false: ""}[opts[gi].AMSGrad])
				}
			}
			idx++
		}
	}
	a.restore(opts, states)
	return nil
}
