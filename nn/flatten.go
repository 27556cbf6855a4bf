package nn

import "github.com/vmdls-go/vmdls/autograd"

// Flatten is torch.nn.Flatten: it merges axes StartDim..EndDim (negative
// counts from the end; the defaults 1 and -1 keep the batch axis).
type Flatten struct {
	Base
	StartDim, EndDim int
}

// NewFlatten makes Flatten(1, -1), PyTorch's default.
func NewFlatten() *Flatten { return &Flatten{StartDim: 1, EndDim: -1} }

// Forward flattens x (a view, no copy).
func (f *Flatten) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Flatten(x, f.StartDim, f.EndDim)
}
