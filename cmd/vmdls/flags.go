package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd"
)

// runOptions is everything the train, test and train-ae command lines say:
// the method's settings plus what only the command line uses.
type runOptions struct {
	cmd string
	cfg ovd.Config

	gpus       optString // --gpus: PyTorch Lightning's device list ("0," is device 0)
	numWorkers int       // --num_workers: accepted; the loader sizes its own workers
	offline    bool      // --offline: accepted; there is no remote logger to disable
	dryRun     bool      // --dry_run
	configPath string    // --config

	// Accepted for the reference's command lines; see checkUnsupported.
	firstConv, maxpool1, logTSNE       bool
	covScaling, reconWeight, genWeight float64

	// outputDirSet records whether --output_dir was given, so the default
	// name can be made after parsing.
	outputDirSet bool
	// args are the flags as given, for the resume hint.
	args []string
	// given holds the names of the flags on the command line: the others
	// may be derived (deriveArchitecture, fromCheckpoint).
	given map[string]bool
	// filled lists the flags fromCheckpoint took from the checkpoint.
	filled []string
	// doneEpochs is the number of epochs the checkpoint of a resumed
	// training run completed.
	doneEpochs int
	fs         *flag.FlagSet
	// fit holds vmdls fit's own flags.
	fit fitOptions
}

// optString is a string flag whose unset value is JSON null, as the
// reference's default=None.
type optString struct {
	p   *string
	set bool
}

func (s *optString) String() string {
	if s == nil || s.p == nil {
		return ""
	}
	return *s.p
}

func (s *optString) Set(v string) error { *s.p = v; s.set = true; return nil }

// Get returns nil while the flag is unset, for the dry-run JSON.
func (s *optString) Get() any {
	if !s.set && *s.p == "" {
		return nil
	}
	return *s.p
}

// refNumWorkers is the reference's --num_workers, which only the command
// line has (the method's defaults are ovd's).
const refNumWorkers = 8

// defaultOptions returns the defaults of the reference script behind cmd:
// ovd's defaults of main.py, test.py or mnist_ae.py, with the data folder
// of this machine ($VMDLS_DATA or ./data).
func defaultOptions(cmd string) *runOptions {
	cfg := ovd.DefaultConfig()
	switch cmd {
	case "test", "fit":
		cfg = ovd.DefaultTestConfig()
	case "train-ae":
		cfg = ovd.DefaultAEConfig()
	}
	cfg.DataDir = data.DefaultDir()
	o := &runOptions{cmd: cmd, cfg: cfg, numWorkers: refNumWorkers,
		covScaling: 5.0, reconWeight: 0.1, genWeight: 0.5}
	o.gpus.p = new(string)
	return o
}

// newRunFlags binds cmd's flags to o. Names, meanings and defaults are the
// reference's (main.py, test.py, GMM_VAE_Contrastive.add_model_specific_args
// and the PyTorch Lightning Trainer flags its command lines use), then ours.
func newRunFlags(cmd string, o *runOptions, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &o.cfg
	str := func(p *string, name, usage string) { fs.StringVar(p, name, *p, usage) }
	opt := func(p *string, name, usage string) { fs.Var(&optString{p: p}, name, usage) }
	num := func(p *int, name, usage string) { fs.IntVar(p, name, *p, usage) }
	flt := func(p *float64, name, usage string) { fs.Float64Var(p, name, *p, usage) }
	bol := func(p *bool, name, usage string) { fs.BoolVar(p, name, *p, usage) }

	// Shared by every run command.
	str(&c.DataDir, "data_dir", "data directory (default $VMDLS_DATA or ./data)")
	str(&c.KnownDataset, "known_dataset", "the known (in-distribution) dataset: "+strings.Join(knownDatasetNames(), ", "))
	str(&c.DataTransforms, "data_transforms", "transform pipeline: "+strings.Join(data.PipelineNames, ", ")+" (default mnist; cifar for train and cifar_test for test when --known_dataset has colour images)")
	num(&c.InputHeight, "input_height", "image height the encoder takes (default: --enc_type's, 28 for mnist-conv and 32 for the CIFAR encoders)")
	num(&c.ClassNum, "class_num", "known classes: labels 0..class_num-1 (default 10; with --checkpoint_path or --resume the checkpoint's)")
	num(&c.BatchSize, "batch_size", "evaluation batch size")
	num(&c.MaxEpochs, "max_epochs", "training epochs (PyTorch Lightning's Trainer flag)")
	flt(&c.LR, "lr", "learning rate")
	str(&c.Opt, "opt", "optimizer: sgd or adam")
	fs.Var(&o.gpus, "gpus", `CUDA devices as PyTorch Lightning reads them ("0," is device 0); a CPU-only build warns and runs on the CPU`)
	num(&o.numWorkers, "num_workers", "accepted for the reference's command lines; the data loader picks its own workers")
	bol(&o.offline, "offline", "accepted for the reference's command lines (no remote logger here)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed")
	fs.Func("output_dir", "where metrics.jsonl, checkpoints and results go (default runs/<date-time>-<known>-<unknown>-<enc_type>)",
		func(v string) error { c.OutputDir = v; o.outputDirSet = true; return nil })
	num(&c.Threads, "threads", "compute threads (0: every core)")
	bol(&o.dryRun, "dry_run", "check the flags, print the resolved configuration as one JSON object and exit")
	str(&o.configPath, "config", "read the settings from this JSON file (what --dry_run prints, or a run's config.json); flags on the command line override it")
	num(&c.TrainLimit, "train_limit", "use only the first N training images (0: all)")
	num(&c.TestLimit, "test_limit", "use only the first N known test images (0: all)")
	fs.TextVar(&c.BadImages, "bad_images", c.BadImages, "images of folder datasets that do not decode: fail (check every header at open), scan (decode every image at open) or skip (decode all, leave out the bad ones with a warning)")
	fs.Var(skipBadImages{&c.BadImages}, "skip_bad_images", "leave out images that do not decode, with a warning (same as --bad_images skip)")
	opt(&c.CheckpointPath, "checkpoint_path", checkpointPathUsage[cmd])
	str(&c.EncType, "enc_type", "encoder: "+strings.Join(backbone.EncTypes(), ", ")+" (default resnet18, the reference's, or mnist-conv when --known_dataset has 1x28x28 images; with --checkpoint_path or --resume the checkpoint's)")
	num(&c.EncOutDim, "enc_out_dim", "the encoder's output width (default: --enc_type's, 500 for mnist-conv, 512 for resnet18, ...)")
	num(&c.LatentDim, "latent_dim", fmt.Sprintf("latent dimension (default %d; with --checkpoint_path or --resume the checkpoint's)", c.LatentDim))
	bol(&o.firstConv, "first_conv", "reference resnet18 option (7x7 stem); not supported: the encoders are the CIFAR variants")
	bol(&o.maxpool1, "maxpool1", "reference resnet18 option (stem max-pool); not supported: the encoders are the CIFAR variants")
	if cmd == "train-ae" {
		// mnist_ae.py's script flag names the dataset the autoencoder learns.
		fs.Func("dataset", "alias of --known_dataset (mnist_ae.py's name)", func(v string) error { c.KnownDataset = v; return nil })
		str(&c.AETransforms, "ae_transforms", "pipeline the autoencoder trains on (train-ae ignores --data_transforms): "+
			strings.Join(data.PipelineNames, ", ")+`; unset, the reference's for the dataset: "toy" (unnormalized [0, 1]) for MNIST, "bolts_cifar" (pl_bolts' normalization) for CIFAR`)
		return fs
	}

	// train and test: the OOD model.
	if cmd == "train" {
		opt(&c.Resume, "resume", "continue a run exactly from a checkpoint vmdls train wrote (checkpoints/last.safetensors): its epoch, optimizer, margin and class statistics")
	}
	str(&c.UnknownDataset, "unknown_dataset", "the unknown (OOD) dataset: "+strings.Join(data.Names, ", "))
	num(&c.BatchClasses, "batch_classes", "classes per training batch (test and fit: per batch of the --reference_fit sampler)")
	num(&c.SampleCount, "sample_count", "images per class per training batch (test and fit: per class per batch of the --reference_fit sampler)")
	flt(&c.MarginMaxDistance, "margin_max_distance", "largest negative margin of the triplet loss")
	fs.Var((*floatAlias)(&c.MarginJump), "margin_jumps", "negative-margin increase per epoch (main.py's name)")
	fs.Var((*floatAlias)(&c.MarginJump), "margin_jump", "alias of --margin_jumps (the name the published command lines use)")
	num(&c.MarginsEpoch, "margins_epoch", "first epoch that raises the negative margin")
	flt(&c.KLCoeff, "kl_coeff", "weight of the KL term")
	num(&c.GenerationEpoch, "generation_epoch", "epoch from which the KL term counts")
	flt(&c.LowerBound, "lower_bound", "quantile of the class log-likelihoods kept as the class bound")
	num(&c.StepSize, "step_size", "StepLR period in epochs")
	flt(&c.StepGamma, "step_gamma", "StepLR factor")
	opt(&c.Weights, "weights", "encoder weights (safetensors) to start from")
	bol(&c.Finetune, "finetune", "freeze the encoder for the first epochs (needs --weights)")
	flt(&c.FinetuneLR, "finetune_lr", "learning rate of the fine-tuned encoder")
	bol(&c.AEFeatures, "ae_features", "weight scores by the autoencoder's reconstruction error")
	opt(&c.AEPath, "ae_path", "the trained autoencoder (safetensors), for --ae_features")
	bol(&c.LatentOnly, "latent_only", "ablation: score mu instead of the feature ensemble")
	if evaluates(cmd) {
		bol(&c.ReferenceFit, "reference_fit", "fit the class Gaussians as the reference's test.py does, for comparisons with published numbers: "+
			"one epoch of its round-robin sampler (--batch_classes x --sample_count per batch) with the train variant of --data_transforms, "+
			"each class's sums from the last batch holding it over the count of all of them (a class visited twice gets a halved mean), "+
			"float32 covariances and jitter walk; without it, float64 moments of every training image")
	}
	num(&c.UnknownLimit, "unknown_limit", "use only the first N unknown images (0: all)")
	if cmd == "test" {
		addTestFlags(fs, c)
	}
	flt(&o.covScaling, "cov_scaling", "reference model argument; no effect (unused by the method)")
	flt(&o.reconWeight, "recon_weight", "reference model argument; no effect (unused by the method)")
	flt(&o.genWeight, "gen_weight", "reference model argument; no effect (unused by the method)")
	bol(&o.logTSNE, "log_tsne", "reference model argument; no effect (no t-SNE plots)")
	if cmd == "fit" {
		addFitFlags(fs, &o.fit)
	}
	return fs
}

// checkpointPathUsage is --checkpoint_path's help per command: for train
// the reference's warm start, not a resume (that is --resume).
var checkpointPathUsage = map[string]string{
	"train":    "start from this model's weights, as the reference's main.py: epoch 0, a fresh optimizer and schedule, the margin at --margin_max_distance (a vmdls checkpoint or the reference's .ckpt; to continue a run exactly use --resume)",
	"test":     "the trained model to evaluate (vmdls train's checkpoint or the reference's .ckpt)",
	"train-ae": "the autoencoder to continue training",
}

// skipBadImages is --skip_bad_images, the switch for --bad_images skip.
type skipBadImages struct{ p *data.BadImages }

func (s skipBadImages) IsBoolFlag() bool { return true }

func (s skipBadImages) String() string {
	if s.p == nil {
		return "false"
	}
	return strconv.FormatBool(*s.p == data.BadImagesSkip)
}

func (s skipBadImages) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("parse error")
	}
	if on {
		*s.p = data.BadImagesSkip
	} else if *s.p == data.BadImagesSkip {
		*s.p = data.BadImagesFail
	}
	return nil
}

// Get returns the switch's state for the dry-run JSON.
func (s skipBadImages) Get() any { return *s.p == data.BadImagesSkip }

// floatAlias is a float64 flag for two names sharing one setting.
type floatAlias float64

func (f *floatAlias) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }

func (f *floatAlias) Set(v string) error {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return errors.New("parse error")
	}
	*f = floatAlias(x)
	return nil
}

// Get returns the value for the dry-run JSON.
func (f *floatAlias) Get() any { return float64(*f) }

// parseRunFlags parses cmd's command line. It returns (nil, nil) after
// printing the help for -h.
func parseRunFlags(cmd string, args []string, stdout, stderr io.Writer) (*runOptions, error) {
	o := defaultOptions(cmd)
	fs := newRunFlags(cmd, o, stderr)
	o.fs, o.args = fs, args
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, cmd, fs)
			return nil, nil
		}
		return nil, flagError(cmd, fs, err)
	}
	if fs.NArg() > 0 {
		return nil, usageErrorf("%s: unexpected argument %q (flags are --name value)", cmd, fs.Arg(0))
	}
	o.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.given[f.Name] = true })
	for _, group := range flagAliases {
		for _, name := range group {
			if o.given[name] {
				for _, n := range group {
					o.given[n] = true
				}
			}
		}
	}
	if o.configPath != "" {
		if err := o.applyConfig(o.configPath); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// flagAliases are the groups of flags that set one setting: a setting
// given under one name counts as given under all.
var flagAliases = [][]string{{"margin_jump", "margin_jumps"}, {"known_dataset", "dataset"}, {"bad_images", "skip_bad_images"}}
