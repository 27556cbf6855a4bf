package nn

import "github.com/vmdls-go/vmdls/tensor"

// ToDevice moves every parameter (with its gradient, if any), every buffer
// (batch-norm running statistics and counters) of m, and the state of each
// optimizer given (momentum buffers, Adam's moments), to device d, in place
// (tensor.Tensor.MoveTo): the module's fields, its StateDict and the
// optimizers keep pointing at the same tensors, now on d. What is already
// on d is not copied. Batches must then be moved to d too; an op given
// tensors of two devices panics naming both.
//
// Optimizer state made later (a parameter's first step) is made on its
// parameter's device, and state a checkpoint restores on the host follows
// its parameter at the next Step, so passing the optimizers here matters
// only for state that exists already.
func ToDevice(m Module, d tensor.Device, opts ...Optimizer) {
	for _, p := range Parameters(m) {
		p.Value().MoveTo(d)
		if g := p.Grad(); g != nil {
			g.MoveTo(d)
		}
	}
	for _, b := range NamedBuffers(m) {
		b.Value.MoveTo(d)
	}
	for _, o := range opts {
		if s, ok := o.(stateMover); ok {
			s.moveState(d)
		}
	}
}

// ModuleDevice returns the device of m's first parameter (or buffer), the
// device its inputs must be on; CPU for a module without either.
func ModuleDevice(m Module) tensor.Device {
	if ps := Parameters(m); len(ps) > 0 {
		return ps[0].Value().Device()
	}
	if bs := NamedBuffers(m); len(bs) > 0 {
		return bs[0].Value.Device()
	}
	return tensor.CPU
}

// stateMover is what ToDevice needs of an optimizer: moving its
// per-parameter state. SGD and Adam implement it.
type stateMover interface{ moveState(d tensor.Device) }

func (s *SGD) moveState(d tensor.Device) {
	for _, ss := range s.state {
		for _, b := range ss {
			if b != nil {
				b.MoveTo(d)
			}
		}
	}
}

func (a *Adam) moveState(d tensor.Device) {
	for _, ss := range a.state {
		for _, st := range ss {
			if st != nil {
				st.moveTo(d)
			}
		}
	}
}

// moveTo moves the moments to d (nothing when they are there).
func (st *adamState) moveTo(d tensor.Device) {
	st.m.MoveTo(d)
	st.v.MoveTo(d)
	if st.max != nil {
		st.max.MoveTo(d)
	}
}
