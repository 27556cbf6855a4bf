package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd"
)

// demoPlan is the quickest real run of the method: the MNIST experiment of
// seed-readme.txt on a subset, sized to finish in under 15 minutes on two
// cores.
type demoPlan struct {
	dataDir, outputDir       string
	seed                     uint64
	threads                  int
	epochs, aeEpochs         int
	trainLimit, testLimit    int
	unknownLimit             int
	download, dryRun         bool
	outputDirSet             bool
	gpus                     string
	trainCfg, aeCfg, testCfg ovd.Config
}

// The demo's budget. mnist-conv costs about 0.7 GFLOP per image for a
// training step (forward and backward) and the autoencoder more; measured
// on the 2-core development machine while it was shared, training ran at
// about 27 images/s and the autoencoder at 11, so 3 epochs of 3,000 images
// and one autoencoder epoch keep the whole demo within about 10 minutes.
const (
	demoEpochs       = 3
	demoAEEpochs     = 1
	demoTrainLimit   = 3000
	demoTestLimit    = 1000
	demoUnknownLimit = 1000
)

func parseDemo(args []string, stdout io.Writer) (*demoPlan, error) {
	p := &demoPlan{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&p.dataDir, "data_dir", data.DefaultDir(), "data directory (default $VMDLS_DATA or ./data); missing MNIST/Omniglot files are downloaded")
	fs.Func("output_dir", "where the three runs write (default runs/<date-time>-demo)", func(v string) error {
		p.outputDir, p.outputDirSet = v, true
		return nil
	})
	fs.Uint64Var(&p.seed, "seed", 42, "random seed")
	fs.IntVar(&p.threads, "threads", 0, "compute threads (0: every core)")
	fs.IntVar(&p.epochs, "max_epochs", demoEpochs, "epochs of the OOD model")
	fs.IntVar(&p.aeEpochs, "ae_epochs", demoAEEpochs, "epochs of the autoencoder")
	fs.IntVar(&p.trainLimit, "train_limit", demoTrainLimit, "MNIST training images used (0: all 60,000)")
	fs.IntVar(&p.testLimit, "test_limit", demoTestLimit, "MNIST test images scored (0: all 10,000)")
	fs.IntVar(&p.unknownLimit, "unknown_limit", demoUnknownLimit, "Omniglot images scored (0: all 13,180)")
	fs.BoolVar(&p.download, "download", true, "download missing datasets")
	fs.BoolVar(&p.dryRun, "dry_run", false, "print the three runs' configurations as JSON and exit")
	fs.StringVar(&p.gpus, "gpus", "", `CUDA devices ("0,"); a CPU-only build warns and runs on the CPU`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, "demo", fs)
			return nil, nil
		}
		return nil, flagError("demo", fs, err)
	}
	if fs.NArg() > 0 {
		return nil, usageErrorf("demo: unexpected argument %q", fs.Arg(0))
	}
	for _, v := range []struct {
		name string
		v    int
		min  int
	}{{"max_epochs", p.epochs, 1}, {"ae_epochs", p.aeEpochs, 1}, {"train_limit", p.trainLimit, 0},
		{"test_limit", p.testLimit, 0}, {"unknown_limit", p.unknownLimit, 0}, {"threads", p.threads, 0}} {
		if v.v < v.min {
			return nil, usageErrorf("demo: --%s %d: want at least %d", v.name, v.v, v.min)
		}
	}
	if _, err := parseGPUs(p.gpus); err != nil {
		return nil, usageErrorf("demo: --gpus %q: %v", p.gpus, err)
	}
	if !p.outputDirSet {
		p.outputDir = "runs/" + clock().Format("20060102-150405") + "-demo"
	}
	if err := p.configs(); err != nil {
		return nil, &exitError{1, fmt.Errorf("demo: %w", err)}
	}
	if err := p.aeCfg.ValidateAE(); err != nil {
		return nil, usageErrorf("demo: %v", err)
	}
	for _, c := range []*ovd.Config{&p.trainCfg, &p.testCfg} {
		if err := c.Validate(); err != nil {
			return nil, usageErrorf("demo: %v", err)
		}
	}
	return p, nil
}

// The seed README's MNIST command lines, as its authors ran them (after
// "python main.py" and "python test.py"; the shell's quotes around "0,"
// removed). The demo parses them with the flags of vmdls train and test
// and then applies its budget (demoPlan.budget); --gpus, --data_dir and
// test's --checkpoint_path are the demo's own. mnist_ae.py has no line in
// the README: the autoencoder is train-ae's defaults, which are that
// script's.
const (
	demoTrainLine = "--enc_type mnist-conv --latent_dim 32 --enc_out_dim 500 --max_epochs 500 --gpus 0, --generation_epoch 0 --lower_bound 0.05 --data_dir ./data --step_size 100 --margin_max_distance 32 --known_dataset mnist --unknown_dataset omniglot --data_transforms mnist --input_height 28 --class_num 10 --kl_coeff 0.1 --lr 0.0001 --opt adam --margin_jump 1.0 --margins_epoch 1 --batch_classes 10 --sample_count 16 --batch_size 400"
	demoTestLine  = "--enc_type mnist-conv --latent_dim 32 --enc_out_dim 500 --max_epochs 500 --gpus 0, --generation_epoch 151 --lower_bound 0.05 --data_dir ./data --step_size 75 --margin_max_distance 32 --known_dataset mnist --unknown_dataset omniglot --data_transforms blob --input_height 28 --class_num 10 --kl_coeff 0.1 --lr 0.1 --margin_jump 1.0 --margins_epoch 10 --batch_classes 1 --sample_count 4996 --batch_size 2500 --checkpoint_path cnn_mnist.ckpt --ae_features"
)

// configs fills the three runs from seed-readme.txt's MNIST command lines
// (main.py's for training, test.py's for testing) and train-ae's defaults,
// with the demo's budget.
func (p *demoPlan) configs() error {
	for _, r := range []struct {
		cmd, line string
		cfg       *ovd.Config
		epochs    int
		dir       string
	}{
		{"train-ae", "", &p.aeCfg, p.aeEpochs, "ae"},
		{"train", demoTrainLine, &p.trainCfg, p.epochs, "train"},
		{"test", demoTestLine, &p.testCfg, p.epochs, "test"},
	} {
		o, err := parseRunFlags(r.cmd, strings.Fields(r.line), io.Discard, io.Discard)
		if err != nil {
			return fmt.Errorf("the README's %s line: %w", r.cmd, err)
		}
		*r.cfg = o.cfg
		p.budget(r.cfg, r.epochs, filepath.Join(p.outputDir, r.dir))
	}
	// The model to test is the one the demo trains.
	p.testCfg.CheckpointPath = ""
	return nil
}

// budget applies the demo's flags to one run's settings: its data folder,
// seed and threads, the subset and the epochs, and the output folder.
func (p *demoPlan) budget(c *ovd.Config, epochs int, outputDir string) {
	c.DataDir, c.Seed, c.Threads = p.dataDir, p.seed, p.threads
	c.TrainLimit, c.TestLimit, c.UnknownLimit = p.trainLimit, p.testLimit, p.unknownLimit
	c.MaxEpochs, c.OutputDir = epochs, outputDir
}

// runDemo is `vmdls demo`: train the MNIST autoencoder and the mnist-conv
// OOD model on a subset, then test against Omniglot and print the metrics.
func runDemo(args []string, stdout, stderr io.Writer) error {
	p, err := parseDemo(args, stdout)
	if err != nil || p == nil {
		return err
	}
	if p.dryRun {
		for _, r := range []struct {
			name string
			cfg  ovd.Config
		}{{"train-ae", p.aeCfg}, {"train", p.trainCfg}, {"test", p.testCfg}} {
			o := optionsFromConfig(r.name, r.cfg)
			b, err := o.dryRunJSON()
			if err != nil {
				return &exitError{1, err}
			}
			fmt.Fprintf(stdout, "%s\n", b)
		}
		return nil
	}
	o := optionsFromConfig("demo", p.trainCfg)
	*o.gpus.p = p.gpus
	if err := o.applyGPUs(stderr); err != nil {
		return err
	}
	p.aeCfg.Device, p.trainCfg.Device, p.testCfg.Device = o.cfg.Device, o.cfg.Device, o.cfg.Device
	if err := fetchDemoData(p, stderr); err != nil {
		return err
	}
	o.cfg.OutputDir = p.outputDir
	s, err := start(o, stderr, "stopping the demo")
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "demo: mnist-conv on %s MNIST images for %d epochs (autoencoder: %d epochs), then MNIST test vs Omniglot; outputs in %s\n",
		limitText(p.trainLimit), p.epochs, p.aeEpochs, p.outputDir)
	err = p.run(s, stdout)
	return s.finish(stdout, err)
}

func (p *demoPlan) run(s *session, stdout io.Writer) error {
	aePath, err := method.TrainAE(s.ctx, p.aeCfg, s.prog.observe)
	if err != nil {
		return fmt.Errorf("autoencoder: %w", err)
	}
	ckpt, err := method.Train(s.ctx, p.trainCfg, s.prog.observe)
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	p.testCfg.CheckpointPath, p.testCfg.AEPath = ckpt, aePath
	res, err := method.Test(s.ctx, p.testCfg, s.prog.observe)
	if err != nil {
		return fmt.Errorf("test: %w", err)
	}
	metricsTable(stdout, res)
	return nil
}

func limitText(n int) string {
	if n == 0 {
		return "all"
	}
	return fmt.Sprint(n)
}

// fetchDemoData opens both datasets once, downloading what is missing, so
// that a missing file fails before any training and says where to get it.
func fetchDemoData(p *demoPlan, stderr io.Writer) error {
	opt := data.Options{Dir: p.dataDir, Download: p.download, Log: stderr}
	for _, d := range []struct {
		name  string
		split data.Split
	}{{"mnist", data.Train}, {"mnist", data.Test}, {"omniglot", data.Test}} {
		if _, err := data.Open(d.name, d.split, opt); err != nil {
			var me *data.MissingError
			if errors.As(err, &me) {
				return usageErrorf("demo: --data_dir %s: %v", p.dataDir, err)
			}
			return &exitError{1, fmt.Errorf("demo: %s: %w", d.name, err)}
		}
	}
	return nil
}

// optionsFromConfig wraps a filled Config as a command's options, for the
// dry-run JSON and the session of the demo.
func optionsFromConfig(cmd string, cfg ovd.Config) *runOptions {
	o := defaultOptions(cmd)
	if cmd == "demo" {
		o = defaultOptions("train")
		o.cmd = "demo"
	}
	o.fs = newRunFlags(o.cmd, o, io.Discard)
	o.cfg = cfg
	o.outputDirSet = true
	return o
}
