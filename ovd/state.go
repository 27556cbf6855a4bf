package ovd

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/safetensors"
	"gonum.org/v1/gonum/mat"
)

// The training state a checkpoint carries besides the weights, and how it is
// saved, restored and checked.

// trainState is everything besides the weights and the optimizer that the
// next epoch depends on; it is saved in every checkpoint so that a resumed
// run continues exactly.
type trainState struct {
	// Epoch is the number of completed epochs.
	Epoch     int              `json:"epoch"`
	NegMargin float64          `json:"neg_margin"`
	Best      []BestCheckpoint `json:"best"`
	EncType   string           `json:"enc_type"`
	LatentDim int              `json:"latent_dim"`
	ClassNum  int              `json:"class_num"`
	Seed      uint64           `json:"seed"`
	// Unfrozen records that fine-tuning has reached its second stage.
	Unfrozen bool `json:"unfrozen"`
	// RunID is drawn when a run starts and kept when it resumes. Every
	// checkpoint records it, and a resumed run deletes only best
	// checkpoints that carry its RunID: files this run wrote.
	RunID string `json:"run_id"`

	// The class statistics of the last completed epoch (not in JSON: they
	// are saved as tensors).
	gaussians []*Gaussian
	bounds    []float64
	// priorMeans are the class means, the KL term's prior centres; they
	// differ from the Gaussians' means only for a class whose Gaussian
	// fell back to N(0, I).
	priorMeans [][]float64
}

// Checkpoint metadata keys.
const (
	metaState       = "vmdls_state"
	metaInterrupted = "interrupted_epoch"
	metaRunID       = "run_id"
)

// saveState writes the model, optimizer, schedule and trainState to path.
func (t *trainer) saveState(path string) error {
	js, err := json.Marshal(t.st)
	if err != nil {
		return err
	}
	c, d := t.cfg.ClassNum, t.cfg.LatentDim
	means := make([]float64, 0, c*d)
	covs := make([]float64, 0, c*d*d)
	priors := make([]float64, 0, c*d)
	for k, g := range t.st.gaussians {
		means = append(means, g.Mean...)
		covs = append(covs, g.Cov.RawSymmetric().Data...)
		priors = append(priors, t.st.priorMeans[k]...)
	}
	cfgJSON, _ := json.Marshal(t.cfg)
	return nn.SaveCheckpoint(path, t.model, &nn.SaveOptions{
		Optimizer: t.opt, Scheduler: t.sched,
		Extra: []safetensors.Tensor{
			safetensors.FromFloat64("class_means", []int{c, d}, means),
			safetensors.FromFloat64("class_covs", []int{c, d, d}, covs),
			safetensors.FromFloat64("class_bounds", []int{c}, t.st.bounds),
			safetensors.FromFloat64("class_prior_means", []int{c, d}, priors),
		},
		Metadata: map[string]string{metaState: string(js), "config": string(cfgJSON)},
	})
}

// loadState restores a checkpoint written by saveState into t: --resume.
func (t *trainer) loadState(path string) (*nn.Checkpoint, error) {
	if err := checkRegularFile(path); err != nil {
		return nil, inputErrorf("--resume: %w", err)
	}
	ck, err := nn.ReadCheckpoint(path)
	if err != nil {
		return nil, inputErrorf("--resume: %w", err)
	}
	js, ok := ck.Metadata[metaState]
	if !ok {
		return nil, inputErrorf("--resume %s: not a training checkpoint of vmdls train (no %s metadata); to start from its weights use --checkpoint_path", path, metaState)
	}
	var st trainState
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return nil, inputErrorf("--resume %s: %s metadata: %w", path, metaState, err)
	}
	// The network it was made for, as the command line checks it before
	// any work.
	if err := checkModelFile(&t.cfg, "--resume", path); err != nil {
		return nil, &InputError{Err: err}
	}
	if err := st.check(); err != nil {
		return nil, inputErrorf("--resume %s: %s metadata: %w", path, metaState, err)
	}
	if _, err := ck.LoadModel(t.model, true); err != nil {
		return nil, inputErrorf("--resume %s: %w", path, err)
	}
	if err := nn.CheckFinite(t.model); err != nil {
		return nil, inputErrorf("--resume %s: %w; resume from an earlier checkpoint", path, err)
	}
	if st.Epoch > 0 {
		c, d := st.ClassNum, st.LatentDim
		means, err1 := extraF64(ck, "class_means", c*d)
		covs, err2 := extraF64(ck, "class_covs", c*d*d)
		bounds, err3 := extraF64(ck, "class_bounds", c)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, inputErrorf("--resume %s: %w", path, err)
		}
		st.bounds = bounds
		for k := range c {
			g, err := NewGaussian(means[k*d:(k+1)*d], symFrom(d, covs[k*d*d:(k+1)*d*d]))
			if err != nil {
				return nil, inputErrorf("--resume %s: class %d Gaussian: %w", path, k, err)
			}
			st.gaussians = append(st.gaussians, g)
		}
		// Checkpoints before the prior means were kept apart have the
		// Gaussians' means only, which were the prior centres then.
		priors := means
		if _, ok := ck.Extra("class_prior_means"); ok {
			if priors, err = extraF64(ck, "class_prior_means", c*d); err != nil {
				return nil, inputErrorf("--resume %s: %w", path, err)
			}
		}
		for k := range c {
			st.priorMeans = append(st.priorMeans, priors[k*d:(k+1)*d])
		}
	}
	t.st = st
	return ck, nil
}

// check refuses a training state that no run of Train writes: a damaged
// or crafted checkpoint must fail here, not steer the resumed run.
func (st *trainState) check() error {
	if st.Epoch < 0 {
		return fmt.Errorf("epoch %d", st.Epoch)
	}
	if math.IsNaN(st.NegMargin) || math.IsInf(st.NegMargin, 0) {
		return fmt.Errorf("neg_margin %v is not finite", st.NegMargin)
	}
	if len(st.Best) > keepBest {
		return fmt.Errorf("%d best checkpoints listed; a run keeps %d", len(st.Best), keepBest)
	}
	seen := map[int]bool{}
	for _, b := range st.Best {
		if b.Epoch < 0 || b.Epoch >= st.Epoch || seen[b.Epoch] || !(b.F1 >= 0 && b.F1 <= 1) {
			return fmt.Errorf("best checkpoint of epoch %d with F1 %v: not a completed epoch of this run", b.Epoch, b.F1)
		}
		seen[b.Epoch] = true
	}
	return nil
}

// extraF64 reads the float64 extra tensor name of n values from ck.
func extraF64(ck *nn.Checkpoint, name string, n int) ([]float64, error) {
	e, ok := ck.Extra(name)
	if !ok {
		return nil, fmt.Errorf("no %q tensor", name)
	}
	v, err := e.Float64s()
	if err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	if len(v) != n {
		return nil, fmt.Errorf("%q has %d values, want %d", name, len(v), n)
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q holds %v at index %d: the class statistics are not finite", name, x, i)
		}
	}
	return v, nil
}

// symFrom wraps d*d row-major values as a symmetric matrix (upper triangle used).
func symFrom(d int, v []float64) *mat.SymDense {
	return mat.NewSymDense(d, append([]float64(nil), v...))
}
