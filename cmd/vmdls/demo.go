package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn/backbone"
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
	p.configs()
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

// configs fills the three runs from seed-readme.txt's MNIST command lines
// (main.py's for training, test.py's for testing), with the demo's budget.
func (p *demoPlan) configs() {
	base := ovd.DefaultConfig()
	base.EncType, base.LatentDim, base.EncOutDim = "mnist-conv", 32, backbone.MnistConvOutDim
	base.DataDir, base.Seed, base.Threads = p.dataDir, p.seed, p.threads
	base.KnownDataset, base.UnknownDataset, base.InputHeight, base.ClassNum = "mnist", "omniglot", 28, 10
	base.TrainLimit, base.TestLimit, base.UnknownLimit = p.trainLimit, p.testLimit, p.unknownLimit

	ae := base
	ae.LatentDim, ae.Opt, ae.LR, ae.MaxEpochs = refAELatentDim, "adam", 1e-4, p.aeEpochs
	ae.BatchSize = refBatchSize
	ae.OutputDir = filepath.Join(p.outputDir, "ae")
	p.aeCfg = ae

	tr := base
	tr.MaxEpochs, tr.GenerationEpoch, tr.LowerBound, tr.StepSize = p.epochs, 0, 0.05, 100
	tr.MarginMaxDistance, tr.DataTransforms, tr.KLCoeff, tr.LR, tr.Opt = 32, "mnist", 0.1, 0.0001, "adam"
	tr.MarginJump, tr.MarginsEpoch, tr.BatchClasses, tr.SampleCount, tr.BatchSize = 1.0, 1, 10, 16, 400
	tr.OutputDir = filepath.Join(p.outputDir, "train")
	p.trainCfg = tr

	te := base
	te.MaxEpochs, te.GenerationEpoch, te.LowerBound, te.StepSize = p.epochs, 151, 0.05, 75
	te.MarginMaxDistance, te.DataTransforms, te.KLCoeff, te.LR = 32, "blob", 0.1, 0.1
	te.MarginJump, te.MarginsEpoch, te.BatchClasses, te.SampleCount, te.BatchSize = 1.0, 10, 1, 4996, 2500
	te.AEFeatures = true
	te.OutputDir = filepath.Join(p.outputDir, "test")
	p.testCfg = te
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
