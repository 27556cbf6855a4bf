package nn

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Optimizer updates parameters from their gradients, with PyTorch's update
// rules, over parameter groups that each carry their own hyperparameters.
//
// Parameters are numbered across groups in order (group 0's first, ...), as
// in PyTorch's optimizer.state_dict(); that index names their state.
type Optimizer interface {
	// Step applies one update to every parameter whose gradient is not nil;
	// parameters without a gradient are skipped, as PyTorch skips them.
	Step()
	// ZeroGrad drops every parameter's gradient (PyTorch's
	// zero_grad(set_to_none=True)): a parameter that gets no gradient before
	// the next Step is then left alone by it.
	ZeroGrad()
	// NumGroups returns the number of parameter groups.
	NumGroups() int
	// LR returns group g's learning rate.
	LR(g int) float64
	// SetLR sets group g's learning rate (what schedulers do).
	SetLR(g int, lr float64)
	// StateDict exports the hyperparameters and per-parameter state (a
	// snapshot: the tensors are copies) for a checkpoint.
	StateDict() *OptimizerState
	// LoadStateDict restores what StateDict exported, after checking that it
	// comes from the same kind of optimizer over parameters of the same
	// shapes in the same groups. Hyperparameters are restored too, as in
	// PyTorch. On error the optimizer is unchanged.
	LoadStateDict(s *OptimizerState) error
}

// OptimizerState is an optimizer's exportable state, laid out like PyTorch's
// optimizer.state_dict().
type OptimizerState struct {
	// Type is "SGD" or "Adam".
	Type string
	// ParamGroups is a JSON array with one object per group: its
	// hyperparameters under PyTorch's names ("lr", "momentum", "betas", ...)
	// and "params", the indices of its parameters.
	ParamGroups json.RawMessage
	// State holds the per-parameter tensors, keyed "<index>.<name>" with
	// PyTorch's names: "momentum_buffer" (SGD), "step", "exp_avg",
	// "exp_avg_sq", "max_exp_avg_sq" (Adam; "step" is a float32 scalar as in
	// PyTorch 1.13). Parameters that were never stepped have no entries.
	State []Named[*tensor.Tensor]
}

// checkParams rejects a parameter list PyTorch would reject: a nil
// parameter, one listed twice, or one already in another group.
func checkParams(op string, existing [][]*autograd.Var, params []*autograd.Var) error {
	seen := map[*autograd.Var]bool{}
	for _, g := range existing {
		for _, p := range g {
			seen[p] = true
		}
	}
	for i, p := range params {
		if p == nil {
			return fmt.Errorf("nn.%s: parameter %d is nil", op, i)
		}
		if !p.IsLeaf() {
			return fmt.Errorf("nn.%s: parameter %d (shape %v) is not a leaf; optimizers update leaves", op, i, p.Shape())
		}
		if seen[p] {
			return fmt.Errorf("nn.%s: parameter %d (shape %v) appears twice or in more than one group", op, i, p.Shape())
		}
		seen[p] = true
	}
	return nil
}

// groupJSON is one group's entry of ParamGroups: hyperparameters plus the
// parameter indices.
type groupJSON[O any] struct {
	Options O
	Params  []int
}

// MarshalJSON flattens the options and "params" into one object, PyTorch's
// layout.
func (g groupJSON[O]) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(g.Options)
	if err != nil {
		return nil, err
	}
	p, err := json.Marshal(g.Params)
	if err != nil {
		return nil, err
	}
	if string(b) == "{}" {
		return []byte(`{"params":` + string(p) + `}`), nil
	}
	return []byte(`{"params":` + string(p) + `,` + string(b[1:])), nil
}

// UnmarshalJSON reads the flattened layout, rejecting unknown hyperparameters.
func (g *groupJSON[O]) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	p, ok := raw["params"]
	if !ok {
		return fmt.Errorf("param group lacks \"params\"")
	}
	if err := json.Unmarshal(p, &g.Params); err != nil {
		return fmt.Errorf("param group \"params\": %v", err)
	}
	delete(raw, "params")
	rest, _ := json.Marshal(raw)
	dec := json.NewDecoder(strings.NewReader(string(rest)))
	dec.DisallowUnknownFields()
	return dec.Decode(&g.Options)
}

// exportGroups encodes the groups' options with consecutive parameter indices.
func exportGroups[O any](opts []O, sizes []int) json.RawMessage {
	out := make([]groupJSON[O], len(opts))
	next := 0
	for i, o := range opts {
		idx := make([]int, sizes[i])
		for j := range idx {
			idx[j] = next
			next++
		}
		out[i] = groupJSON[O]{o, idx}
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic("nn: encoding optimizer groups: " + err.Error()) // plain numbers and bools cannot fail
	}
	return b
}

// importGroups decodes ParamGroups, checking that it describes groups of
// the given sizes with consecutive indices.
func importGroups[O any](kind string, s *OptimizerState, sizes []int) ([]O, error) {
	if s == nil {
		return nil, fmt.Errorf("nn.%s.LoadStateDict: no state", kind)
	}
	if s.Type != kind {
		return nil, fmt.Errorf("nn.%s.LoadStateDict: the state is of a %q optimizer", kind, s.Type)
	}
	var gs []groupJSON[O]
	if err := json.Unmarshal(s.ParamGroups, &gs); err != nil {
		return nil, fmt.Errorf("nn.%s.LoadStateDict: param_groups: %v", kind, err)
	}
	if len(gs) != len(sizes) {
		return nil, fmt.Errorf("nn.%s.LoadStateDict: the state has %d parameter groups, the optimizer %d", kind, len(gs), len(sizes))
	}
	next := 0
	opts := make([]O, len(gs))
	for i, g := range gs {
		if len(g.Params) != sizes[i] {
			return nil, fmt.Errorf("nn.%s.LoadStateDict: group %d has %d parameters in the state, %d in the optimizer", kind, i, len(g.Params), sizes[i])
		}
		for _, p := range g.Params {
			if p != next {
				return nil, fmt.Errorf("nn.%s.LoadStateDict: group %d lists parameter %d where %d was expected", kind, i, p, next)
			}
			next++
		}
		opts[i] = g.Options
	}
	return opts, nil
}

// splitStateKey parses "<index>.<name>".
func splitStateKey(key string) (int, string, bool) {
	i := strings.IndexByte(key, '.')
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.Atoi(key[:i])
	if err != nil || n < 0 {
		return 0, "", false
	}
	return n, key[i+1:], true
}

// stateTensor checks a loaded state tensor's shape against its parameter's
// and returns a copy, so the optimizer never aliases the caller's tensors.
func stateTensor(kind, key string, t *tensor.Tensor, want []int) (*tensor.Tensor, error) {
	if t == nil {
		return nil, fmt.Errorf("nn.%s.LoadStateDict: state %q is nil", kind, key)
	}
	if !slices.Equal(t.Shape(), want) {
		return nil, fmt.Errorf("nn.%s.LoadStateDict: state %q has shape %v, its parameter %v", kind, key, t.Shape(), want)
	}
	return t.Clone(), nil
}

// groupOptions is what paramGroups needs of an optimizer's per-group
// hyperparameters O (SGDOptions, AdamOptions): their validation and their
// learning rate.
type groupOptions[O any] interface {
	// check says why the hyperparameters are invalid, as PyTorch's
	// constructor does, or returns nil.
	check() error
	// lr is the group's learning rate.
	lr() float64
	// withLR returns the options with the learning rate set to lr.
	withLR(lr float64) O
}

// paramGroups is the parameter-group bookkeeping SGD and Adam share: each
// group's hyperparameters O and parameters, and each parameter's optimizer
// state S (the zero S, nil, until the parameter's first step with a
// gradient). Parameters are numbered across groups in order, the index of
// PyTorch's optimizer.state_dict(). The optimizers embed it, so its
// exported methods (NumGroups, LR, SetLR, ZeroGrad of Optimizer) are
// theirs.
type paramGroups[O groupOptions[O], S comparable] struct {
	opts   []O
	params [][]*autograd.Var
	state  [][]S
}

// addGroup appends a group after checking its options and that none of its
// parameters is nil, not a leaf or already in a group; kind ("SGD",
// "Adam") names the optimizer in errors.
func (pg *paramGroups[O, S]) addGroup(kind string, params []*autograd.Var, o O) error {
	if err := o.check(); err != nil {
		return fmt.Errorf("nn.%s: group %d: %v", kind, len(pg.opts), err)
	}
	if err := checkParams(kind+".AddGroup", pg.params, params); err != nil {
		return err
	}
	pg.opts = append(pg.opts, o)
	pg.params = append(pg.params, append([]*autograd.Var(nil), params...))
	pg.state = append(pg.state, make([]S, len(params)))
	return nil
}

// NumGroups returns the number of parameter groups.
func (pg *paramGroups[O, S]) NumGroups() int { return len(pg.opts) }

// LR returns group g's learning rate.
func (pg *paramGroups[O, S]) LR(g int) float64 { return pg.opts[g].lr() }

// SetLR sets group g's learning rate (what schedulers do).
func (pg *paramGroups[O, S]) SetLR(g int, lr float64) { pg.opts[g] = pg.opts[g].withLR(lr) }

// ZeroGrad drops every parameter's gradient.
func (pg *paramGroups[O, S]) ZeroGrad() {
	for _, ps := range pg.params {
		for _, p := range ps {
			p.ZeroGrad()
		}
	}
}

// sizes returns the number of parameters of each group.
func (pg *paramGroups[O, S]) sizes() []int {
	out := make([]int, len(pg.params))
	for i, ps := range pg.params {
		out[i] = len(ps)
	}
	return out
}

// flatParams lists the groups' parameters in index order.
func (pg *paramGroups[O, S]) flatParams() []*autograd.Var {
	var out []*autograd.Var
	for _, ps := range pg.params {
		out = append(out, ps...)
	}
	return out
}

// flatState lists the parameters' states in index order (nil for a
// parameter never stepped), for StateDict.
func (pg *paramGroups[O, S]) flatState() []S {
	var out []S
	for _, ss := range pg.state {
		out = append(out, ss...)
	}
	return out
}

// exportGroups encodes the groups' options for StateDict.
func (pg *paramGroups[O, S]) exportGroups() json.RawMessage {
	return exportGroups(pg.opts, pg.sizes())
}

// importOptions decodes and checks the groups' options of a state kind's
// LoadStateDict is given; the optimizer is not changed.
func (pg *paramGroups[O, S]) importOptions(kind string, st *OptimizerState) ([]O, error) {
	opts, err := importGroups[O](kind, st, pg.sizes())
	if err != nil {
		return nil, err
	}
	for i, o := range opts {
		if err := o.check(); err != nil {
			return nil, fmt.Errorf("nn.%s.LoadStateDict: group %d: %v", kind, i, err)
		}
	}
	return opts, nil
}

// restore installs what LoadStateDict checked: the groups' options and the
// parameters' states, flat in index order.
func (pg *paramGroups[O, S]) restore(opts []O, flat []S) {
	pg.opts = opts
	idx := 0
	for gi := range pg.state {
		for pi := range pg.state[gi] {
			pg.state[gi][pi] = flat[idx]
			idx++
		}
	}
}

// checkGrad panics on a gradient whose shape differs from its parameter's:
// autograd never produces one, so it is a programming error.
func checkGrad(op string, p *autograd.Var, g *tensor.Tensor) {
	if !slices.Equal(p.Shape(), g.Shape()) {
		panic(fmt.Sprintf("nn.%s.Step: gradient shape %v does not match parameter shape %v", op, g.Shape(), p.Shape()))
	}
}
