package nn

import (
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
)

// Sequential is torch.nn.Sequential: it applies its children in order; they
// are named "0", "1", ... so their state appears as "0.weight", ...
type Sequential struct {
	Base
	Layers []Module
}

// NewSequential makes a Sequential of the given modules.
func NewSequential(layers ...Module) *Sequential {
	s := &Sequential{}
	for _, l := range layers {
		s.Append(l)
	}
	return s
}

// Append adds m as the next child and returns s.
func (s *Sequential) Append(m Module) *Sequential {
	s.RegisterModule(strconv.Itoa(len(s.Layers)), m)
	s.Layers = append(s.Layers, m)
	return s
}

// Forward runs x through every child in order.
func (s *Sequential) Forward(x *autograd.Var) *autograd.Var {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}
