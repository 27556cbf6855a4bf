package ovd

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd/metrics"
	"github.com/vmdls-go/vmdls/tensor"
)

// A Detector is a fitted VMDLS detector that scores images one request at
// a time: the model, the per-class Gaussians of pass 1, the autoencoder of
// the reconstruction weight (when the method uses it), the test-time
// transform, and the two normalizers of pass 2 frozen on a calibration set
// of known images, with a decision threshold.
//
// Why frozen normalizers: pass 2 as Test computes it scales every score by
// quantities of the whole evaluation set, s_c = (l_c - M)·w with M = 1 +
// the largest l_c of the set and w = r/max r, so an image's score depends
// on what else is scored with it (Score gives every single image -1). A
// Detector takes M and max r from its calibration images when it is fitted
// and keeps them, so the same image gets the same score alone or in any
// batch, and the calibration images get exactly the scores Score gives them
// as one evaluation set. An image more likely than every calibration image
// may then score above 0.
//
// A Detector is immutable once made (FitDetector, LoadDetector) and safe
// for concurrent use by many goroutines.
type Detector struct {
	model   *backbone.Model
	encType string
	ae      backbone.Autoencoder // nil: no reconstruction weight
	gs      []*Gaussian          // one per class, on the feature set
	latent  bool                 // the feature set is mu, not the ensemble
	classes []string
	input   InputSpec
	offset  float64 // M, frozen
	rmax    float64 // max r over the calibration set, frozen (0 without ae)
	thr     Threshold
	jitter  int
	info    DetectorInfo
	chunk   int
}

// InputSpec is the test-time transform a Detector applies in ScoreImages
// and expects already applied in Score: images of Channels×Height×Width,
// bytes scaled to [0, 1], then (x - Mean[c]) / Std[c] per channel, as the
// known set's test pipeline (--data_transforms) does.
type InputSpec struct {
	Channels, Height, Width int
	Mean, Std               []float32
}

// ThresholdMethod says how a Detector's decision threshold was chosen.
type ThresholdMethod string

const (
	// ThresholdKnownTPR is the deployable threshold: the largest value that
	// keeps a target fraction (TargetTPR, 0.95 by default) of held-out
	// known images. It uses no unknown data.
	ThresholdKnownTPR ThresholdMethod = "known_tpr"
	// ThresholdBestF1 is the reference's choice, the threshold of the best
	// macro-F1 over the held-out known images and the unknown set. It
	// looks at the unknown set, so it is for comparisons with the paper,
	// not for deployment; the file says so.
	ThresholdBestF1 ThresholdMethod = "best_f1"
)

// Threshold is a Detector's decision threshold and how it was chosen: an
// image whose score is below Value is unknown.
type Threshold struct {
	Value  float64         `json:"value"`
	Method ThresholdMethod `json:"method"`
	// TargetTPR is the fraction of known images ThresholdKnownTPR was asked
	// to keep (0 for ThresholdBestF1).
	TargetTPR float64 `json:"target_tpr,omitempty"`
	// TPR is the fraction of the held-out known images whose score is at
	// least Value (at least TargetTPR; more when scores tie).
	TPR float64 `json:"tpr"`
	// MacroF1 is the best macro-F1 of ThresholdBestF1 (0 otherwise).
	MacroF1 float64 `json:"macro_f1,omitempty"`
	// Set names the images the threshold was chosen on, and Images counts
	// the known ones among them.
	Set    string `json:"set"`
	Images int    `json:"images"`
	// Note says what the threshold is fit for.
	Note string `json:"note"`
}

// DetectorInfo is the provenance a detector file records.
type DetectorInfo struct {
	// Version is the vmdls version that fitted the detector.
	Version string
	// Command is the command line (or a caller's description) that made it.
	Command string
	// Config is the fit's Config as JSON.
	Config string
	// Calibration names the calibration images and CalibrationImages
	// counts them.
	Calibration       string
	CalibrationImages int
}

// DetectorOptions are the choices of FitDetector beyond the Config.
type DetectorOptions struct {
	// Threshold is ThresholdKnownTPR ("" also) or ThresholdBestF1.
	Threshold ThresholdMethod
	// TargetTPR is the fraction of held-out known images ThresholdKnownTPR
	// keeps (0: 0.95, the TPR of the usual FPR@95 operating point).
	TargetTPR float64
	// Holdout says which known images calibrate the normalizers and choose
	// the threshold: HoldoutTest ("" also) or HoldoutTrain.
	Holdout string
	// HoldoutFraction is the fraction of every class's training images
	// HoldoutTrain keeps aside (0: 0.1).
	HoldoutFraction float64
	// Command and Version are recorded in the file; Version "" takes the
	// module's version from the build information.
	Command, Version string
}

const (
	// HoldoutTest calibrates on the known set's test split (capped by
	// Config.TestLimit), which pass 1 never sees.
	HoldoutTest = "test"
	// HoldoutTrain calibrates on a class-stratified fraction of the
	// training set drawn with Config.Seed and left out of pass 1, so that
	// the test split stays untouched for evaluation.
	HoldoutTrain = "train"
)

// ScoreResult is a Detector's answer for one image.
type ScoreResult struct {
	// Score is max_c (l_c - M)·w with the frozen M and w = r / max r
	// (w = 1 without an autoencoder): closer to 0 (or above) is more
	// in-distribution.
	Score float64
	// Class is the most likely known class and ClassName its name.
	Class     int
	ClassName string
	// Unknown is Score < the detector's threshold.
	Unknown bool
	// LogDensities are l_c(x) for every class, when asked for
	// (WithLogDensities); nil otherwise.
	LogDensities []float64
}

// ScoreOption changes what Score and ScoreImages return.
type ScoreOption func(*scoreSettings)

type scoreSettings struct{ logDensities bool }

// WithLogDensities asks for every class's log-density l_c(x) in each
// result, which costs C floats per image.
func WithLogDensities() ScoreOption { return func(s *scoreSettings) { s.logDensities = true } }

// Classes returns the names of the known classes, by label.
func (d *Detector) Classes() []string { return slices.Clone(d.classes) }

// Input returns the transform ScoreImages applies.
func (d *Detector) Input() InputSpec {
	in := d.input
	in.Mean, in.Std = slices.Clone(in.Mean), slices.Clone(in.Std)
	return in
}

// Threshold returns the decision threshold and how it was chosen.
func (d *Detector) Threshold() Threshold { return d.thr }

// Info returns the detector's provenance.
func (d *Detector) Info() DetectorInfo { return d.info }

// FeatureSet is "ensemble" (F(x) = [tap1, tap2, tap3, h, mu]) or "latent"
// (mu alone, Config.LatentOnly).
func (d *Detector) FeatureSet() string {
	if d.latent {
		return featuresLatent
	}
	return featuresEnsemble
}

// Weighted reports whether scores carry the reconstruction weight.
func (d *Detector) Weighted() bool { return d.ae != nil }

// Normalizers returns the frozen M and max r (0 when not weighted).
func (d *Detector) Normalizers() (offset, reconMax float64) { return d.offset, d.rmax }

const (
	featuresEnsemble = "ensemble"
	featuresLatent   = "latent"
)

// FitDetector fits a Detector from a trained model, as Test's pass 1 does,
// and calibrates it. cfg is Test's Config: CheckpointPath (the model),
// AEFeatures and AEPath (the reconstruction weight), LatentOnly (the
// feature set), the known dataset, its transform and the limits. Pass 1 is
// the code Test runs, over the training set less the held-out images with
// HoldoutTrain; the calibration images then go through Test's pass 2
// code, which gives their l_c, M and max r, and the threshold is chosen on
// their scores (with ThresholdBestF1, on them and the unknown set's).
// The unknown set is opened only for ThresholdBestF1.
func FitDetector(ctx context.Context, cfg Config, opt DetectorOptions, obs Observer) (*Detector, error) {
	if err := cfg.checkEvaluation("fitting a detector"); err != nil {
		return nil, err
	}
	if err := opt.fill(); err != nil {
		return nil, err
	}
	cfg.applyThreads()
	model, ae, err := loadTestModels(&cfg)
	if err != nil {
		return nil, err
	}
	input, err := inputSpec(&cfg)
	if err != nil {
		return nil, err
	}
	s, err := openSetsFor(&cfg, opt.Threshold == ThresholdBestF1)
	if err != nil {
		return nil, err
	}
	fitSet, cal, calName := s.train, s.test, cfg.KnownDataset+" test split"
	if opt.Holdout == HoldoutTrain {
		fitSet, cal = holdOut(s.train, opt.HoldoutFraction, cfg.Seed)
		calName = fmt.Sprintf("%s training split, held-out %g of every class (seed %d)", cfg.KnownDataset, opt.HoldoutFraction, cfg.Seed)
	}
	if cal.Len() == 0 {
		return nil, inputErrorf("detector calibration: the %s holds no images", calName)
	}
	fit, err := fitPass(ctx, &cfg, model, fitSet, obs)
	if err != nil {
		return nil, err
	}
	evalSets := []*data.Set{cal}
	if opt.Threshold == ThresholdBestF1 {
		evalSets = append(evalSets, s.unknown)
	}
	sc, err := scorePass(ctx, &cfg, model, ae, fit, evalSets, obs)
	if err != nil {
		return nil, fmt.Errorf("detector calibration: %w", err)
	}
	C, n := cfg.ClassNum, cal.Len()
	d := &Detector{model: model, encType: cfg.EncType, ae: ae, gs: fit.ens, latent: cfg.LatentOnly, input: input,
		jitter: fit.kEns, chunk: backbone.DefaultInferChunk}
	ll := sc.llEns
	if d.latent {
		d.gs, d.jitter, ll = fit.lat, fit.kLat, sc.llLat
	}
	d.offset = scoreOffset(ll[:n*C])
	var w []float64
	if ae != nil {
		d.rmax = reconMax(sc.r[:n])
		if !(d.rmax > 0) {
			return nil, fmt.Errorf("detector calibration: every reconstruction distance of the %s is 0; the weight cannot be normalized", calName)
		}
		w = weightsAt(sc.r, d.rmax)
	}
	values, pred := scoreAt(ll, C, w, d.offset)
	switch opt.Threshold {
	case ThresholdKnownTPR:
		d.thr = knownTPRThreshold(values[:n], opt.TargetTPR)
		d.thr.Note = "keeps the target fraction of held-out known images; chosen without unknown data"
	case ThresholdBestF1:
		f1, t := metrics.BestMacroF1(values, pred, sc.labels, C)
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return nil, fmt.Errorf("detector threshold: the best macro-F1 rejects every image (threshold %g)", t)
		}
		d.thr = Threshold{Value: t, Method: ThresholdBestF1, TPR: acceptedFraction(values[:n], t), MacroF1: f1,
			Note: "the reference's best-F1 sweep over held-out known images and the unknown set " + cfg.UnknownDataset +
				": chosen with unknown data, for comparison with the paper, not for deployment"}
		calName += " + unknown " + cfg.UnknownDataset
	}
	d.thr.Set, d.thr.Images = calName, n
	d.classes = classNames(s.train.Classes, C)
	d.info = DetectorInfo{Version: opt.Version, Command: opt.Command, Config: configJSON(cfg),
		Calibration: calName, CalibrationImages: n}
	return d, nil
}

// fill applies the defaults of o and checks its values.
func (o *DetectorOptions) fill() error {
	if o.Threshold == "" {
		o.Threshold = ThresholdKnownTPR
	}
	if o.Threshold != ThresholdKnownTPR && o.Threshold != ThresholdBestF1 {
		return fmt.Errorf("--threshold_from %q: want %s or %s", o.Threshold, ThresholdKnownTPR, ThresholdBestF1)
	}
	if o.TargetTPR == 0 {
		o.TargetTPR = 0.95
	}
	if !(o.TargetTPR > 0 && o.TargetTPR <= 1) {
		return fmt.Errorf("target TPR %g: want a fraction in (0, 1]", o.TargetTPR)
	}
	if o.Holdout == "" {
		o.Holdout = HoldoutTest
	}
	if o.Holdout != HoldoutTest && o.Holdout != HoldoutTrain {
		return fmt.Errorf("holdout %q: want %s or %s", o.Holdout, HoldoutTest, HoldoutTrain)
	}
	if o.HoldoutFraction == 0 {
		o.HoldoutFraction = 0.1
	}
	if !(o.HoldoutFraction > 0 && o.HoldoutFraction < 1) {
		return fmt.Errorf("holdout fraction %g: want a fraction in (0, 1)", o.HoldoutFraction)
	}
	if o.Version == "" {
		o.Version = moduleVersion()
	}
	return nil
}

// modulePath is this module's import path, as build information names it.
const modulePath = "github.com/vmdls-go/vmdls"

// moduleVersion is vmdls's version from the build information: the main
// module's when vmdls is the program, the dependency's when a service
// imports it; "(devel)" for a build from a work tree.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if bi.Main.Path == modulePath && bi.Main.Version != "" {
		return bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == modulePath {
			return m.Version
		}
	}
	return "(devel)"
}

// inputSpec is the known set's test-time transform of cfg in the form a
// detector file keeps: the image shape and the per-channel normalization.
// A pipeline with image transforms at test time, or tensor transforms other
// than Normalize, cannot be kept so and is refused.
func inputSpec(cfg *Config) (InputSpec, error) {
	kd, ok := data.LookupKnown(cfg.KnownDataset)
	if !ok {
		return InputSpec{}, fmt.Errorf("--known_dataset %q is not a known set", cfg.KnownDataset)
	}
	p, err := data.Pipeline(cfg.DataTransforms, false)
	if err != nil {
		return InputSpec{}, fmt.Errorf("--data_transforms: %w", err)
	}
	in := InputSpec{Channels: kd.Channels, Height: kd.Height, Width: kd.Width}
	if len(p.Image) > 0 || len(p.Tensor) > 1 {
		return InputSpec{}, fmt.Errorf("--data_transforms %s: a detector keeps a normalization only, and this test pipeline has more", cfg.DataTransforms)
	}
	in.Mean, in.Std = make([]float32, in.Channels), make([]float32, in.Channels)
	for c := range in.Channels {
		in.Mean[c], in.Std[c] = 0, 1
	}
	if len(p.Tensor) == 1 {
		nz, ok := p.Tensor[0].(data.Normalize)
		if !ok {
			return InputSpec{}, fmt.Errorf("--data_transforms %s: a detector keeps a normalization only, not %T", cfg.DataTransforms, p.Tensor[0])
		}
		for c := range in.Channels {
			in.Mean[c], in.Std[c] = nz.Mean[c%len(nz.Mean)], nz.Std[c%len(nz.Std)]
		}
	}
	return in, nil
}

// holdOut splits a training set into the images pass 1 fits and a held-out
// class-stratified fraction of every class (at least one image of a class
// with two or more), drawn with seed; both keep their dataset order.
func holdOut(train *data.Set, frac float64, seed uint64) (fit, held *data.Set) {
	byClass, classes := classIndices(train.Dataset)
	rng := rand.New(rand.NewPCG(seed, 0x686f6c646f7574))
	out := make([]bool, train.Len())
	for _, c := range classes {
		idx := byClass[c]
		k := int(math.Round(frac * float64(len(idx))))
		if len(idx) >= 2 {
			k = min(max(k, 1), len(idx)-1)
		} else {
			k = 0
		}
		for _, j := range rng.Perm(len(idx))[:k] {
			out[idx[j]] = true
		}
	}
	var fi, hi []int
	for i, o := range out {
		if o {
			hi = append(hi, i)
		} else {
			fi = append(fi, i)
		}
	}
	fs, hs := *train, *train
	fs.Dataset = &data.Subset{Base: train.Dataset, Indices: fi}
	hs.Dataset = &data.Subset{Base: train.Dataset, Indices: hi}
	return &fs, &hs
}

// knownTPRThreshold is the largest threshold t such that at least target
// of values are >= t.
func knownTPRThreshold(values []float64, target float64) Threshold {
	s := slices.Clone(values)
	slices.SortFunc(s, func(a, b float64) int { return -cmpFloat(a, b) })
	k := int(math.Ceil(target*float64(len(s)) - 1e-9))
	k = min(max(k, 1), len(s))
	t := s[k-1]
	return Threshold{Value: t, Method: ThresholdKnownTPR, TargetTPR: target, TPR: acceptedFraction(values, t)}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// acceptedFraction is the fraction of values at least t.
func acceptedFraction(values []float64, t float64) float64 {
	k := 0
	for _, v := range values {
		if v >= t {
			k++
		}
	}
	return float64(k) / float64(len(values))
}

// classNames names the classes 0..n-1: the dataset's names when it has
// them, the labels otherwise.
func classNames(names []string, n int) []string {
	out := make([]string, n)
	for i := range n {
		if i < len(names) && names[i] != "" {
			out[i] = names[i]
		} else {
			out[i] = strconv.Itoa(i)
		}
	}
	return out
}

// Score scores a batch already transformed as Input says: float32 NCHW of
// shape [N, Channels, Height, Width] on the CPU. It runs the model over at
// most one chunk of images at a time (backbone.DefaultInferChunk), so that
// memory beyond the batch itself is bounded whatever N is, and checks ctx
// between chunks. Non-finite pixels are an error: a NaN score would
// compare as neither known nor unknown.
func (d *Detector) Score(ctx context.Context, batch *tensor.Tensor, opts ...ScoreOption) ([]ScoreResult, error) {
	var set scoreSettings
	for _, o := range opts {
		o(&set)
	}
	in := d.input
	if batch == nil || batch.Dim() != 4 || batch.Size(1) != in.Channels || batch.Size(2) != in.Height || batch.Size(3) != in.Width {
		var shape []int
		if batch != nil {
			shape = batch.Shape()
		}
		return nil, fmt.Errorf("ovd: Detector.Score: batch of shape %v, want [N %d %d %d]", shape, in.Channels, in.Height, in.Width)
	}
	if batch.Device() != tensor.CPU {
		return nil, fmt.Errorf("ovd: Detector.Score: the batch is on %v; the detector runs on the CPU", batch.Device())
	}
	n := batch.Size(0)
	out := make([]ScoreResult, 0, n)
	for lo := 0; lo < n; lo += d.chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+d.chunk, n)
		res, err := d.scoreChunk(batch.Slice(lo, hi), lo, set)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

// scoreChunk is pass 2 on one chunk (first is its offset in the batch, for
// errors), by the same code as Test's scorePass, with the frozen M and max r.
func (d *Detector) scoreChunk(x *tensor.Tensor, first int, set scoreSettings) ([]ScoreResult, error) {
	per := x.Numel() / max(x.Size(0), 1)
	for i, v := range x.Host() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("ovd: Detector.Score: image %d has a non-finite value %v", first+i/per, v)
		}
	}
	f, err := ExtractFeatures(d.model, x)
	if err != nil {
		return nil, err
	}
	feats := f.Ensemble
	if d.latent {
		feats = f.Mu
	}
	ll := appendLogProbs(nil, d.gs, feats.Host())
	var w []float64
	if d.ae != nil {
		r, err := reconDistances(d.model, d.ae, x, f)
		if err != nil {
			return nil, err
		}
		w = weightsAt(r, d.rmax)
	}
	C := len(d.gs)
	values, pred := scoreAt(ll, C, w, d.offset)
	out := make([]ScoreResult, len(values))
	for i, v := range values {
		out[i] = ScoreResult{Score: v, Class: pred[i], ClassName: d.classes[pred[i]], Unknown: v < d.thr.Value}
		if set.logDensities {
			out[i].LogDensities = ll[i*C : (i+1)*C : (i+1)*C]
		}
	}
	return out, nil
}

// ScoreImages applies the stored transform to decoded images and scores
// them: each is converted to the detector's channels as the dataset readers
// convert (data.FromGoImage: PIL's "L" or "RGB"), resized to Height×Width
// with PIL's bilinear filter when its size differs (as the Omniglot reader
// resizes), scaled to [0, 1] and normalized. Images are transformed one
// chunk at a time, so memory is bounded whatever len(imgs) is; ctx is
// checked between chunks.
func (d *Detector) ScoreImages(ctx context.Context, imgs []image.Image, opts ...ScoreOption) ([]ScoreResult, error) {
	in := d.input
	per := in.Channels * in.Height * in.Width
	norm := data.Normalize{Mean: in.Mean, Std: in.Std}
	out := make([]ScoreResult, 0, len(imgs))
	for lo := 0; lo < len(imgs); lo += d.chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+d.chunk, len(imgs))
		buf := make([]float32, (hi-lo)*per)
		for i := lo; i < hi; i++ {
			if imgs[i] == nil || imgs[i].Bounds().Empty() {
				return nil, fmt.Errorf("ovd: Detector.ScoreImages: image %d is empty", i)
			}
			p := &data.Compose{Tensor: []data.TensorTransform{norm}}
			if b := imgs[i].Bounds(); b.Dx() != in.Width || b.Dy() != in.Height {
				p.Image = []data.ImageTransform{data.ResizeTo{H: in.Height, W: in.Width}}
			}
			if _, _, _, err := p.Run(data.FromGoImage(imgs[i], in.Channels), nil, buf[(i-lo)*per:(i-lo+1)*per]); err != nil {
				return nil, fmt.Errorf("ovd: Detector.ScoreImages: image %d: %w", i, err)
			}
		}
		res, err := d.Score(ctx, tensor.FromSlice(buf, hi-lo, in.Channels, in.Height, in.Width), opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}
