package backbone

import (
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/nn"
)

// Model is the VMDLS network of METHOD.md section 1: an encoder and the two
// latent heads mu and logvar, each Linear(enc_out_dim, latent_dim). Its
// children are registered as "encoder", "fc_mu" and "fc_var", the names of
// the reference's GMM_VAE_Contrastive, so its checkpoints' keys match.
type Model struct {
	nn.Base
	Enc        nn.Module
	Mu, Logvar *nn.Linear
	EncOutDim  int
	LatentDim  int
}

// NewModel builds the encoder named encType and the latent heads of
// latentDim outputs, drawing every weight from rng in the order PyTorch
// constructs them (encoder, mu, logvar); densenet's classifier has
// DefaultClassNum classes.
func NewModel(encType string, latentDim int, rng *rand.Rand) (*Model, error) {
	return NewModelClasses(encType, latentDim, DefaultClassNum, rng)
}

// NewModelClasses is NewModel for a run of classNum known classes
// (--class_num), which sizes densenet's classifier (NewEncoderClasses).
func NewModelClasses(encType string, latentDim, classNum int, rng *rand.Rand) (*Model, error) {
	if latentDim < 1 {
		return nil, fmt.Errorf("latent_dim = %d, want at least 1", latentDim)
	}
	enc, outDim, err := NewEncoderClasses(encType, classNum, rng)
	if err != nil {
		return nil, err
	}
	m := &Model{Enc: enc, EncOutDim: outDim, LatentDim: latentDim}
	m.RegisterModule("encoder", enc)
	m.Mu = nn.NewLinear(rng, outDim, latentDim, true)
	m.RegisterModule("fc_mu", m.Mu)
	m.Logvar = nn.NewLinear(rng, outDim, latentDim, true)
	m.RegisterModule("fc_var", m.Logvar)
	return m, nil
}

// Encode returns the heads' outputs mu and logvar [N, latentDim] for x.
func (m *Model) Encode(x *autograd.Var) (mu, logvar *autograd.Var) {
	h := m.Enc.Forward(x)
	return m.Mu.Forward(h), m.Logvar.Forward(h)
}

// Forward returns mu, the embedding used at evaluation time (z = mu there);
// training needs both heads, which Encode gives. The logvar head is not
// computed.
func (m *Model) Forward(x *autograd.Var) *autograd.Var {
	return m.Mu.Forward(m.Enc.Forward(x))
}
