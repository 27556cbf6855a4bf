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
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/tensor"
)

// ReconstructionWeights turns the per-image reconstruction distances r(x)
// into weights w(x) = r(x) / max r over the evaluation set.
func ReconstructionWeights(r []float64) []float64 {
	return weightsAt(r, reconMax(r))
}

// reconMax is the largest reconstruction distance of r (0 for none): the
// normalizer of the weights, which a Detector freezes on its calibration
// set.
func reconMax(r []float64) float64 {
	mx := 0.0
	for _, v := range r {
		mx = max(mx, v)
	}
	return mx
}

// weightsAt is ReconstructionWeights with the normalizer given: w = r/mx,
// or all 1 when mx is not positive.
func weightsAt(r []float64, mx float64) []float64 {
	w := make([]float64, len(r))
	for i, v := range r {
		if mx > 0 {
			w[i] = v / mx
		} else {
			w[i] = 1
		}
	}
	return w
}

// reconstruct runs the autoencoder over x in chunks (the reference splits
// its batches in four), without a graph.
func reconstruct(ae backbone.Autoencoder, x *tensor.Tensor) *tensor.Tensor {
	n := x.Size(0)
	var parts []*tensor.Tensor
	autograd.NoGrad(func() {
		for lo := 0; lo < n; lo += backbone.DefaultInferChunk {
			hi := min(n, lo+backbone.DefaultInferChunk)
			parts = append(parts, ae.Reconstruct(autograd.Const(onDevice(x.Slice(lo, hi), nn.ModuleDevice(ae)))).Value())
		}
	})
	return tensor.Concat(0, parts...)
}

// rowMSE returns the mean over columns of (a - b)² for each row, in
// float64 on the host (a and b are pooled tap rows, one per image).
func rowMSE(a, b *tensor.Tensor) []float64 {
	n, d := a.Size(0), a.Size(1)
	ad, bd := a.Host(), b.Host()
	out := make([]float64, n)
	for i := range n {
		s := 0.0
		for j := range d {
			diff := float64(ad[i*d+j]) - float64(bd[i*d+j])
			s += diff * diff
		}
		out[i] = s / float64(d)
	}
	return out
}

// AEResult is what TrainAE produced.
type AEResult struct {
	// Path is the autoencoder's checkpoint (pass it as --ae_path).
	Path string
	// Losses are the epochs' mean reconstruction losses.
	Losses []float64
	// Interrupted is set when ctx was cancelled. Path then still holds the
	// last complete epoch (empty if none completed), and InterruptedPath
	// the weights at the moment of the stop.
	Interrupted     bool
	InterruptedPath string
}

// lastAE says which autoencoder file holds good weights after a failure
// during epoch e (0-based).
func lastAE(path string, e int) string {
	if e == 0 || path == "" {
		return "no epoch was completed, so nothing was saved"
	}
	return fmt.Sprintf("%s holds epoch %d", path, e)
}

// aeMetaType is the checkpoint metadata key naming the autoencoder.
const aeMetaType = "ae_type"

// newAutoencoder builds the autoencoder of METHOD.md section 5 of the
// given kind: "mnist" (the reference's MNIST_AE), "resnet18" (Bolts' AE,
// the reference's for CIFAR-10) or "resnet50" (Bolts' AE with enc_type
// resnet50, the reference's for CIFAR-100).
func newAutoencoder(kind string, rng *rand.Rand) (backbone.Autoencoder, error) {
	switch kind {
	case "mnist":
		return backbone.NewMnistAE(rng), nil
	case "resnet18":
		return backbone.NewResNetAE(rng), nil
	case "resnet50":
		return backbone.NewResNet50AE(rng), nil
	}
	return nil, fmt.Errorf("no autoencoder %q (have mnist, resnet18, resnet50)", kind)
}

// aeKindOf names the kind of an autoencoder built by newAutoencoder.
func aeKindOf(ae backbone.Autoencoder) (string, bool) {
	switch ae.(type) {
	case *backbone.MnistAE:
		return "mnist", true
	case *backbone.ResNetAE:
		return "resnet18", true
	case *backbone.ResNet50AE:
		return "resnet50", true
	}
	return "", false
}

// aeTakes reports whether an autoencoder of the given kind takes c×h×w
// images: mnist's 1×28×28, the ResNet ones' 3×32×32.
func aeTakes(kind string, c, h, w int) bool {
	switch kind {
	case "mnist":
		return c == 1 && h == 28 && w == 28
	case "resnet18", "resnet50":
		return c == 3 && h == 32 && w == 32
	}
	return false
}

// aeKinds maps train-ae's --enc_type, the autoencoder's encoder, to its
// kind.
var aeKinds = map[string]string{"mnist-conv": "mnist", "resnet18": "resnet18", "resnet50": "resnet50"}

// LoadAutoencoder reads an autoencoder checkpoint written by TrainAE.
func LoadAutoencoder(path string) (backbone.Autoencoder, error) {
	if err := checkRegularFile(path); err != nil {
		return nil, inputErrorf("--ae_path: %w", err)
	}
	ck, err := nn.ReadCheckpoint(path)
	if err != nil {
		return nil, inputErrorf("--ae_path: %w", err)
	}
	kind, ok := ck.Metadata[aeMetaType]
	if !ok {
		// A PyTorch file (the reference's autoencoder checkpoints) carries
		// no ae_type: its layers say which of the two it is.
		shapes := map[string][]int{}
		for _, t := range ck.File.Tensors {
			shapes[t.Name] = t.Shape
		}
		if kind = AutoencoderKind(shapes); kind == "" {
			return nil, inputErrorf("--ae_path %s: not an autoencoder checkpoint (no %s metadata, and its layers are not the MNIST, ResNet-18 or ResNet-50 autoencoder's)", path, aeMetaType)
		}
	}
	ae, err := newAutoencoder(kind, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, inputErrorf("--ae_path %s: %w", path, err)
	}
	if _, err := ck.LoadModel(ae, true); err != nil {
		return nil, inputErrorf("--ae_path %s: %w", path, err)
	}
	if err := nn.CheckFinite(ae); err != nil {
		return nil, inputErrorf("--ae_path %s: %w", path, err)
	}
	return ae, nil
}

// AutoencoderKind names the autoencoder whose state_dict has the given
// keys and shapes: "mnist", "resnet18" or "resnet50" (newAutoencoder's
// kinds), or "" when it is none of them. All have encoder.* and decoder.*
// layers and differ in their code layer fc: 32x500 for MNIST, 256x512 for
// the CIFAR-10 ResNet-18 one, 256x2048 for the CIFAR-100 ResNet-50 one.
func AutoencoderKind(shapes map[string][]int) string {
	var enc, dec bool
	for name := range shapes {
		enc = enc || strings.HasPrefix(name, "encoder.")
		dec = dec || strings.HasPrefix(name, "decoder.")
	}
	if !enc || !dec {
		return ""
	}
	switch fc := shapes["fc.weight"]; {
	case slices.Equal(fc, []int{32, 500}):
		return "mnist"
	case slices.Equal(fc, []int{256, 512}):
		return "resnet18"
	case slices.Equal(fc, []int{256, backbone.ResNet50OutDim}):
		return "resnet50"
	}
	return ""
}

// TrainAE trains the autoencoder of the known data (METHOD.md section 5):
// MSE with Adam at cfg.LR, cfg.MaxEpochs epochs of shuffled batches of
// cfg.BatchSize training images with cfg.AETransforms (its test-time variant;
// empty: AETransformsFor the known dataset), saved to
// cfg.OutputDir/ae.safetensors after every epoch. With cfg.CheckpointPath
// it continues from the weights of an autoencoder it wrote before.
func TrainAE(ctx context.Context, cfg Config, obs Observer) (*AEResult, error) {
	if err := cfg.ValidateAE(); err != nil {
		return nil, err
	}
	if cfg.OutputDir == "" {
		return nil, errors.New("ovd.TrainAE: Config.OutputDir is empty")
	}
	cfg.applyThreads()
	if err := os.MkdirAll(cfg.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("--output_dir: %w", err)
	}
	removeTempFiles(cfg.OutputDir)
	opt := data.Options{Dir: cfg.DataDir, ClassNum: cfg.ClassNum, Seed: cfg.Seed, BadImages: cfg.BadImages}
	set, err := data.Open(cfg.KnownDataset, data.Train, opt)
	if err != nil {
		return nil, fmt.Errorf("--known_dataset %s: %w", cfg.KnownDataset, err)
	}
	set.Dataset = data.FilterLabels(set.Dataset, func(l int) bool { return l < cfg.ClassNum })
	if cfg.TrainLimit > 0 {
		set.Dataset = classBalancedHead(set.Dataset, cfg.TrainLimit)
	}
	aeData := cfg
	aeData.DataTransforms = cfg.aeTransforms()
	loader, err := newLoader(&aeData, set, false)
	if err != nil {
		return nil, err
	}
	// ValidateAE checked that the encoder is an autoencoder's and fits
	// the known dataset's images.
	kind := aeKinds[cfg.EncType]
	ae, err := newAutoencoder(kind, rand.New(rand.NewPCG(cfg.Seed, 0xae)))
	if err != nil {
		return nil, fmt.Errorf("--enc_type: %w", err)
	}
	if cfg.CheckpointPath != "" {
		// Continue from an autoencoder train-ae wrote (its weights; Adam
		// starts afresh).
		prev, err := LoadAutoencoder(cfg.CheckpointPath)
		if err != nil {
			return nil, &InputError{fmt.Errorf("--checkpoint_path: %w", err)}
		}
		if got, _ := aeKindOf(prev); got != kind {
			return nil, inputErrorf("--checkpoint_path %s holds the %s autoencoder, but %s needs the %s one", cfg.CheckpointPath, got, cfg.KnownDataset, kind)
		}
		ae = prev
	}
	nn.ToDevice(ae, cfg.Device)
	o := nn.DefaultAdamOptions()
	o.LR = cfg.LR
	adam, err := nn.NewAdam(nn.Parameters(ae), o)
	if err != nil {
		return nil, fmt.Errorf("--lr: %w", err)
	}
	res := &AEResult{Path: filepath.Join(cfg.OutputDir, "ae.safetensors")}
	save := func(path string, meta map[string]string) error {
		meta[aeMetaType], meta["known_dataset"] = kind, cfg.KnownDataset
		return nn.SaveCheckpoint(path, ae, &nn.SaveOptions{Metadata: meta})
	}
	n := set.Len()
	shuffle := rand.New(rand.NewPCG(cfg.Seed, 0x5f))
	for e := range cfg.MaxEpochs {
		nn.SetTraining(ae, true)
		perm := shuffle.Perm(n)
		var batches [][]int
		for lo := 0; lo < n; lo += cfg.BatchSize {
			batches = append(batches, perm[lo:min(lo+cfg.BatchSize, n)])
		}
		it := loader.Epoch(e, batches)
		start := time.Now()
		sum, steps, images := 0.0, 0, 0
		for {
			if ctx.Err() != nil {
				// ae.safetensors keeps the last complete epoch; the
				// mid-epoch weights go beside it, as Train does.
				it.Close()
				res.Interrupted = true
				res.InterruptedPath = filepath.Join(cfg.OutputDir, "interrupted.safetensors")
				if e == 0 {
					res.Path = ""
				}
				if err := save(res.InterruptedPath, map[string]string{metaInterrupted: fmt.Sprint(e)}); err != nil {
					return res, err
				}
				return res, fmt.Errorf("autoencoder training stopped during epoch %d of %d: %w", e+1, cfg.MaxEpochs, ctx.Err())
			}
			b, ok := it.Next()
			if !ok {
				break
			}
			mark := tensor.AllocMark()
			loss := ae.ReconstructionLoss(autograd.Const(onDevice(b.X, cfg.Device)))
			adam.ZeroGrad()
			if err := loss.Backward(autograd.RecycleValues(mark)); err != nil {
				it.Close()
				return res, err
			}
			adam.Step()
			l := float64(loss.Value().Item())
			if math.IsNaN(l) || math.IsInf(l, 0) {
				it.Close()
				if e == 0 {
					res.Path = ""
				}
				return res, fmt.Errorf("epoch %d step %d: the reconstruction loss is %v: training diverged and stopped; %s",
					e+1, steps+1, l, lastAE(res.Path, e))
			}
			sum += l
			steps++
			images += len(b.Labels)
			obs.emit(Event{Phase: "train-ae", Epoch: e + 1, Epochs: cfg.MaxEpochs, Step: steps, Steps: len(batches),
				Images: images, Elapsed: time.Since(start), Values: map[string]float64{"loss": l}})
		}
		it.Close()
		if err := it.Err(); err != nil {
			return res, err
		}
		res.Losses = append(res.Losses, sum/float64(max(steps, 1)))
		if err := save(res.Path, map[string]string{}); err != nil {
			return res, err
		}
		obs.emit(Event{Phase: "train-ae", Epoch: e + 1, Epochs: cfg.MaxEpochs, Step: steps, Steps: len(batches), Images: images,
			Elapsed: time.Since(start), Values: map[string]float64{"loss": res.Losses[e]}, EpochEnd: true})
	}
	return res, nil
}
