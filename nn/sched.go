package nn

import (
	"encoding/json"
	"fmt"
	"math"
)

// StepLR decays every parameter group's learning rate by Gamma every
// StepSize epochs, as PyTorch's torch.optim.lr_scheduler.StepLR: call Step
// once per epoch, after that epoch's optimizer steps. It uses PyTorch's
// chained form (the group's current lr is multiplied by gamma when the
// epoch count reaches a multiple of StepSize), which equals
// base_lr * gamma^(epoch / StepSize) and rounds the same way PyTorch does.
type StepLR struct {
	opt       Optimizer
	stepSize  int
	gamma     float64
	baseLRs   []float64
	lastEpoch int
	lastLRs   []float64
}

// NewStepLR attaches a StepLR schedule to opt and, as PyTorch's constructor
// does, takes the groups' current learning rates as the base rates and
// counts epoch 0 as begun (LastEpoch() == 0).
func NewStepLR(opt Optimizer, stepSize int, gamma float64) (*StepLR, error) {
	if stepSize <= 0 {
		return nil, fmt.Errorf("nn.NewStepLR: step_size must be positive, got %d", stepSize)
	}
	if math.IsNaN(gamma) || math.IsInf(gamma, 0) {
		return nil, fmt.Errorf("nn.NewStepLR: invalid gamma %v", gamma)
	}
	s := &StepLR{opt: opt, stepSize: stepSize, gamma: gamma, lastEpoch: 0}
	for g := range opt.NumGroups() {
		s.baseLRs = append(s.baseLRs, opt.LR(g))
	}
	s.lastLRs = append([]float64(nil), s.baseLRs...)
	return s, nil
}

// Step ends an epoch: it advances the epoch count and, when the count
// reaches a multiple of the step size, multiplies every group's learning
// rate by gamma.
func (s *StepLR) Step() {
	s.lastEpoch++
	if s.lastEpoch%s.stepSize == 0 {
		for g := range s.opt.NumGroups() {
			s.opt.SetLR(g, s.opt.LR(g)*s.gamma)
		}
	}
	s.lastLRs = s.lastLRs[:0]
	for g := range s.opt.NumGroups() {
		s.lastLRs = append(s.lastLRs, s.opt.LR(g))
	}
}

// LastEpoch returns the number of Step calls (PyTorch's last_epoch).
func (s *StepLR) LastEpoch() int { return s.lastEpoch }

// LastLR returns the learning rates Step last set (PyTorch's get_last_lr()).
func (s *StepLR) LastLR() []float64 { return append([]float64(nil), s.lastLRs...) }

// BaseLRs returns the groups' learning rates at construction.
func (s *StepLR) BaseLRs() []float64 { return append([]float64(nil), s.baseLRs...) }

// stepLRState is StepLR's state under the names of PyTorch's state_dict().
type stepLRState struct {
	StepSize  int       `json:"step_size"`
	Gamma     float64   `json:"gamma"`
	BaseLRs   []float64 `json:"base_lrs"`
	LastEpoch int       `json:"last_epoch"`
	LastLR    []float64 `json:"_last_lr"`
}

// MarshalState encodes the schedule's state as a JSON object with PyTorch's
// field names (step_size, gamma, base_lrs, last_epoch, _last_lr).
func (s *StepLR) MarshalState() ([]byte, error) {
	return json.Marshal(stepLRState{s.stepSize, s.gamma, s.baseLRs, s.lastEpoch, s.lastLRs})
}

// UnmarshalState restores what MarshalState encoded. The optimizer's
// learning rates are not touched: they are part of the optimizer's state.
func (s *StepLR) UnmarshalState(b []byte) error {
	var st stepLRState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("nn.StepLR: bad state: %v", err)
	}
	if st.StepSize <= 0 || st.LastEpoch < 0 || math.IsNaN(st.Gamma) || math.IsInf(st.Gamma, 0) {
		return fmt.Errorf("nn.StepLR: bad state (step_size %d, gamma %v, last_epoch %d)", st.StepSize, st.Gamma, st.LastEpoch)
	}
	if len(st.BaseLRs) != s.opt.NumGroups() || len(st.LastLR) != s.opt.NumGroups() {
		return fmt.Errorf("nn.StepLR: the state has %d base learning rates and %d last ones, the optimizer %d groups",
			len(st.BaseLRs), len(st.LastLR), s.opt.NumGroups())
	}
	s.stepSize, s.gamma, s.baseLRs, s.lastEpoch, s.lastLRs = st.StepSize, st.Gamma, st.BaseLRs, st.LastEpoch, st.LastLR
	return nil
}
