package ovd

import (
	"fmt"
	"math"

	"github.com/vmdls-go/vmdls/data"
)

// Config holds every setting of a VMDLS run. Field comments give the
// reference's flag name; the command line maps its flags onto this struct
// one to one, and library users fill it directly (DefaultConfig first).
type Config struct {
	// Model (GMM_VAE_Contrastive's arguments).
	EncType   string // --enc_type: mnist-conv, vgg, resnet18, densenet, wresnet
	LatentDim int    // --latent_dim
	EncOutDim int    // --enc_out_dim: must equal the backbone's output width
	ClassNum  int    // --class_num: the known classes are labels 0..ClassNum-1

	// Loss and schedules.
	KLCoeff           float64 // --kl_coeff
	GenerationEpoch   int     // --generation_epoch: the KL term is 0 before this epoch
	LowerBound        float64 // --lower_bound: quantile of the class log-likelihoods kept as the class bound
	MarginMaxDistance float64 // --margin_max_distance
	MarginJump        float64 // --margin_jump / --margin_jumps
	MarginsEpoch      int     // --margins_epoch

	// Optimization.
	MaxEpochs  int     // --max_epochs
	LR         float64 // --lr
	Opt        string  // --opt: sgd or adam
	StepSize   int     // --step_size: StepLR period in epochs
	StepGamma  float64 // --step_gamma
	Finetune   bool    // --finetune: freeze the encoder for the first epochs
	FinetuneLR float64 // --finetune_lr
	Weights    string  // --weights: encoder weights (safetensors) to start from

	// Data.
	DataDir        string // --data_dir
	KnownDataset   string // --known_dataset
	UnknownDataset string // --unknown_dataset
	DataTransforms string // --data_transforms: mnist, cifar, cifar_test, blob, ...
	InputHeight    int    // --input_height
	BatchClasses   int    // --batch_classes
	SampleCount    int    // --sample_count
	BatchSize      int    // --batch_size: evaluation batch size
	// AETransforms (--ae_transforms) is the pipeline the autoencoder
	// trains on. The reference trains its MNIST autoencoder on pl_bolts'
	// MNISTDataModule, which does not normalize ("toy": ToTensor only,
	// [0, 1]), and applies it to the test images of DataTransforms;
	// docs/results.md measures what this mismatch does to the weighted score.
	AETransforms string
	// TrainLimit and UnknownLimit cap the training and unknown sets (0: all),
	// for quick runs and tests; the first images are kept.
	TrainLimit, UnknownLimit int
	// TestLimit caps the known test set (0: all).
	TestLimit int
	// BadImages (--bad_images, --skip_bad_images) is what opening an image
	// folder dataset does about images that do not decode: check every
	// header and fail (the default), decode every image and fail, or
	// decode every image and leave the bad ones out with a warning.
	BadImages data.BadImages

	// Evaluation.
	CheckpointPath string // --checkpoint_path: resume training from it, or the model to test
	AEFeatures     bool   // --ae_features: reconstruction weighting
	AEPath         string // --ae_path: the trained autoencoder (safetensors)
	LatentOnly     bool   // --latent_only: ablation, score mu instead of the feature ensemble

	// Ours.
	Seed      uint64 // --seed
	OutputDir string // --output_dir
	Threads   int    // --threads: 0 uses every core
}

// DefaultConfig returns the reference's defaults (main.py and
// GMM_VAE_Contrastive's keyword defaults).
func DefaultConfig() Config {
	return Config{
		EncType: "resnet18", LatentDim: 256, EncOutDim: 512, ClassNum: 10,
		KLCoeff: 0.1, GenerationEpoch: 50, LowerBound: 0.05,
		MarginMaxDistance: 32, MarginJump: 1.0, MarginsEpoch: 0,
		MaxEpochs: 1000, LR: 1e-4, Opt: "sgd", StepSize: 100, StepGamma: 0.1,
		FinetuneLR: 0.001,
		DataDir:    "./data", KnownDataset: "mnist", UnknownDataset: "omniglot",
		DataTransforms: "mnist", AETransforms: "toy", InputHeight: 28,
		BatchClasses: 10, SampleCount: 40, BatchSize: 32,
		Seed: 42,
	}
}

// Validate reports the first setting that cannot work, naming its flag.
func (c *Config) Validate() error {
	if err := c.checkFinite(); err != nil {
		return err
	}
	switch {
	case c.LatentDim < 1:
		return fmt.Errorf("--latent_dim %d: want at least 1", c.LatentDim)
	case c.ClassNum < 2:
		return fmt.Errorf("--class_num %d: want at least 2", c.ClassNum)
	case c.BatchClasses < 1 || c.BatchClasses > c.ClassNum:
		return fmt.Errorf("--batch_classes %d: want 1..class_num (%d)", c.BatchClasses, c.ClassNum)
	case c.SampleCount < 1:
		return fmt.Errorf("--sample_count %d: want at least 1", c.SampleCount)
	case c.BatchSize < 1:
		return fmt.Errorf("--batch_size %d: want at least 1", c.BatchSize)
	case c.MaxEpochs < 1:
		return fmt.Errorf("--max_epochs %d: want at least 1", c.MaxEpochs)
	case c.Opt != "sgd" && c.Opt != "adam":
		return fmt.Errorf("--opt %q: want sgd or adam", c.Opt)
	case c.LR <= 0:
		return fmt.Errorf("--lr %g: want a positive learning rate", c.LR)
	case c.StepSize < 1:
		return fmt.Errorf("--step_size %d: want at least 1", c.StepSize)
	case c.LowerBound < 0 || c.LowerBound > 1:
		return fmt.Errorf("--lower_bound %g: want a quantile in [0, 1]", c.LowerBound)
	case c.Finetune && c.Weights == "":
		return fmt.Errorf("--finetune needs --weights FILE (the encoder to start from)")
	case c.MarginMaxDistance <= 0:
		return fmt.Errorf("--margin_max_distance %g: want a positive distance", c.MarginMaxDistance)
	case c.KLCoeff < 0:
		return fmt.Errorf("--kl_coeff %g: want 0 or more", c.KLCoeff)
	case c.LatentOnly && c.AEFeatures:
		return fmt.Errorf("--latent_only scores mu alone; it does not combine with --ae_features")
	}
	return nil
}

// checkFinite refuses NaN and infinite settings. Every comparison with NaN
// is false, so a NaN passes the range checks below unnoticed, trains to
// NaN weights and then fails to be saved, an epoch later, as JSON.
func (c *Config) checkFinite() error {
	for _, f := range []struct {
		flag string
		v    float64
	}{
		{"kl_coeff", c.KLCoeff}, {"lower_bound", c.LowerBound}, {"margin_max_distance", c.MarginMaxDistance},
		{"margin_jump", c.MarginJump}, {"lr", c.LR}, {"step_gamma", c.StepGamma}, {"finetune_lr", c.FinetuneLR},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("--%s %g: want a finite number", f.flag, f.v)
		}
	}
	return nil
}

// ValidateAE checks the settings the autoencoder trainer uses (it has no
// latent space, sampler or schedules), naming the flag of the first bad one.
func (c *Config) ValidateAE() error {
	if err := c.checkFinite(); err != nil {
		return err
	}
	switch {
	case c.ClassNum < 1:
		return fmt.Errorf("--class_num %d: want at least 1", c.ClassNum)
	case c.BatchSize < 1:
		return fmt.Errorf("--batch_size %d: want at least 1", c.BatchSize)
	case c.MaxEpochs < 1:
		return fmt.Errorf("--max_epochs %d: want at least 1", c.MaxEpochs)
	case c.LR <= 0:
		return fmt.Errorf("--lr %g: want a positive learning rate", c.LR)
	}
	if _, err := data.Pipeline(c.AETransforms, false); err != nil {
		return fmt.Errorf("--ae_transforms: %w", err)
	}
	return nil
}
