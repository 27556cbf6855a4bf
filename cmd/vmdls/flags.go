package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/cuda"
	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/internal/regularfile"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd"
)

// exitError carries the process exit status an error should end with:
// 2 for bad command lines (before any work), 1 for failures during the
// work, 130 for an interrupted run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a command-line mistake: exit status 2, before any work.
func usageErrorf(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

// exitCode is the status main exits with for err. Errors without a code
// are usage errors, as they were before subcommands had run-time failures.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}

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
	case "test":
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
	num(&c.ClassNum, "class_num", "known classes: labels 0..class_num-1 (default 10; with --checkpoint_path the checkpoint's)")
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
	opt(&c.CheckpointPath, "checkpoint_path", "checkpoint to resume training from, or the model to test")
	str(&c.EncType, "enc_type", "encoder: "+strings.Join(backbone.EncTypes(), ", ")+" (default resnet18, the reference's, or mnist-conv when --known_dataset has 1x28x28 images; with --checkpoint_path the checkpoint's)")
	num(&c.EncOutDim, "enc_out_dim", "the encoder's output width (default: --enc_type's, 500 for mnist-conv, 512 for resnet18, ...)")
	num(&c.LatentDim, "latent_dim", fmt.Sprintf("latent dimension (default %d; with --checkpoint_path the checkpoint's)", c.LatentDim))
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
	str(&c.UnknownDataset, "unknown_dataset", "the unknown (OOD) dataset: "+strings.Join(data.Names, ", "))
	num(&c.BatchClasses, "batch_classes", "classes per training batch")
	num(&c.SampleCount, "sample_count", "images per class per training batch")
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
	num(&c.UnknownLimit, "unknown_limit", "use only the first N unknown images (0: all)")
	flt(&o.covScaling, "cov_scaling", "reference model argument; no effect (unused by the method)")
	flt(&o.reconWeight, "recon_weight", "reference model argument; no effect (unused by the method)")
	flt(&o.genWeight, "gen_weight", "reference model argument; no effect (unused by the method)")
	bol(&o.logTSNE, "log_tsne", "reference model argument; no effect (no t-SNE plots)")
	return fs
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

// configSkipped are the keys of the dry-run JSON that --config does not
// read: what a replay must not repeat (printing instead of running,
// reading itself), and the second names of aliased settings, whose values
// the first names carry.
var configSkipped = []string{"dry_run", "config", "margin_jumps", "dataset", "skip_bad_images"}

// applyConfig sets the flags a --config file names and the command line
// does not, as if they had been given (so nothing derived replaces them).
func (o *runOptions) applyConfig(path string) error {
	if !regularFile(path) {
		if _, err := os.Stat(path); err != nil {
			return usageErrorf("%s: --config %s: %v", o.cmd, path, errors.Unwrap(err))
		}
		return usageErrorf("%s: --config %s is not a regular file", o.cmd, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return usageErrorf("%s: --config %s: %v", o.cmd, path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a seed above 2^53 stays exact
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return usageErrorf("%s: --config %s: not the JSON object --dry_run prints: %v", o.cmd, path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if contains(configSkipped, k) || o.given[k] {
			continue
		}
		f := o.fs.Lookup(k)
		if f == nil {
			hint := ""
			if near := nearestFlags(o.fs, k); len(near) > 0 {
				hint = "; did you mean " + strings.Join(near, ", ") + "?"
			}
			return usageErrorf("%s: --config %s: unknown setting %q%s (the keys are vmdls %s's flag names)", o.cmd, path, k, hint, o.cmd)
		}
		var v string
		switch x := m[k].(type) {
		case nil:
			continue // unset (the reference's None)
		case string:
			v = x
		case json.Number:
			v = x.String()
		case bool:
			v = strconv.FormatBool(x)
		default:
			return usageErrorf("%s: --config %s: %s: want a string, number or boolean, not %v", o.cmd, path, k, x)
		}
		if err := o.fs.Set(k, v); err != nil {
			return usageErrorf("%s: --config %s: %s %q: %v", o.cmd, path, k, v, err)
		}
		o.given[k] = true
	}
	return nil
}

// flagError rewrites the flag package's messages so they name the flag
// and say what would be valid.
func flagError(cmd string, fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		hint := ""
		if near := nearestFlags(fs, name); len(near) > 0 {
			hint = "; did you mean --" + strings.Join(near, ", --") + "?"
		}
		return usageErrorf("%s: unknown flag --%s%s (vmdls %s -h lists the flags)", cmd, name, hint, cmd)
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return usageErrorf("%s: flag %s needs a value", cmd, strings.Replace(rest, "-", "--", 1))
	}
	// "invalid value "x" for flag -lr: parse error"
	if i := strings.Index(msg, " for flag -"); strings.HasPrefix(msg, "invalid ") && i > 0 {
		name := msg[i+len(" for flag -"):]
		if j := strings.Index(name, ":"); j > 0 {
			name = name[:j]
		}
		want := "a value"
		if f := fs.Lookup(name); f != nil {
			switch f.Value.(type) {
			case interface{ IsBoolFlag() bool }:
				want = "no value (it is a switch) or =true/=false"
			default:
				switch f.Value.(flag.Getter).Get().(type) {
				case int:
					want = "an integer"
				case uint64:
					want = "a non-negative integer"
				case float64:
					want = "a number"
				case *data.BadImages:
					want = "fail, scan or skip"
				}
			}
		}
		return usageErrorf("%s: --%s: %s; want %s", cmd, name, strings.TrimSpace(msg[len("invalid "):i]), want)
	}
	return usageErrorf("%s: %v", cmd, err)
}

// nearestFlags lists the flags that look like a mistyped name.
func nearestFlags(fs *flag.FlagSet, name string) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.Contains(f.Name, name) || strings.Contains(name, f.Name) || editDistance(f.Name, name) <= 2 {
			out = append(out, f.Name)
		}
	})
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// runNotes say, under a run command's synopsis, what its flags do not
// show: what is derived and what a run does besides its main work.
var runNotes = map[string]string{
	"train": "Trains the OOD model on --known_dataset. From the second epoch on, each epoch\n" +
		"ends with a validation pass over the known test set and the unknown set\n" +
		"(--test_limit and --unknown_limit cap them); the three best checkpoints by\n" +
		"macro F1 are kept.",
	"test": "Evaluates the model of --checkpoint_path: fits the class Gaussians on the\n" +
		"training set, scores the known test set and the unknown set, writes\n" +
		"results.json and prints the metrics. The architecture is the checkpoint's.",
}

// notUsedBy lists, per run command, the flags it accepts only so that the
// reference's command lines run unchanged: test.py's lines repeat the
// training settings, and main.py's parser has the test options. Its help
// names them on one line instead of listing them as if they mattered.
var notUsedBy = map[string][]string{
	"test": {"batch_classes", "cov_scaling", "finetune", "finetune_lr", "gen_weight", "generation_epoch", "kl_coeff",
		"log_tsne", "lower_bound", "lr", "margin_jump", "margin_jumps", "margin_max_distance", "margins_epoch",
		"max_epochs", "opt", "recon_weight", "sample_count", "step_gamma", "step_size", "train_limit", "weights"},
	"train": {"ae_features", "ae_path", "latent_only"},
}

// printFlags is the help of a run command: its own flags in full, then
// the names of those it accepts and ignores (notUsedBy).
func printFlags(w io.Writer, cmd string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: vmdls %s [flags]\n\n", cmd)
	if note := runNotes[cmd]; note != "" {
		fmt.Fprintf(w, "%s\n\n", note)
	}
	fmt.Fprintln(w, "flags (the reference's names; -- or - both work):")
	ignored := notUsedBy[cmd]
	own := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if !contains(ignored, f.Name) {
			own.Var(f.Value, f.Name, f.Usage)
			own.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	printFlagList(w, own)
	if len(ignored) > 0 {
		what := "training settings, in the reference's test.py lines;\nthe checkpoint holds what training used"
		if cmd == "train" {
			what = "test options, in main.py's parser too;\nvmdls test uses them"
		}
		fmt.Fprintf(w, "\naccepted and ignored (%s):\n", what)
		printWrapped(w, "  ", "--"+strings.Join(ignored, " --"), 78)
	}
}

// printWrapped prints words on lines of at most width columns after
// indent, for lists of names a terminal of 80 columns shows whole.
func printWrapped(w io.Writer, indent, text string, width int) {
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	if len(line) > len(indent) {
		fmt.Fprintln(w, line)
	}
}

// dryRunJSON is the resolved configuration as one JSON object keyed by the
// flag names (both spellings of --margin_jump(s)), in name order.
func (o *runOptions) dryRunJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteString("{")
	var err error
	first := true
	o.fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		if f.Name == "config" {
			// The resolved settings stand alone: replaying them needs
			// no other file.
			return
		}
		var v any
		switch f.Name {
		case "output_dir":
			v = o.cfg.OutputDir
		case "dataset":
			v = o.cfg.KnownDataset
		default:
			v = f.Value.(flag.Getter).Get()
		}
		kb, _ := json.Marshal(f.Name)
		vb, e := json.Marshal(v)
		if e != nil {
			err = fmt.Errorf("--%s: %v", f.Name, e)
			return
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		b.Write(kb)
		b.WriteString(":")
		b.Write(vb)
	})
	b.WriteString("}")
	return []byte(b.String()), err
}

// defaultOutputDir is runs/<date-time>-<known>-<unknown>-<enc_type>.
func (o *runOptions) defaultOutputDir(now time.Time) string {
	parts := []string{now.Format("20060102-150405")}
	if o.cmd == "train-ae" {
		parts = append(parts, "ae", o.cfg.KnownDataset)
	} else {
		parts = append(parts, o.cfg.KnownDataset, o.cfg.UnknownDataset, o.cfg.EncType)
	}
	if o.cmd == "test" {
		parts = append(parts, "test")
	}
	name := strings.Join(parts, "-")
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == ' ' {
			return '_'
		}
		return r
	}, name)
	return "runs/" + name
}

// knownDatasetNames lists the datasets with class labels, usable as
// --known_dataset (the others are unknown-only sets), in name order.
func knownDatasetNames() []string {
	var out []string
	for _, k := range data.KnownSets() {
		out = append(out, k.Name)
	}
	return out
}

// validate checks the settings before any work: values, names and the
// combinations that cannot work, each naming the flag and what is valid.
// Files are checked by checkFiles (not in a dry run, which reads nothing
// but the header of --checkpoint_path, for fromCheckpoint).
func (o *runOptions) validate() error {
	c := &o.cfg
	cmd := o.cmd
	// The method's own checks first (ovd.Config.Validate): names, shapes
	// and values; then what only the command line has.
	validate := c.Validate
	if cmd == "train-ae" {
		validate = c.ValidateAE
	}
	if err := validate(); err != nil {
		return usageErrorf("%s: %v", cmd, err)
	}
	if o.numWorkers < 0 {
		return usageErrorf("%s: --num_workers %d: want 0 or more", cmd, o.numWorkers)
	}
	if o.firstConv || o.maxpool1 {
		return usageErrorf("%s: --first_conv/--maxpool1 select the ImageNet ResNet stem, which is not built here; the encoders are the CIFAR variants the published experiments use (leave both off)", cmd)
	}
	if _, err := parseGPUs(o.gpus.String()); err != nil {
		return usageErrorf("%s: --gpus %q: %v", cmd, o.gpus.String(), err)
	}
	return o.checkRequired()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkFiles checks that the files named on the command line exist and,
// for checkpoints, that they were made for the same network.
func (o *runOptions) checkFiles() error {
	c := &o.cfg
	for _, f := range []struct{ flag, path string }{
		{"checkpoint_path", c.CheckpointPath}, {"weights", c.Weights}, {"ae_path", c.AEPath},
	} {
		if f.path == "" {
			continue
		}
		st, err := os.Stat(f.path)
		if err != nil {
			return usageErrorf("%s: --%s %s: %v", o.cmd, f.flag, f.path, errors.Unwrap(err))
		}
		if st.IsDir() {
			return usageErrorf("%s: --%s %s is a directory; want a file", o.cmd, f.flag, f.path)
		}
		if !st.Mode().IsRegular() {
			// Reading a FIFO blocks until a writer comes, which may be never.
			return usageErrorf("%s: --%s %s is not a regular file (%s); want a file", o.cmd, f.flag, f.path, regularfile.Kind(st.Mode()))
		}
	}
	if c.CheckpointPath != "" {
		if err := ovd.CheckCheckpoint(c, c.CheckpointPath); err != nil {
			return usageErrorf("%s: %v", o.cmd, err)
		}
	}
	if c.Weights != "" && o.cmd == "train" {
		if err := ovd.CheckWeights(c.Weights); err != nil {
			return usageErrorf("%s: %v", o.cmd, err)
		}
	}
	if c.AEPath != "" {
		err := ovd.CheckAutoencoder(c.AEPath)
		if errors.Is(err, ovd.ErrAutoencoderInside) {
			// The reference's model checkpoints keep their frozen
			// autoencoder under ae.
			return usageErrorf("%s: --ae_path %s is a model checkpoint with an autoencoder inside (under ae.); take it out with vmdls convert --prefix ae. %s ae.safetensors", o.cmd, c.AEPath, shellQuote(c.AEPath))
		}
		if err != nil {
			return usageErrorf("%s: %v", o.cmd, err)
		}
	}
	return nil
}

// gpuRequest is a parsed --gpus value.
type gpuRequest struct {
	// IDs lists the devices asked for; nil with All false and Count 0
	// means the CPU.
	IDs   []int
	Count int
	All   bool
}

// wantsGPU reports whether the request names any device.
func (g gpuRequest) wantsGPU() bool { return len(g.IDs) > 0 || g.Count > 0 || g.All }

// parseGPUs reads --gpus the way PyTorch Lightning 1.1 does: empty or
// "None" is the CPU, "0,"/"1,3" list device ids, an integer n asks for n
// devices (0 none, -1 all).
func parseGPUs(s string) (gpuRequest, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "None" {
		return gpuRequest{}, nil
	}
	if strings.Contains(s, ",") {
		var g gpuRequest
		for _, p := range strings.Split(s, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			id, err := strconv.Atoi(p)
			if err != nil || id < 0 {
				return g, fmt.Errorf("want device ids such as \"0,\" or \"0,1\", or a count")
			}
			g.IDs = append(g.IDs, id)
		}
		return g, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 {
		return gpuRequest{}, fmt.Errorf("want device ids such as \"0,\" or \"0,1\", a count, or -1 for all")
	}
	if n == -1 {
		return gpuRequest{All: true}, nil
	}
	return gpuRequest{Count: n}, nil
}

// applyGPUs hands --gpus to the CUDA build, or warns once that this build
// runs on the CPU.
func (o *runOptions) applyGPUs(stderr io.Writer) error {
	req, _ := parseGPUs(o.gpus.String())
	if !req.wantsGPU() {
		return nil
	}
	if !cuda.Available {
		fmt.Fprintf(stderr, "vmdls: warning: --gpus %q: this build has no CUDA support (build with -tags cuda); running on the CPU\n", o.gpus.String())
		return nil
	}
	if err := selectGPU(req); err != nil {
		return usageErrorf("%s: --gpus %q: %v", o.cmd, o.gpus.String(), err)
	}
	return nil
}

// checkRequired checks the files a command cannot do without, before
// anything is read from them.
func (o *runOptions) checkRequired() error {
	c := &o.cfg
	if o.cmd == "test" && c.CheckpointPath == "" && !o.dryRun {
		return usageErrorf("test: --checkpoint_path is required: the trained model to evaluate (vmdls train writes it)")
	}
	if c.AEFeatures && o.cmd == "test" && c.AEPath == "" && !o.dryRun {
		return usageErrorf("test: --ae_features needs --ae_path FILE, the autoencoder vmdls train-ae writes")
	}
	return nil
}

// regularFile reports whether path names a regular file; reading anything
// else (a FIFO) may block, and checkFiles names the problem.
func regularFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// fromCheckpoint fills in the architecture the checkpoint of
// --checkpoint_path records (enc_type, latent_dim, class_num) where the
// command line does not say it, so that vmdls test needs no flag the
// checkpoint knows. A flag that disagrees is left for checkCheckpoint to
// refuse, naming both values. Only the header is read.
func (o *runOptions) fromCheckpoint() error {
	c := &o.cfg
	if o.cmd == "train-ae" || c.CheckpointPath == "" || !regularFile(c.CheckpointPath) {
		return nil
	}
	a, err := ovd.ReadCheckpointArch(c.CheckpointPath)
	if err != nil {
		return usageErrorf("%s: %v", o.cmd, err)
	}
	fill := func(name string, set func()) {
		if !o.given[name] {
			set()
			o.filled = append(o.filled, name)
		}
	}
	switch {
	case a.EncType != "":
		fill("enc_type", func() { c.EncType = a.EncType })
	case a.EncOutDim > 0:
		// No name recorded: the encoder of that output width, when only
		// one has it.
		var match []string
		for _, e := range backbone.Encoders() {
			if e.OutDim == a.EncOutDim {
				match = append(match, e.Name)
			}
		}
		if len(match) == 1 {
			fill("enc_type", func() { c.EncType = match[0] })
		}
	}
	switch {
	case a.LatentDim != nil:
		fill("latent_dim", func() { c.LatentDim = *a.LatentDim })
	case a.HeadLatentDim > 0:
		fill("latent_dim", func() { c.LatentDim = a.HeadLatentDim })
	}
	if a.ClassNum != nil {
		fill("class_num", func() {
			c.ClassNum = *a.ClassNum
			// The reference's batch_classes default is class_num's; a
			// checkpoint of fewer classes would make it out of range.
			if !o.given["batch_classes"] {
				c.BatchClasses = min(c.BatchClasses, c.ClassNum)
			}
		})
	}
	// A file without the mean head is not a model at all, which
	// checkCheckpoint says; one with it may still lack the training state.
	o.doneEpochs = a.Epochs
	if o.cmd == "train" && !a.Resumable && a.EncOutDim > 0 {
		return usageErrorf("train: --checkpoint_path %s is not a training checkpoint of vmdls train (no training state in it); to start from a model's weights use --weights", c.CheckpointPath)
	}
	return nil
}

// deriveArchitecture makes the defaults a valid run: the encoder fits the
// known dataset's images unless --enc_type is given, and --enc_out_dim and
// --input_height are the encoder's unless given; colour datasets get the
// CIFAR pipeline unless --data_transforms is given.
func (o *runOptions) deriveArchitecture() {
	c := &o.cfg
	kd, known := data.LookupKnown(c.KnownDataset)
	fits := func(name string) bool {
		e, ok := backbone.LookupEncoder(name)
		return ok && e.Channels == kd.Channels && e.Height == kd.Height && e.Width == kd.Width
	}
	if known && !o.given["enc_type"] && !contains(o.filled, "enc_type") && !fits(c.EncType) {
		// The reference's resnet18 first, then the registry's order
		// (mnist-conv for the 1x28x28 sets).
		for _, e := range append([]string{"resnet18"}, backbone.EncTypes()...) {
			if fits(e) {
				c.EncType = e
				break
			}
		}
	}
	if e, ok := backbone.LookupEncoder(c.EncType); ok {
		if !o.given["enc_out_dim"] {
			c.EncOutDim = e.OutDim
		}
		if !o.given["input_height"] {
			c.InputHeight = e.Height
		}
	}
	if known && kd.Channels == 3 && !o.given["data_transforms"] && o.cmd != "train-ae" {
		c.DataTransforms = "cifar"
		if o.cmd == "test" {
			c.DataTransforms = "cifar_test"
		}
	}
}

// checkCheckpoint compares the checkpoint's architecture with the
// settings, before the settings' own checks, so that a flag that disagrees
// with the checkpoint is named with both values.
func (o *runOptions) checkCheckpoint() error {
	c := &o.cfg
	if o.cmd == "train-ae" || c.CheckpointPath == "" || !regularFile(c.CheckpointPath) {
		return nil
	}
	if err := ovd.CheckCheckpoint(c, c.CheckpointPath); err != nil {
		return usageErrorf("%s: %v", o.cmd, err)
	}
	return nil
}

// filledString lists the settings taken from the checkpoint, as flags.
func (o *runOptions) filledString() string {
	var parts []string
	for _, name := range o.filled {
		parts = append(parts, "--"+name+" "+o.fs.Lookup(name).Value.String())
	}
	return strings.Join(parts, " ")
}

// writeConfig writes the run's resolved settings, the JSON --dry_run
// prints, as config.json beside metrics.jsonl: `--config config.json`
// replays the run. A resumed run rewrites it with its own settings.
func writeConfig(o *runOptions) error {
	b, err := o.dryRunJSON()
	if err != nil {
		return err
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, b, "", "  "); err != nil {
		return err
	}
	ind.WriteByte('\n')
	p := filepath.Join(o.cfg.OutputDir, "config.json")
	if st, err := os.Lstat(p); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", p, regularfile.Kind(st.Mode()))
	}
	return os.WriteFile(p, ind.Bytes(), 0o644)
}

// isMissingData reports whether err is a dataset file that is not there,
// which the loader finds only once the run has started: a bad input too.
func isMissingData(err error) bool {
	var me *data.MissingError
	return errors.As(err, &me)
}
