package nn

import (
	"fmt"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Module is a network piece with a forward pass and named state. Concrete
// modules embed *Base (or Base), which supplies the bookkeeping, and
// register their parameters, buffers and children in the order PyTorch's
// counterpart does, so that StateDict keys and order match PyTorch's.
type Module interface {
	// Forward applies the module to x.
	Forward(x *autograd.Var) *autograd.Var
	// base gives the package access to the embedded Base; modules outside
	// this package get it by embedding Base.
	base() *Base
}

// Named pairs a dotted PyTorch-style name ("features.0.weight") with a value.
type Named[T any] struct {
	Name  string
	Value T
}

// Base is the bookkeeping every Module embeds: its own parameters, buffers
// and child modules, each in registration order, and the training flag.
// The zero value is ready to use and in training mode.
type Base struct {
	params   []Named[*autograd.Var]
	buffers  []Named[*tensor.Tensor]
	children []Named[Module]
	eval     bool // the zero value means training, as a fresh PyTorch module
}

func (b *Base) base() *Base { return b }

// RegisterParam adds a trainable tensor under name and returns it.
func (b *Base) RegisterParam(name string, v *autograd.Var) *autograd.Var {
	b.checkFree(name)
	b.params = append(b.params, Named[*autograd.Var]{name, v})
	return v
}

// RegisterBuffer adds non-trainable state (a running statistic) that belongs
// in the state_dict, and returns it.
func (b *Base) RegisterBuffer(name string, t *tensor.Tensor) *tensor.Tensor {
	b.checkFree(name)
	b.buffers = append(b.buffers, Named[*tensor.Tensor]{name, t})
	return t
}

// RegisterModule adds a child whose state appears under "name." and returns it.
func (b *Base) RegisterModule(name string, m Module) Module {
	b.checkFree(name)
	b.children = append(b.children, Named[Module]{name, m})
	return m
}

// checkFree panics on a name registered twice: two tensors under one key
// would make a checkpoint ambiguous, and it is always a programming error.
func (b *Base) checkFree(name string) {
	for _, p := range b.params {
		if p.Name == name {
			panic(fmt.Sprintf("nn: %q registered twice", name))
		}
	}
	for _, p := range b.buffers {
		if p.Name == name {
			panic(fmt.Sprintf("nn: %q registered twice", name))
		}
	}
	for _, c := range b.children {
		if c.Name == name {
			panic(fmt.Sprintf("nn: %q registered twice", name))
		}
	}
}

// Training reports whether the module is in training mode.
func (b *Base) Training() bool { return !b.eval }

// Children returns the direct child modules with their names.
func Children(m Module) []Named[Module] {
	return append([]Named[Module](nil), m.base().children...)
}

// walk visits m and every module below it, depth first in registration
// order (PyTorch's named_modules order), with each module's dotted prefix.
func walk(m Module, prefix string, fn func(prefix string, b *Base)) {
	b := m.base()
	fn(prefix, b)
	for _, c := range b.children {
		walk(c.Value, prefix+c.Name+".", fn)
	}
}

// NamedParameters lists every parameter below m with its dotted name, in
// PyTorch's named_parameters order: a module's own parameters, then each
// child's.
func NamedParameters(m Module) []Named[*autograd.Var] {
	var out []Named[*autograd.Var]
	walk(m, "", func(prefix string, b *Base) {
		for _, p := range b.params {
			out = append(out, Named[*autograd.Var]{prefix + p.Name, p.Value})
		}
	})
	return out
}

// Parameters lists every parameter below m in NamedParameters order.
func Parameters(m Module) []*autograd.Var {
	named := NamedParameters(m)
	out := make([]*autograd.Var, len(named))
	for i, p := range named {
		out[i] = p.Value
	}
	return out
}

// NamedBuffers lists every buffer below m with its dotted name.
func NamedBuffers(m Module) []Named[*tensor.Tensor] {
	var out []Named[*tensor.Tensor]
	walk(m, "", func(prefix string, b *Base) {
		for _, t := range b.buffers {
			out = append(out, Named[*tensor.Tensor]{prefix + t.Name, t.Value})
		}
	})
	return out
}

// StateDict lists every parameter and buffer below m by its PyTorch
// state_dict key and in state_dict order (per module: parameters, then
// buffers, then children). The tensors are shared, not copied.
func StateDict(m Module) []Named[*tensor.Tensor] {
	var out []Named[*tensor.Tensor]
	walk(m, "", func(prefix string, b *Base) {
		for _, p := range b.params {
			out = append(out, Named[*tensor.Tensor]{prefix + p.Name, p.Value.Value()})
		}
		for _, t := range b.buffers {
			out = append(out, Named[*tensor.Tensor]{prefix + t.Name, t.Value})
		}
	})
	return out
}

// SetTraining puts m and every module below it in training (true) or
// evaluation (false) mode, like PyTorch's train() and eval().
func SetTraining(m Module, on bool) {
	walk(m, "", func(_ string, b *Base) { b.eval = !on })
}

// ZeroGrad drops the gradients of every parameter below m.
func ZeroGrad(m Module) {
	for _, p := range Parameters(m) {
		p.ZeroGrad()
	}
}

// SetRequiresGrad freezes (false) or unfreezes (true) every parameter below m.
func SetRequiresGrad(m Module, on bool) {
	for _, p := range Parameters(m) {
		p.SetRequiresGrad(on)
	}
}

// NumParams counts the scalar parameters below m: all of them, and those
// that currently require gradients.
func NumParams(m Module) (total, trainable int) {
	for _, p := range Parameters(m) {
		n := p.Value().Numel()
		total += n
		if p.RequiresGrad() {
			trainable += n
		}
	}
	return total, trainable
}
