package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
)

// Dropout is torch.nn.Dropout: in training it zeroes each element with
// probability P and scales the rest by 1/(1-P), the mask drawn from Rng; in
// evaluation it is the identity.
type Dropout struct {
	Base
	P   float64
	Rng *rand.Rand
}

// NewDropout makes a Dropout drawing its masks from rng.
func NewDropout(p float64, rng *rand.Rand) *Dropout {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("nn.NewDropout: probability %v outside [0, 1]", p))
	}
	return &Dropout{P: p, Rng: rng}
}

// Forward applies dropout in training mode and returns x in evaluation.
func (d *Dropout) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Dropout(x, d.P, d.Training(), d.Rng)
}
