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
	"github.com/vmdls-go/vmdls/parallel"
	"github.com/vmdls-go/vmdls/tensor"
)

// TestResult is what Test produced.
type TestResult struct {
	OutputDir string
	// Results is the content of results.json.
	Results map[string]any
	// Jitter is the shared k of the feature-ensemble fit (S_c + k·1e-6·I).
	Jitter int
	// UnknownSets are the unknown sets scored, in order.
	UnknownSets []string
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
// the training set, pass 2 scores the known test set and each unknown set
// (cfg.UnknownDataset may list several: one fit serves them all), and the
// results go to cfg.OutputDir (results.json, results.csv, results.md, CSV
// tables, plots; report.WriteSets says where, per set). Beside the
// configured method it scores the ablations that come free from the same
// passes: without reconstruction weighting ("vmdlsb", when the method uses
// it) and latent-only ("latent": mu instead of the ensemble); and the
// baselines of cfg.Baselines (BaselineNames) on the same features. With
// cfg.FeaturesOut it also writes those features (features.go); with
// cfg.FeaturesIn it scores such a folder instead of running the network.
func Test(ctx context.Context, cfg Config, obs Observer) (*TestResult, error) {
	if cfg.FeaturesIn != "" {
		return testSavedFeatures(ctx, cfg, obs)
	}
	if err := cfg.checkEvaluation("vmdls test"); err != nil {
		return nil, err
	}
	names, sel, err := cfg.checkTest()
	if err != nil {
		return nil, err
	}
	removeTempFiles(cfg.OutputDir) // a killed run's half-written results
	cfg.applyThreads()
	model, ae, err := loadTestModels(&cfg)
	if err != nil {
		return nil, err
	}
	s, err := openSetsFor(&cfg, false)
	if err != nil {
		return nil, err
	}
	unknowns, err := openUnknownSets(&cfg, names)
	if err != nil {
		return nil, err
	}
	widths := ensembleWidths(&cfg, model)
	keep := newTrainRows(&cfg, sel, s.train.Len(), widths)
	fit, err := fitPassHook(ctx, &cfg, model, s.train, func(f Features, labels []int) error {
		keep.add(f.Ensemble.Host(), labels)
		return nil
	}, obs)
	if err != nil {
		return nil, err
	}
	bl, err := fitBaselines(&cfg, sel, fit.ensMoments, widths, keep.knnH)
	if err != nil {
		return nil, err
	}
	evalSets := append([]*data.Set{s.test}, unknowns...)
	sizes := make([]int, len(evalSets))
	for i, set := range evalSets {
		sizes[i] = set.Len()
	}
	scored := newScoredRows(&cfg, len(sizes))
	blScores := map[string][]float64{}
	var blTime time.Duration
	sc, err := scorePassHook(ctx, &cfg, model, ae, fit, evalSets, func(set int, f Features, r []float64, labels []int) error {
		t := time.Now()
		ens := f.Ensemble.Host()
		bl.scoreBatch(ens, len(labels), blScores)
		blTime += time.Since(t)
		scored.add(set, ens, r, labels)
		return nil
	}, obs)
	if err != nil {
		return nil, err
	}
	if cfg.FeaturesOut != "" {
		if err := writeFeatures(&cfg, names, widths, keep, scored, bl); err != nil {
			return nil, err
		}
	}
	return writeTest(&cfg, testRun{fit: fit, sc: sc, bl: bl, blScores: blScores, blSeconds: blTime.Seconds(),
		names: names, sizes: sizes, weighted: ae != nil})
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
		nn.ToDevice(ae, cfg.Device)
	}
	// The passes hand host batches to InferChunked, which moves them to
	// the model's device a chunk at a time.
	nn.ToDevice(model, cfg.Device)
	return model, ae, nil
}

// testFit is what pass 1 of Test leaves for pass 2.
type testFit struct {
	ens, lat   []*Gaussian // one Gaussian per class, on F(x) and on mu
	kEns, kLat int         // their shared jitter k (S_c + k·1e-6·I)
	mode       string      // which fit made ens: fitFloat64 or fitReference
	dim        int         // the width of the feature ensemble F(x)
	ensMoments *Moments    // the sums behind ens, which the baselines fit from
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
	return fitPassHook(ctx, cfg, model, train, nil, obs)
}

// fitPassHook is fitPass that also hands every batch's features and
// labels, in order, to hook (when not nil): what Test keeps for the
// baselines and --features_out.
func fitPassHook(ctx context.Context, cfg *Config, model *backbone.Model, train *data.Set, hook func(f Features, labels []int) error, obs Observer) (*testFit, error) {
	if cfg.ReferenceFit {
		return referenceFitPass(ctx, cfg, model, train, hook, obs)
	}
	start := time.Now()
	acc := newFitAccumulator(cfg.ClassNum, ensembleWidths(cfg, model))
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
		acc.add(f.Ensemble.Host(), f.Mu.Host(), b.Labels)
		if hook != nil {
			if err := hook(f, b.Labels); err != nil {
				return err
			}
		}
		obs.emit(Event{Phase: "fit", Images: int(sumCounts(acc.ens)), Steps: n, Elapsed: time.Since(start)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit): %w", err)
	}
	fit, err := acc.finish()
	if err != nil {
		return nil, err
	}
	fit.images, fit.seconds = n, time.Since(start).Seconds()
	return fit, nil
}

// ensembleWidths are the widths of the blocks of F(x) = [tap1, tap2,
// tap3, h, mu] of cfg's model.
func ensembleWidths(cfg *Config, model *backbone.Model) []int {
	t := model.Enc.(backbone.Tapped).TapDims()
	return []int{t[0], t[1], t[2], cfg.EncOutDim, cfg.LatentDim}
}

// fitAccumulator is pass 1's sums: the per-class moments of F(x) and of
// mu, batch by batch, whether the features come from the network or from
// a --features_in folder.
type fitAccumulator struct {
	ens, lat *Moments
	widths   []int
}

func newFitAccumulator(classes int, widths []int) *fitAccumulator {
	dim := 0
	for _, w := range widths {
		dim += w
	}
	return &fitAccumulator{ens: NewMoments(classes, dim), lat: NewMoments(classes, widths[len(widths)-1]), widths: widths}
}

// add accumulates one batch: F(x) and mu row-major, and the labels.
func (a *fitAccumulator) add(ens, mu []float32, labels []int) {
	a.ens.Add(ens, labels)
	a.lat.Add(mu, labels)
}

// finish fits the class Gaussians with the shared jitter FitShared finds;
// the caller sets images and seconds.
func (a *fitAccumulator) finish() (*testFit, error) {
	gsEns, kEns, err := FitShared(a.ens)
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit), feature ensemble: %w", err)
	}
	gsLat, kLat, err := FitShared(a.lat)
	if err != nil {
		return nil, fmt.Errorf("pass 1 (fit), latent: %w", err)
	}
	return &testFit{ens: gsEns, lat: gsLat, kEns: kEns, kLat: kLat, mode: fitFloat64, dim: a.ens.Dim, ensMoments: a.ens}, nil
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
	return scorePassHook(ctx, cfg, model, ae, fit, sets, nil, obs)
}

// scorePassHook is scorePass that also hands every batch's features,
// reconstruction distances (nil without ae) and labels to hook (when not
// nil), with the index of the batch's set: what Test scores the baselines
// on and writes for --features_out.
func scorePassHook(ctx context.Context, cfg *Config, model *backbone.Model, ae backbone.Autoencoder, fit *testFit, sets []*data.Set,
	hook func(set int, f Features, r []float64, labels []int) error, obs Observer) (*testScores, error) {
	start := time.Now()
	sc := &testScores{}
	total := 0
	for _, set := range sets {
		total += set.Len()
	}
	for si, set := range sets {
		l, err := newLoader(cfg, set, false)
		if err != nil {
			return nil, err
		}
		err = forEachBatch(ctx, l, set.Len(), cfg.BatchSize, func(b *data.Batch) error {
			f, err := ExtractFeatures(model, b.X)
			if err != nil {
				return err
			}
			var r []float64
			if ae != nil {
				if r, err = reconDistances(model, ae, b.X, f); err != nil {
					return err
				}
			}
			sc.add(fit, f.Ensemble.Host(), f.Mu.Host(), r, b.Labels)
			if hook != nil {
				if err := hook(si, f, r, b.Labels); err != nil {
					return err
				}
			}
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

// add scores one batch of pass 2 under fit's Gaussians: F(x) and mu
// row-major, r(x) (nil without an autoencoder) and the labels.
func (sc *testScores) add(fit *testFit, ens, mu []float32, r []float64, labels []int) {
	sc.llEns = appendLogProbs(sc.llEns, fit.ens, ens)
	sc.llLat = appendLogProbs(sc.llLat, fit.lat, mu)
	sc.r = append(sc.r, r...)
	sc.labels = append(sc.labels, labels...)
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
	// One class per worker: the triangular solves are most of a detector's
	// scoring time, and each class's are independent (and computed the
	// same whatever the thread count).
	parallel.For(len(gs), 1, func(lo, hi int) {
		col := make([]float64, n)
		for c := lo; c < hi; c++ {
			gs[c].LogProb(xs, col)
			for i, v := range col {
				dst[base+i*len(gs)+c] = v
			}
		}
	})
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
