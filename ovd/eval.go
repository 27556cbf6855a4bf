package ovd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd/report"
	"github.com/vmdls-go/vmdls/tensor"
)

// TestResult is what Test produced.
type TestResult struct {
	OutputDir string
	// Results is the content of results.json.
	Results map[string]any
	// Jitter is the shared k of the feature-ensemble fit (S_c + k·1e-6·I).
	Jitter int
}

// Features are the per-image quantities of the test procedure.
type Features struct {
	// Ensemble is F(x) = [tap1, tap2, tap3, h, mu] per row.
	Ensemble *tensor.Tensor
	// Mu is the latent mean.
	Mu *tensor.Tensor
	// Tap1 is the pooled first tap (the reconstruction weight compares it).
	Tap1 *tensor.Tensor
}

// ExtractFeatures runs the model (in eval mode) once over x without
// building a graph, in chunks of backbone.DefaultInferChunk images so that
// memory stays bounded at the reference's batches of 2,500, and returns the
// feature ensemble of METHOD.md section 4, mu and tap 1.
func ExtractFeatures(m *backbone.Model, x *tensor.Tensor) (Features, error) {
	f, err := m.InferChunked(x, 0)
	if err != nil {
		return Features{}, err
	}
	return Features{Ensemble: tensor.Concat(1, f.Ensemble(), f.Mu), Mu: f.Mu, Tap1: f.Taps[0]}, nil
}

// tap1 returns the model's pooled first tap of x.
func tap1(m *backbone.Model, x *tensor.Tensor) (*tensor.Tensor, error) {
	f, err := backbone.InferChunked(m.Enc.(backbone.Tapped), nil, x, 0)
	return f.Taps[0], err
}

// Score is pass 2's scoring (METHOD.md section 4) of n images against C
// classes: ll holds l_c(x) row-major (n×C), w the reconstruction weights
// (nil: all 1). s_c = (l_c - M)·w with M = 1 + max ll; value = max_c s_c,
// pred = argmax_c s_c.
func Score(ll []float64, classes int, w []float64) (values []float64, pred []int) {
	return scoreAt(ll, classes, w, scoreOffset(ll))
}

// scoreOffset is pass 2's M = 1 + max ll over the evaluated images. A
// Detector computes it once, on its calibration set, and keeps it.
func scoreOffset(ll []float64) float64 {
	m := math.Inf(-1)
	for _, v := range ll {
		m = max(m, v)
	}
	return m + 1
}

// scoreAt is Score with M given: s_c = (l_c - m)·w. Score takes m from the
// images it scores; a Detector passes the M frozen on its calibration set,
// so that an image's score does not depend on the rest of its batch.
func scoreAt(ll []float64, classes int, w []float64, m float64) (values []float64, pred []int) {
	n := len(ll) / classes
	values = make([]float64, n)
	pred = make([]int, n)
	for i := range n {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		best, arg := math.Inf(-1), 0
		for c := range classes {
			if s := (ll[i*classes+c] - m) * wi; s > best {
				best, arg = s, c
			}
		}
		values[i], pred[i] = best, arg
	}
	return values, pred
}

// Test evaluates a trained model as the reference's test.py (METHOD.md
// section 4): pass 1 fits per-class Gaussians on the feature ensemble of
// the training set, pass 2 scores the known test set and the unknown set,
// and the results go to cfg.OutputDir (results.json, CSV tables, plots).
// Beside the configured method it scores the ablations that come free from
// the same passes: without reconstruction weighting ("vmdlsb", when the
// method uses it) and latent-only ("latent": mu instead of the ensemble).
func Test(ctx context.Context, cfg Config, obs Observer) (*TestResult, error) {
	if err := cfg.checkEvaluation("vmdls test"); err != nil {
		return nil, err
	}
	removeTempFiles(cfg.OutputDir) // a killed run's half-written results
	cfg.applyThreads()
	model, ae, err := loadTestModels(&cfg)
	if err != nil {
		return nil, err
	}
	s, err := openSets(&cfg)
	if err != nil {
		return nil, err
	}
	fit, err := fitPass(ctx, &cfg, model, s.train, obs)
	if err != nil {
		return nil, err
	}
	sc, err := scorePass(ctx, &cfg, model, ae, fit, []*data.Set{s.test, s.unknown}, obs)
	if err != nil {
		return nil, err
	}
	timings := map[string]float64{"fit_seconds": fit.seconds, "score_seconds": sc.seconds}

	// The scores (METHOD.md section 4, after pass 2): the weights and M
	// need the whole evaluation set.
	var w []float64
	if ae != nil {
		w = ReconstructionWeights(sc.r)
	}
	run := func(name string, ll []float64, w []float64) report.Run {
		v, p := Score(ll, cfg.ClassNum, w)
		return report.Run{Name: name, Values: v, Pred: p, Labels: sc.labels, NumClasses: cfg.ClassNum}
	}
	var runs []report.Run
	switch {
	case cfg.LatentOnly:
		runs = append(runs, run("latent", sc.llLat, w))
	case ae != nil:
		runs = append(runs, run("vmdls", sc.llEns, w), run("vmdlsb", sc.llEns, nil), run("latent", sc.llLat, w))
	default:
		runs = append(runs, run("vmdlsb", sc.llEns, nil), run("latent", sc.llLat, nil))
	}
	meta := map[string]any{
		"method":       runs[0].Name,
		"test_config":  cfg,
		"train_config": trainConfig(cfg.CheckpointPath),
		"vmdls":        buildInfo(),
		"seed":         cfg.Seed,
		"timings":      timings,
		"jitter":       map[string]any{"ensemble_k": fit.kEns, "latent_k": fit.kLat, "step": JitterStep},
		"jitter_k":     fit.kEns,
		"fit":          fit.mode,
		"feature_dim":  fit.dim,
		"images":       map[string]int{"train": fit.images, "known_test": s.test.Len(), "unknown": s.unknown.Len()},
		"checkpoint":   cfg.CheckpointPath,
	}
	var columns []report.Column
	if ae != nil {
		columns = append(columns, report.Column{Name: "recon_distance", Values: sc.r}, report.Column{Name: "recon_weight", Values: w})
	}
	results, err := report.Write(cfg.OutputDir, runs, meta, columns...)
	if err != nil {
		return nil, err
	}
	return &TestResult{OutputDir: cfg.OutputDir, Results: results, Jitter: fit.kEns}, nil
}

// checkEvaluation is Validate and what evaluating a trained model needs
// beside it: the model's checkpoint and, with AEFeatures, the
// autoencoder's. who names the evaluation in the error (Test, FitDetector).
func (c *Config) checkEvaluation(who string) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.CheckpointPath == "" {
		return fmt.Errorf("--checkpoint_path: %s needs the trained model's checkpoint", who)
	}
	if c.AEFeatures && c.AEPath == "" {
		return errors.New("--ae_features needs --ae_path, the autoencoder that vmdls train-ae wrote")
	}
	return nil
}

// loadTestModels builds the model of cfg with the weights of
// cfg.CheckpointPath and, with cfg.AEFeatures, loads the autoencoder of
// cfg.AEPath (nil otherwise), both in eval mode: what Test and FitDetector
// evaluate.
func loadTestModels(cfg *Config) (*backbone.Model, backbone.Autoencoder, error) {
	model, err := buildModel(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := loadModelWeights(model, cfg.CheckpointPath); err != nil {
		return nil, nil, err
	}
	nn.SetTraining(model, false)
	var ae backbone.Autoencoder
	if cfg.AEFeatures {
		if ae, err = LoadAutoencoder(cfg.AEPath); err != nil {
			return nil, nil, err
		}
		nn.SetTraining(ae, false)
	}
	return model, ae, nil
}

// testFit is what pass 1 of Test leaves for pass 2.
type testFit struct {
	ens, lat   []*Gaussian // one Gaussian per class, on F(x) and on mu
	kEns, kLat int         // their shared jitter k (S_c + k·1e-6·I)
	mode       string      // which fit made ens: fitFloat64 or fitReference
	dim        int         // the width of the feature ensemble F(x)
	images     int         // training images fitted
	seconds    float64     // how long the pass took
}

// fitPass is pass 1 of the test procedure (METHOD.md section 4, "Pass 1:
// fit"): over the training set with test-time transforms it computes the
// feature ensemble F(x) = [tap1, tap2, tap3, h, mu] and the latent mean mu
// of every image, accumulates their per-class moments in float64, and fits
// one Gaussian per class on each with the shared jitter FitShared finds
// (the smallest k for which every class's S_c + k·1e-6·I has a Cholesky
// factor, plus 2). Errors are wrapped as pass 1's.
func fitPass(ctx context.Context, cfg *Config, model *backbone.Model, train *data.Set, obs Observer) (*testFit, error) {
	if cfg.ReferenceFit {
		return referenceFitPass(ctx, cfg, model, train, obs)
	}
	start := time.Now()
	tapDims := model.Enc.(backbone.Tapped).TapDims()
	dim := tapDims[0] + tapDims[1] + tapDims[2] + cfg.EncOutDim + cfg.LatentDim
	ens, lat := NewMoments(cfg.ClassNum, dim), NewMoments(cfg.ClassNum, cfg.LatentDim)
	trainLoader, err := newLoader(cfg, train, false)
	if err != nil {
		return nil, err
	}
	n := train.Len()
	err = forEachBatch(ctx, trainLoader, n, cfg.BatchSize, func(b *data.Batch) error {
		f, err := ExtractFeatures(model, b.X)
		if err != nil {
			return err
		}
		ens.Add(f.Ensemble.Data(), b.Labels)
		lat.Add(f.Mu.Data(), b.Labels)
		obs.emit(Event{Phase: "fit", Images: int(sumCounts(ens)), Steps: n, Elapsed: time.Since(start)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit): %w", err)
	}
	gsEns, kEns, err := FitShared(ens)
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit), feature ensemble: %w", err)
	}
	gsLat, kLat, err := FitShared(lat)
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit), latent: %w", err)
	}
	return &testFit{ens: gsEns, lat: gsLat, kEns: kEns, kLat: kLat, dim: dim, images: n, mode: fitFloat64,
		seconds: time.Since(start).Seconds()}, nil
}

// testScores is what pass 2 of Test measured, one entry per evaluated
// image in the order of the sets.
type testScores struct {
	llEns, llLat []float64 // l_c(x) row-major (images×classes), on F(x) and on mu
	r            []float64 // the reconstruction distance r(x); nil without an autoencoder
	labels       []int
	seconds      float64 // how long the pass took
}

// scorePass is pass 2 of the test procedure (METHOD.md section 4, "Pass 2:
// score"): over the sets in order (the known test set, then the unknown
// set) it computes every image's class log-densities l_c(x) under pass 1's
// Gaussians, on the feature ensemble and on mu, and, when ae is not nil,
// the reconstruction distance r(x), the mean squared difference between
// tap 1 of x and of AE(x) under the model's own encoder. What needs the
// whole evaluation set (the weights w(x) = r(x)/max r, M and s_c(x), value
// and pred) Test then forms with ReconstructionWeights and Score. Errors of
// the passes over the data are wrapped as pass 2's.
func scorePass(ctx context.Context, cfg *Config, model *backbone.Model, ae backbone.Autoencoder, fit *testFit, sets []*data.Set, obs Observer) (*testScores, error) {
	start := time.Now()
	sc := &testScores{}
	total := 0
	for _, set := range sets {
		total += set.Len()
	}
	for _, set := range sets {
		l, err := newLoader(cfg, set, false)
		if err != nil {
			return nil, err
		}
		err = forEachBatch(ctx, l, set.Len(), cfg.BatchSize, func(b *data.Batch) error {
			f, err := ExtractFeatures(model, b.X)
			if err != nil {
				return err
			}
			sc.llEns = appendLogProbs(sc.llEns, fit.ens, f.Ensemble.Data())
			sc.llLat = appendLogProbs(sc.llLat, fit.lat, f.Mu.Data())
			if ae != nil {
				r, err := reconDistances(model, ae, b.X, f)
				if err != nil {
					return err
				}
				sc.r = append(sc.r, r...)
			}
			sc.labels = append(sc.labels, b.Labels...)
			obs.emit(Event{Phase: "score", Images: len(sc.labels), Steps: total, Elapsed: time.Since(start)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pass 2 (score): %w", err)
		}
	}
	sc.seconds = time.Since(start).Seconds()
	return sc, nil
}

// reconDistances is pass 2's r(x) for every image of x, whose features f
// ExtractFeatures gave: the mean squared difference between tap 1 of x and
// tap 1 of the autoencoder's reconstruction of x, under the model's own
// encoder. scorePass and a Detector share it.
func reconDistances(model *backbone.Model, ae backbone.Autoencoder, x *tensor.Tensor, f Features) ([]float64, error) {
	t1, err := tap1(model, reconstruct(ae, x))
	if err != nil {
		return nil, err
	}
	return rowMSE(f.Tap1, t1), nil
}

func sumCounts(m *Moments) float64 {
	s := 0.0
	for _, c := range m.Count {
		s += c
	}
	return s
}

// appendLogProbs appends, for each row of x, the log-density under every
// class Gaussian (row-major rows×classes).
func appendLogProbs(dst []float64, gs []*Gaussian, x []float32) []float64 {
	d := gs[0].Dim()
	n := len(x) / d
	xs := make([]float64, len(x))
	for i, v := range x {
		xs[i] = float64(v)
	}
	base := len(dst)
	dst = append(dst, make([]float64, n*len(gs))...)
	col := make([]float64, n)
	for c, g := range gs {
		g.LogProb(xs, col)
		for i, v := range col {
			dst[base+i*len(gs)+c] = v
		}
	}
	return dst
}

// loadModelWeights loads a model checkpoint for testing: every parameter
// and buffer of the model must be in the file; extra keys of the reference's
// module (its frozen "ae." autoencoder) are ignored.
func loadModelWeights(m *backbone.Model, path string) error {
	if err := checkRegularFile(path); err != nil {
		return inputErrorf("--checkpoint_path: %w", err)
	}
	ck, err := nn.ReadCheckpoint(path)
	if err != nil {
		return inputErrorf("--checkpoint_path: %w", err)
	}
	rep, err := ck.LoadModel(m, false)
	if err != nil {
		return inputErrorf("--checkpoint_path %s: %w", path, err)
	}
	if len(rep.Missing) > 0 || len(rep.Mismatched) > 0 {
		msg := fmt.Sprintf("%d keys missing (first: %v)", len(rep.Missing), rep.Missing[:min(3, len(rep.Missing))])
		if len(rep.Mismatched) > 0 {
			msg = rep.Mismatched[0].String()
		}
		return inputErrorf("--checkpoint_path %s does not hold a %s model with latent_dim %d: %s", path, encName(m), m.LatentDim, msg)
	}
	// NaN weights would surface only after the fit pass, as a covariance
	// that is not positive definite, naming neither cause nor file.
	if err := nn.CheckFinite(m); err != nil {
		return inputErrorf("--checkpoint_path %s: %w", path, err)
	}
	return nil
}

func encName(m *backbone.Model) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", m.Enc), "*backbone.")
}
