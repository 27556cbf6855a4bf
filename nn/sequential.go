package nn

import (
	"strconv"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/tensor"
)

// Sequential is torch.nn.Sequential: it applies its children in order; they
// are named "0", "1", ... so their state appears as "0.weight", ...
type Sequential struct {
	Base
	Layers []Module
	// DiscardIntermediates, when set, hands each value passed between two
	// children back for reuse as soon as the next child has consumed it,
	// in inference only (autograd.DiscardUnrecorded: nothing happens while
	// a graph is recorded). Set it only when no child keeps its input
	// beyond its Forward (the encoders of nn/backbone set it for theirs);
	// the input x and the result are never discarded, nor a value whose
	// storage the next child's output shares (a reshape).
	DiscardIntermediates bool
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

// Forward runs x through every child in order. A Conv2d or a BatchNorm2d
// directly followed by a ReLU runs as one fused op with the activation
// (same result, one pass and one tensor less); the two modules stay as they
// are for naming.
func (s *Sequential) Forward(x *autograd.Var) *autograd.Var {
	discard := s.DiscardIntermediates && !autograd.GradEnabled()
	mark := tensor.AllocMark() // x was made before: never discarded
	for i := 0; i < len(s.Layers); i++ {
		in := x
		if f, ok := s.Layers[i].(reluFuser); ok && i+1 < len(s.Layers) {
			if _, ok := s.Layers[i+1].(*ReLU); ok {
				x = f.ForwardReLU(x)
				i++
			} else {
				x = s.Layers[i].Forward(x)
			}
		} else {
			x = s.Layers[i].Forward(x)
		}
		if discard && !tensor.SameStorage(in.Value(), x.Value()) {
			autograd.DiscardUnrecorded(mark, in)
		}
	}
	return x
}

// reluFuser is a layer that can apply a following ReLU itself.
type reluFuser interface {
	ForwardReLU(x *autograd.Var) *autograd.Var
}
