package nn

import (
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// SGDOptions are one parameter group's hyperparameters of SGD, under
// PyTorch's names.
type SGDOptions struct {
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	Dampening   float64 `json:"dampening"`
	WeightDecay float64 `json:"weight_decay"`
	Nesterov    bool    `json:"nesterov"`
}

func (o SGDOptions) check() error {
	switch {
	case !(o.LR >= 0):
		return fmt.Errorf("invalid learning rate %v", o.LR)
	case !(o.Momentum >= 0):
		return fmt.Errorf("invalid momentum %v", o.Momentum)
	case !(o.WeightDecay >= 0):
		return fmt.Errorf("invalid weight_decay %v", o.WeightDecay)
	case math.IsNaN(o.Dampening) || math.IsInf(o.Dampening, 0):
		return fmt.Errorf("invalid dampening %v", o.Dampening)
	case o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0):
		return fmt.Errorf("Nesterov momentum requires a momentum and zero dampening (momentum %v, dampening %v)", o.Momentum, o.Dampening)
	}
	return nil
}

func (o SGDOptions) lr() float64 { return o.LR }

func (o SGDOptions) withLR(lr float64) SGDOptions { o.LR = lr; return o }

// SGD is stochastic gradient descent with PyTorch 1.13's update rule. For
// each parameter p with gradient g (one group's hyperparameters):
//
//	g = g + weight_decay*p                       if weight_decay != 0
//	buf = g (first step), else momentum*buf + (1-dampening)*g
//	g = g + momentum*buf (Nesterov), else g = buf  if momentum != 0
//	p = p - lr*g
//
// in float32 with the rounding of PyTorch's CPU kernels (each "a + s*b" is
// one fused multiply-add), so that results agree with PyTorch's bit for bit.
// The update is one backend primitive per parameter (tensor.SGDStep), on
// the parameter's device.
type SGD struct {
	// The groups, and each parameter's momentum buffer (nil until the
	// first step that has a gradient).
	paramGroups[SGDOptions, *tensor.Tensor]
}

// NewSGD makes an SGD optimizer with one parameter group.
func NewSGD(params []*autograd.Var, o SGDOptions) (*SGD, error) {
	if len(params) == 0 {
		return nil, fmt.Errorf("nn.NewSGD: empty parameter list")
	}
	s := &SGD{}
	if err := s.AddGroup(params, o); err != nil {
		return nil, err
	}
	return s, nil
}

// AddGroup adds a parameter group with its own hyperparameters. A parameter
// may belong to one group only.
func (s *SGD) AddGroup(params []*autograd.Var, o SGDOptions) error {
	return s.addGroup("SGD", params, o)
}

// Options returns group g's hyperparameters.
func (s *SGD) Options(g int) SGDOptions { return s.opts[g] }

// Step applies one SGD update to every parameter that has a gradient.
func (s *SGD) Step() {
	for gi, o := range s.opts {
		wd := float32(o.WeightDecay)
		mom := float32(o.Momentum)
		damp := float32(1 - o.Dampening) // PyTorch forms 1-dampening in double, then rounds
		negLR := float32(-o.LR)
		for pi, p := range s.params[gi] {
			gt := p.Grad()
			if gt == nil {
				continue
			}
			checkGrad("SGD", p, gt)
			pv := p.Value()
			var buf *tensor.Tensor
			first := false
			if o.Momentum != 0 {
				if s.state[gi][pi] == nil {
					s.state[gi][pi] = tensor.ZerosOn(pv.Device(), p.Shape()...)
					first = true
				}
				// State restored on the host follows its parameter.
				buf = s.state[gi][pi].MoveTo(pv.Device())
			}
			tensor.SGDStep(pv, gt, buf, tensor.SGDOptions{WeightDecay: wd, Momentum: mom, OneMinusDampening: damp,
				NegLR: negLR, Nesterov: o.Nesterov, First: first})
		}
	}
}

// StateDict exports the hyperparameters and momentum buffers.
func (s *SGD) StateDict() *OptimizerState {
	st := &OptimizerState{Type: "SGD", ParamGroups: s.exportGroups()}
	for idx, b := range s.flatState() {
		if b != nil {
			st.State = append(st.State, Named[*tensor.Tensor]{fmt.Sprintf("%d.momentum_buffer", idx), b.Clone()})
		}
	}
	return st
}

// LoadStateDict restores hyperparameters and momentum buffers.
func (s *SGD) LoadStateDict(st *OptimizerState) error {
	opts, err := s.importOptions("SGD", st)
	if err != nil {
		return err
	}
	flat := s.flatParams()
	bufs := make([]*tensor.Tensor, len(flat))
	for _, e := range st.State {
		i, name, ok := splitStateKey(e.Name)
		if !ok || i >= len(flat) || name != "momentum_buffer" {
			return fmt.Errorf("nn.SGD.LoadStateDict: unexpected state %q (SGD over %d parameters keeps <index>.momentum_buffer)", e.Name, len(flat))
		}
		if bufs[i] != nil {
			return fmt.Errorf("nn.SGD.LoadStateDict: state %q given twice", e.Name)
		}
		t, err := stateTensor("SGD", e.Name, e.Value, flat[i].Shape())
		if err != nil {
			return err
		}
		bufs[i] = t
	}
	s.restore(opts, bufs)
	return nil
}
