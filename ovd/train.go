package ovd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd/losses"
	"github.com/vmdls-go/vmdls/ovd/metrics"
	"github.com/vmdls-go/vmdls/tensor"
)

// Training constants of the reference (models/vae.py).
const (
	// TripletMargin is the triplet loss's margin between positive and
	// negative distances.
	TripletMargin = 0.1
	// InitialNegMargin is the negative margin nu before any jump.
	InitialNegMargin = 0.15
	// FinetuneEpochs is how many epochs the encoder stays frozen when
	// fine-tuning; the reference unfreezes it at the end of epoch 21.
	FinetuneEpochs = 21
	// keepBest is how many best-F1 checkpoints are kept.
	keepBest = 3
)

// BestCheckpoint is one of the kept best-F1 checkpoints.
type BestCheckpoint struct {
	// Path is the file in the run's checkpoints folder, named from Epoch
	// and F1 (bestName). It is never read from a checkpoint: a path taken
	// from a file would let that file choose what a resumed run deletes.
	Path  string  `json:"-"`
	Epoch int     `json:"epoch"`
	F1    float64 `json:"f1"`
}

// bestName is the file name of the best checkpoint of epoch e with F1 f1.
func bestName(e int, f1 float64) string {
	return fmt.Sprintf("epoch-%03d-f1-%.3f.safetensors", e, f1)
}

// EpochSummary is what one training epoch did.
type EpochSummary struct {
	Epoch        int     `json:"epoch"`
	Loss         float64 `json:"loss"`
	Triplet      float64 `json:"triplet"`
	KL           float64 `json:"kl"`
	NegMargin    float64 `json:"neg_margin"`
	LR           float64 `json:"lr"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Seconds      float64 `json:"seconds"`
	// Validated is false for epoch 0, which the reference does not validate.
	Validated bool    `json:"validated"`
	F1        float64 `json:"f1"`
	KnownAcc  float64 `json:"known_accuracy"`
}

// TrainResult is what Train leaves behind.
type TrainResult struct {
	OutputDir string
	// LastCheckpoint holds the state after the last completed epoch; pass
	// it as --resume to continue.
	LastCheckpoint string
	Best           []BestCheckpoint
	Epochs         []EpochSummary
	// Interrupted is set when ctx was cancelled; InterruptedCheckpoint then
	// holds the weights at the moment of the stop.
	Interrupted           bool
	InterruptedCheckpoint string
}

// trainer holds a training run.
type trainer struct {
	cfg   Config
	obs   Observer
	model *backbone.Model
	opt   nn.Optimizer
	sched *nn.StepLR
	st    trainState
	sets  *sets
	// trainLabels are the training set's labels, for the sampler each
	// epoch makes afresh.
	trainLabels []int
	loader      *data.Loader
	dir         string
}

// Train trains a VMDLS model as the reference's main.py does (METHOD.md
// sections 1-3), writing checkpoints under cfg.OutputDir/checkpoints. With
// cfg.CheckpointPath it starts from that model's weights as main.py does
// (warmStart); with cfg.Resume it continues exactly from a checkpoint
// Train wrote. When ctx is cancelled it finishes the current step, saves
// the weights to checkpoints/interrupted.safetensors and returns the result
// with an error wrapping ctx.Err(); resuming starts again from the last
// completed epoch.
func Train(ctx context.Context, cfg Config, obs Observer) (*TrainResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyThreads()
	if cfg.OutputDir == "" {
		return nil, errors.New("ovd.Train: Config.OutputDir is empty")
	}
	dir := filepath.Join(cfg.OutputDir, "checkpoints")
	made, err := mkdirOwned(dir)
	if err != nil {
		return nil, fmt.Errorf("--output_dir: %w", err)
	}
	t, err := newTrainer(&cfg, obs, dir)
	if err != nil {
		// A run that failed before its first epoch leaves no empty
		// folders behind (os.Remove keeps a folder that has files).
		for _, d := range made {
			os.Remove(d)
		}
		return nil, err
	}
	return t.run(ctx)
}

func newTrainer(cfg *Config, obs Observer, dir string) (*trainer, error) {
	model, err := newModel(cfg)
	if err != nil {
		return nil, err
	}
	t := &trainer{cfg: *cfg, obs: obs, model: model, dir: dir,
		st: trainState{NegMargin: InitialNegMargin, EncType: cfg.EncType, LatentDim: cfg.LatentDim, ClassNum: cfg.ClassNum, Seed: cfg.Seed}}
	var ck *nn.Checkpoint
	if cfg.Resume != "" {
		if ck, err = t.loadState(cfg.Resume); err != nil {
			return nil, err
		}
	} else {
		// As the reference's constructor, which loads --weights into the
		// encoder before load_from_checkpoint replaces every weight.
		if cfg.Weights != "" {
			if err := loadEncoderWeights(model, cfg.Weights); err != nil {
				return nil, err
			}
		}
		if cfg.CheckpointPath != "" {
			if err := t.warmStart(cfg.CheckpointPath); err != nil {
				return nil, err
			}
		}
	}
	if t.st.RunID == "" {
		t.st.RunID = newRunID()
	}
	if t.sets, err = openSets(cfg); err != nil {
		return nil, err
	}
	removeTempFiles(dir)
	t.trainLabels = data.Labels(t.sets.train.Dataset)
	if _, err = data.NewBalancedSampler(t.trainLabels, cfg.BatchClasses, cfg.SampleCount, cfg.Seed); err != nil {
		return nil, fmt.Errorf("--batch_classes/--sample_count: %w", err)
	}
	if t.loader, err = newLoader(cfg, t.sets.train, true); err != nil {
		return nil, err
	}
	if err := t.buildOptimizer(); err != nil {
		return nil, err
	}
	if ck != nil {
		if err := ck.LoadOptimizer(t.opt); err != nil {
			return nil, fmt.Errorf("--resume %s: %w", cfg.Resume, err)
		}
		if err := ck.LoadScheduler(t.sched); err != nil {
			return nil, fmt.Errorf("--resume %s: %w", cfg.Resume, err)
		}
	}
	// Weights and optimizer state are loaded on the host; the run then
	// moves them to its device once (the optimizer of a later stage makes
	// its state on the parameters' device).
	nn.ToDevice(t.model, cfg.Device, t.opt)
	return t, nil
}

// newModel makes the model of cfg with weights drawn from the seed, and
// checks enc_out_dim against the backbone: what training needs.
func newModel(cfg *Config) (*backbone.Model, error) {
	m, err := backbone.NewModelClasses(cfg.EncType, cfg.LatentDim, cfg.ClassNum, rand.New(rand.NewPCG(cfg.Seed, 0x6d6f64656c)))
	if err != nil {
		return nil, fmt.Errorf("--enc_type: %w", err)
	}
	if m.EncOutDim != cfg.EncOutDim {
		return nil, fmt.Errorf("--enc_out_dim %d does not match --enc_type %s, whose output width is %d", cfg.EncOutDim, cfg.EncType, m.EncOutDim)
	}
	return m, nil
}

// buildModel is newModel for the test procedure, whose feature ensemble
// needs the encoder's taps.
func buildModel(cfg *Config) (*backbone.Model, error) {
	m, err := newModel(cfg)
	if err != nil {
		return nil, err
	}
	if _, ok := m.Enc.(backbone.Tapped); !ok {
		return nil, fmt.Errorf("--enc_type %s has no feature taps: %s", cfg.EncType, errNoTaps)
	}
	return m, nil
}

// errNoTaps says why an encoder without taps cannot be tested.
const errNoTaps = "the reference's class for it defines no get_layer_output, so its test procedure cannot run on it either; vmdls train trains it"

// loadEncoderWeights loads --weights into the encoder, as the reference
// does: the file's keys that the encoder has are loaded, the rest ignored.
func loadEncoderWeights(m *backbone.Model, path string) error {
	if err := checkRegularFile(path); err != nil {
		return inputErrorf("--weights: %w", err)
	}
	ck, err := nn.ReadCheckpoint(path)
	if err != nil {
		return inputErrorf("--weights: %w", err)
	}
	rep, err := ck.LoadModel(m.Enc, false)
	if err != nil {
		return inputErrorf("--weights %s: %w", path, err)
	}
	if len(rep.Loaded) == 0 {
		return inputErrorf("--weights %s: none of its keys is a parameter of the %T encoder", path, m.Enc)
	}
	if err := nn.CheckFinite(m.Enc); err != nil {
		return inputErrorf("--weights %s: %w", path, err)
	}
	return nil
}

// buildOptimizer makes the optimizer and schedule of the current stage:
// SGD (momentum 0.9, Nesterov, weight decay 1e-4) or Adam with PyTorch's
// defaults, and StepLR. While fine-tuning's first stage lasts only the
// latent heads train, at finetune_lr.
func (t *trainer) buildOptimizer() error {
	cfg := &t.cfg
	params := nn.Parameters(t.model)
	lr := cfg.LR
	frozen := cfg.Finetune && !t.st.Unfrozen
	nn.SetRequiresGrad(t.model.Enc, !frozen)
	if frozen {
		params = append(nn.Parameters(t.model.Mu), nn.Parameters(t.model.Logvar)...)
		lr = cfg.FinetuneLR
	}
	var err error
	if cfg.Opt == "sgd" {
		t.opt, err = nn.NewSGD(params, nn.SGDOptions{LR: lr, Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true})
	} else {
		o := nn.DefaultAdamOptions()
		o.LR = lr
		t.opt, err = nn.NewAdam(params, o)
	}
	if err != nil {
		return fmt.Errorf("--opt %s: %w", cfg.Opt, err)
	}
	t.sched, err = nn.NewStepLR(t.opt, cfg.StepSize, cfg.StepGamma)
	return err
}

func (t *trainer) run(ctx context.Context) (*TrainResult, error) {
	res := &TrainResult{OutputDir: t.cfg.OutputDir}
	for e := t.st.Epoch; e < t.cfg.MaxEpochs; e++ {
		sum, interrupted, err := t.epoch(ctx, e)
		if err != nil {
			return res, err
		}
		if interrupted {
			res.Interrupted = true
			res.InterruptedCheckpoint = filepath.Join(t.dir, "interrupted.safetensors")
			if err := nn.SaveCheckpoint(res.InterruptedCheckpoint, t.model, &nn.SaveOptions{
				Metadata: map[string]string{metaInterrupted: fmt.Sprint(e), metaRunID: t.st.RunID}}); err != nil {
				return res, err
			}
			if t.st.Epoch > 0 {
				res.LastCheckpoint = filepath.Join(t.dir, "last.safetensors")
			}
			res.Best = t.bestList()
			return res, fmt.Errorf("training stopped during epoch %d of %d: %w", e+1, t.cfg.MaxEpochs, ctx.Err())
		}
		res.Epochs = append(res.Epochs, sum)
		res.LastCheckpoint = filepath.Join(t.dir, "last.safetensors")
		res.Best = t.bestList()
		if len(res.Epochs) == 1 {
			// The weights of an interruption this run resumed past are
			// stale now that a later epoch is saved.
			removeStaleInterrupted(t.dir, t.st.RunID, t.st.Epoch)
		}
	}
	return res, nil
}

// epoch runs training epoch e, then the end-of-epoch statistics, the
// validation and the checkpoints.
func (t *trainer) epoch(ctx context.Context, e int) (EpochSummary, bool, error) {
	cfg := &t.cfg
	sum := EpochSummary{Epoch: e}
	if e >= cfg.MarginsEpoch && t.st.NegMargin <= cfg.MarginMaxDistance {
		t.st.NegMargin += cfg.MarginJump
	}
	sum.NegMargin = t.st.NegMargin
	sum.LR = t.opt.LR(0)
	nn.SetTraining(t.model, true)
	reseedDropout(t.model, cfg.Seed, e)

	moments := NewMoments(cfg.ClassNum, cfg.LatentDim)
	records := make([][]float64, cfg.ClassNum)
	classMeans := t.classMeansTensor()
	batches, err := t.epochBatches(e)
	if err != nil {
		return sum, false, err
	}
	it := t.loader.Epoch(e, batches)
	defer it.Close()
	start := time.Now()
	images, steps := 0, 0
	for step := 0; ; step++ {
		if ctx.Err() != nil {
			return sum, true, nil
		}
		b, ok := it.Next()
		if !ok {
			break
		}
		parts, z := t.step(b, e, step, classMeans)
		if math.IsNaN(parts[0]) || math.IsInf(parts[0], 0) {
			return sum, false, t.divergedError(e, step, parts)
		}
		sum.Loss += parts[0]
		sum.Triplet += parts[1]
		sum.KL += parts[2]
		images += len(b.Labels)
		steps++
		zv := z.Host() // the step's one download of a tensor: z, B×latent_dim
		moments.Add(zv, b.Labels)
		if t.st.gaussians != nil {
			recordLogLikelihoods(records, t.st.gaussians, zv, b.Labels, cfg.LatentDim)
		}
		el := time.Since(start)
		t.obs.emit(Event{Phase: "train", Epoch: e + 1, Epochs: cfg.MaxEpochs, Step: step + 1, Steps: len(batches),
			Images: images, Elapsed: el, Values: map[string]float64{"loss": parts[0], "triplet": parts[1], "kl": parts[2],
				"neg_margin": t.st.NegMargin, "lr": t.opt.LR(0)}})
	}
	if err := it.Err(); err != nil {
		return sum, false, fmt.Errorf("epoch %d: %w", e, err)
	}
	if steps > 0 {
		sum.Loss /= float64(steps)
		sum.Triplet /= float64(steps)
		sum.KL /= float64(steps)
	}
	sum.Seconds = time.Since(start).Seconds()
	sum.ImagesPerSec = float64(images) / max(sum.Seconds, 1e-9)
	// The steps' recycled activations are the wrong sizes for what follows
	// (validation, the refit): held, they would sit beside its memory.
	tensor.DropRecycled()

	// Validation comes before the end-of-epoch refit, as in the reference
	// (Lightning 1.1 validates before training_epoch_end): it classifies
	// with the Gaussians and bounds of the previous epoch's end. At epoch 0
	// there are none yet and the reference logs an F1 of 0, which its
	// checkpoint callback ranks like any other; so do we, without the pass.
	if e == 0 {
		sum.Validated = true
	} else {
		f1, acc, err := t.validate(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return sum, true, nil
			}
			return sum, false, err
		}
		sum.Validated, sum.F1, sum.KnownAcc = true, f1, acc
	}

	// End of epoch: class bounds from this epoch's log-likelihoods under
	// the previous Gaussians, then new Gaussians from this epoch's z.
	if t.st.gaussians != nil {
		for c, r := range records {
			if len(r) > 0 {
				t.st.bounds[c] = Quantile(r, cfg.LowerBound)
			}
		}
	}
	t.st.gaussians, t.st.priorMeans = latentGaussians(moments, t.st.gaussians, t.st.priorMeans)
	if t.st.bounds == nil {
		t.st.bounds = make([]float64, cfg.ClassNum)
	}
	t.sched.Step()
	t.st.Epoch = e + 1
	if cfg.Finetune && !t.st.Unfrozen && e == FinetuneEpochs {
		// The reference rebuilds its optimizer over every parameter at lr.
		t.st.Unfrozen = true
		if err := t.buildOptimizer(); err != nil {
			return sum, false, err
		}
	}
	if err := t.saveCheckpoints(sum); err != nil {
		return sum, false, err
	}
	vals := map[string]float64{"loss": sum.Loss, "triplet": sum.Triplet, "kl": sum.KL, "neg_margin": sum.NegMargin,
		"lr": sum.LR, "images_per_sec": sum.ImagesPerSec}
	if sum.Validated {
		vals["f1"], vals["known_accuracy"] = sum.F1, sum.KnownAcc
	}
	t.obs.emit(Event{Phase: "train", Epoch: e + 1, Epochs: cfg.MaxEpochs, Step: steps, Steps: len(batches), Images: images,
		Elapsed: time.Since(start), Values: vals, EpochEnd: true})
	return sum, false, nil
}

// divergedError says that training stopped on a non-finite loss and which
// checkpoint still holds good weights. Nothing is saved: the weights have
// already taken the step that produced the loss, and the last completed
// epoch's checkpoint is the one to resume from (with a lower --lr).
func (t *trainer) divergedError(e, step int, parts [3]float64) error {
	last := "no checkpoint was written yet"
	if t.st.Epoch > 0 {
		last = fmt.Sprintf("the last good checkpoint is %s (after epoch %d)", filepath.Join(t.dir, "last.safetensors"), t.st.Epoch)
	}
	return fmt.Errorf("epoch %d step %d: the loss is %v (triplet %v, KL %v): training diverged and stopped; %s",
		e+1, step+1, parts[0], parts[1], parts[2], last)
}

// step runs one optimization step on batch b and returns the loss parts
// (total, triplet, KL) and the sampled z.
func (t *trainer) step(b *data.Batch, e, step int, classMeans *tensor.Tensor) ([3]float64, *tensor.Tensor) {
	cfg := &t.cfg
	// One generator per (epoch, step) makes a resumed run draw the same eps.
	rng := rand.New(rand.NewPCG(cfg.Seed^0x7a5eed, uint64(e)<<32|uint64(step)))
	mark := tensor.AllocMark()
	mu, logvar := t.model.Encode(autograd.Const(onDevice(b.X, cfg.Device)))
	z := Reparameterize(mu, logvar, rng)
	trip, _ := losses.TripletDistancing(z, b.Labels, TripletMargin, float32(t.st.NegMargin))
	loss := trip
	kl := 0.0
	if e >= cfg.GenerationEpoch {
		klv := losses.MonteCarloKL(z, mu, logvar, b.Labels, classMeans, cfg.ClassNum, float32(cfg.KLCoeff))
		kl = float64(klv.Value().Item())
		loss = autograd.Add(loss, klv)
	}
	t.opt.ZeroGrad()
	if loss.RequiresGrad() {
		// The step's activations go back to the cache for the next step's;
		// what the epoch's statistics and the log read afterwards is kept.
		if err := loss.Backward(autograd.RecycleValues(mark, trip, z)); err != nil {
			panic(err) // a fresh graph with a scalar root cannot fail
		}
		t.opt.Step()
	}
	return [3]float64{float64(loss.Value().Item()), float64(trip.Value().Item()), kl}, z.Value()
}

// Reparameterize returns z = mu + exp(logvar/2)·eps with eps ~ N(0, I)
// drawn from rng: the reparameterized sample of METHOD.md section 1. eps is
// drawn on the host, as on the CPU, so that a seed gives the same z on
// every device, and uploaded to mu's device (B×latent_dim floats a step).
func Reparameterize(mu, logvar *autograd.Var, rng *rand.Rand) *autograd.Var {
	eps := autograd.Const(onDevice(tensor.Randn(rng, mu.Shape()...), mu.Value().Device()))
	return autograd.Add(mu, autograd.Mul(autograd.Exp(autograd.MulScalar(logvar, 0.5)), eps))
}

// classMeansTensor returns the previous epoch's class means [C, d] (zeros
// before the first epoch ends), the KL term's prior centres.
func (t *trainer) classMeansTensor() *tensor.Tensor {
	c, d := t.cfg.ClassNum, t.cfg.LatentDim
	out := make([]float32, c*d)
	for k, m := range t.st.priorMeans {
		for j := range d {
			out[k*d+j] = float32(m[j])
		}
	}
	return tensor.FromSlice(out, c, d)
}

// onDevice returns t when it is on d and a copy on d otherwise: a batch
// the loader made on the host goes to the run's device without touching
// the loader's own tensor.
func onDevice(t *tensor.Tensor, d tensor.Device) *tensor.Tensor {
	if t.Device() == d {
		return t
	}
	return t.To(d)
}

// latentGaussians fits each class's N(mean, cov) of the epoch's z, falling
// back to N(0, I) when the covariance is not positive definite, as the
// reference does, and returns the class means beside them: the KL term's
// prior centres, which, as the reference's class_means, stay the class's
// mean when its Gaussian falls back. A class absent from the epoch keeps
// its old Gaussian and mean (zeros before any).
func latentGaussians(m *Moments, prev []*Gaussian, prevMeans [][]float64) ([]*Gaussian, [][]float64) {
	gs := make([]*Gaussian, len(m.Count))
	means := make([][]float64, len(m.Count))
	for c := range gs {
		mean, cov, ok := m.MeanCov(c)
		switch {
		case !ok && prev != nil:
			gs[c], means[c] = prev[c], prevMeans[c]
		case !ok:
			gs[c], means[c] = StandardGaussian(m.Dim), make([]float64, m.Dim)
		default:
			g, err := NewGaussian(mean, cov)
			if err != nil {
				g = StandardGaussian(m.Dim)
			}
			gs[c], means[c] = g, mean
		}
	}
	return gs, means
}

// recordLogLikelihoods appends log N(z; class Gaussian) of each known row
// of z to its class's records.
func recordLogLikelihoods(records [][]float64, gs []*Gaussian, z []float32, labels []int, d int) {
	for c, g := range gs {
		var rows []float64
		for i, l := range labels {
			if l == c {
				for j := range d {
					rows = append(rows, float64(z[i*d+j]))
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		out := make([]float64, len(rows)/d)
		g.LogProb(rows, out)
		records[c] = append(records[c], out...)
	}
}

// Quantile is torch.quantile with linear interpolation: the value at
// position q·(n-1) of the sorted values.
func Quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

// reseedDropout gives every dropout layer a generator derived from (seed,
// epoch), so that a resumed run draws the same masks.
// epochBatches draws epoch e's training batches from a fresh sampler, its
// class lists reshuffled and its positions at the start, as the
// reference's (Lightning rebuilds its BalancedBatchSampler every epoch, with
// reload_dataloaders_every_epoch=True). Its seed depends on the epoch
// alone, so a resumed run draws what the uninterrupted one did.
func (t *trainer) epochBatches(e int) ([][]int, error) {
	s, err := data.NewBalancedSampler(t.trainLabels, t.cfg.BatchClasses, t.cfg.SampleCount, samplerSeed(t.cfg.Seed, e))
	if err != nil {
		return nil, err // checked when the run started
	}
	return s.Epoch(), nil
}

// samplerSeed is the seed of epoch e's training sampler: the run's seed
// for epoch 0, so that a one-epoch run draws as it did before samplers were
// made per epoch, and a distinct mix of it for every later epoch.
func samplerSeed(seed uint64, e int) uint64 {
	return seed ^ uint64(e)*0x9e3779b97f4a7c15
}

func reseedDropout(m nn.Module, seed uint64, epoch int) {
	i := uint64(0)
	var walk func(m nn.Module)
	walk = func(m nn.Module) {
		if d, ok := m.(*nn.Dropout); ok {
			d.Rng = rand.New(rand.NewPCG(seed^0xd209, uint64(epoch)<<20|i))
			i++
		}
		for _, c := range nn.Children(m) {
			walk(c.Value)
		}
	}
	walk(m)
}

// classify is the validation rule of METHOD.md section 3: per class the
// log-likelihood of mu, set to -1e10 below the class bound; prediction =
// argmax, or the unknown label when every class is below its bound.
func classify(gs []*Gaussian, bounds []float64, mu []float32, d int) []int {
	n := len(mu) / d
	x := make([]float64, len(mu))
	for i, v := range mu {
		x[i] = float64(v)
	}
	best := make([]float64, n)
	pred := make([]int, n)
	for i := range best {
		best[i] = math.Inf(-1)
	}
	ll := make([]float64, n)
	for c, g := range gs {
		g.LogProb(x, ll)
		for i, v := range ll {
			if v < bounds[c] {
				v = -1e10
			}
			if v > best[i] {
				best[i], pred[i] = v, c
			}
		}
	}
	for i := range pred {
		if best[i] < -1e9 {
			pred[i] = len(gs)
		}
	}
	return pred
}

// validate classifies the known test set and the unknown set with z = mu
// and returns the macro-F1 over the C+1 labels and the known images'
// accuracy (with rejection, the reference's accuarcy_pos).
func (t *trainer) validate(ctx context.Context) (f1, knownAcc float64, err error) {
	cfg := &t.cfg
	nn.SetTraining(t.model, false)
	defer nn.SetTraining(t.model, true)
	var pred, labels []int
	start := time.Now()
	// The total of both sets, so that the display shows how far the pass
	// is and its ETA: it is the whole test and unknown sets every epoch.
	total := t.sets.test.Len() + t.sets.unknown.Len()
	for _, s := range []*data.Set{t.sets.test, t.sets.unknown} {
		l, err := newLoader(cfg, s, false)
		if err != nil {
			return 0, 0, err
		}
		err = forEachBatch(ctx, l, s.Len(), cfg.BatchSize, func(b *data.Batch) error {
			f, err := t.model.InferChunked(b.X, 0)
			if err != nil {
				return err
			}
			pred = append(pred, classify(t.st.gaussians, t.st.bounds, f.Mu.Host(), cfg.LatentDim)...)
			labels = append(labels, b.Labels...)
			t.obs.emit(Event{Phase: "validate", Epoch: t.st.Epoch + 1, Images: len(labels), Steps: total, Elapsed: time.Since(start)})
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
	}
	f1 = metrics.MacroF1(pred, labels, cfg.ClassNum)
	right, known := 0, 0
	for i, l := range labels {
		if l < cfg.ClassNum {
			known++
			if pred[i] == l {
				right++
			}
		}
	}
	return f1, float64(right) / float64(max(known, 1)), nil
}

// saveCheckpoints writes last.safetensors and, when the epoch's F1 is among
// the best three so far, epoch-EEE-f1-F.safetensors (dropping the one that
// falls out).
func (t *trainer) saveCheckpoints(sum EpochSummary) error {
	last := filepath.Join(t.dir, "last.safetensors")
	if !sum.Validated {
		return t.saveState(last)
	}
	best := append(slices.Clone(t.st.Best), BestCheckpoint{Epoch: sum.Epoch, F1: sum.F1})
	slices.SortStableFunc(best, func(a, b BestCheckpoint) int {
		switch {
		case a.F1 > b.F1:
			return -1
		case a.F1 < b.F1:
			return 1
		}
		return a.Epoch - b.Epoch
	})
	var drop []BestCheckpoint
	if len(best) > keepBest {
		best, drop = best[:keepBest], best[keepBest:]
	}
	t.st.Best = best
	if slices.ContainsFunc(best, func(b BestCheckpoint) bool { return b.Epoch == sum.Epoch }) {
		// Written after Best is updated so the file records itself.
		if err := t.saveState(filepath.Join(t.dir, bestName(sum.Epoch, sum.F1))); err != nil {
			return err
		}
	}
	for _, d := range drop {
		if d.Epoch != sum.Epoch {
			removeOwned(t.dir, bestName(d.Epoch, d.F1), t.st.RunID, d.Epoch)
		}
	}
	// Written last, so that it lists the best set just updated.
	return t.saveState(last)
}

// bestList returns the kept best checkpoints with their paths in this
// run's checkpoints folder.
func (t *trainer) bestList() []BestCheckpoint {
	out := slices.Clone(t.st.Best)
	for i := range out {
		out[i].Path = filepath.Join(t.dir, bestName(out[i].Epoch, out[i].F1))
	}
	return out
}
