package nn

import "github.com/vmdls-go/vmdls/autograd"

// ReLU is torch.nn.ReLU: max(x, 0) elementwise.
type ReLU struct{ Base }

// NewReLU makes a ReLU module.
func NewReLU() *ReLU { return &ReLU{} }

// Forward applies max(x, 0).
func (*ReLU) Forward(x *autograd.Var) *autograd.Var { return autograd.Relu(x) }

// Identity is torch.nn.Identity: it returns its input.
type Identity struct{ Base }

// NewIdentity makes an Identity module.
func NewIdentity() *Identity { return &Identity{} }

// Forward returns x.
func (*Identity) Forward(x *autograd.Var) *autograd.Var { return x }
