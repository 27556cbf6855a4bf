package main

import (
	"errors"
	"os"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/internal/regularfile"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd"
)

// Checks of a run's settings and files before anything is created, and
// the architecture read from a checkpoint.

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
	if cmd == "test" {
		if err := c.ValidateTest(); err != nil {
			return usageErrorf("%s: %v", cmd, err)
		}
	}
	if o.numWorkers < 0 {
		return usageErrorf("%s: --num_workers %d: want 0 or more", cmd, o.numWorkers)
	}
	if o.firstConv || o.maxpool1 {
		return usageErrorf("%s: --first_conv/--maxpool1 select the ImageNet ResNet stem, which is not built here; the encoders are the CIFAR variants the published experiments use (leave both off)", cmd)
	}
	if e, ok := backbone.LookupEncoder(c.EncType); ok && !e.Taps && cmd == "test" {
		return usageErrorf("test: --enc_type %s has no feature taps for the test procedure's ensemble: the reference's class for it defines no get_layer_output, so its test.py cannot run on it either (vmdls train trains it)", c.EncType)
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
		{"checkpoint_path", c.CheckpointPath}, {"resume", c.Resume}, {"weights", c.Weights}, {"ae_path", c.AEPath},
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
	if err := o.checkModelFile(); err != nil {
		return err
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
		if err := ovd.CheckAutoencoderImages(c.AEPath, c.KnownDataset); err != nil {
			return usageErrorf("%s: %v", o.cmd, err)
		}
	}
	return o.checkDatasets()
}

// checkDatasets finds the dataset files the command will read (the
// method's LocateData: existence only, no decoding), so that a missing one
// exits 2 before the output folder exists; the run commands never
// download.
func (o *runOptions) checkDatasets() error {
	c := &o.cfg
	type need struct {
		flag, name string
		split      data.Split
	}
	var needs []need
	switch {
	case o.cmd == "test" && c.FeaturesIn != "":
		// Saved features: no images are read.
	case o.cmd == "train-ae":
		needs = append(needs, need{"known_dataset", c.KnownDataset, data.Train})
	default:
		needs = append(needs, need{"known_dataset", c.KnownDataset, data.Train}, need{"known_dataset", c.KnownDataset, data.Test})
		switch o.cmd {
		case "train":
			needs = append(needs, need{"unknown_dataset", c.UnknownDataset, data.Test})
		case "test":
			names, err := c.UnknownSets()
			if err != nil {
				return usageErrorf("%s: %v", o.cmd, err)
			}
			for _, n := range names {
				needs = append(needs, need{"unknown_dataset", n, data.Test})
			}
		}
	}
	for _, n := range needs {
		if _, err := method.LocateData(n.name, n.split, data.Options{Dir: c.DataDir}); err != nil {
			return usageErrorf("%s: --%s %s (%s split): %v", o.cmd, n.flag, n.name, n.split, err)
		}
	}
	return nil
}

// checkRequired checks the files a command cannot do without, before
// anything is read from them.
func (o *runOptions) checkRequired() error {
	c := &o.cfg
	if c.Resume != "" && c.CheckpointPath != "" {
		return usageErrorf("%s: --resume and --checkpoint_path: give one; --resume %s continues that run exactly, --checkpoint_path %s starts a new run from its weights", o.cmd, c.Resume, c.CheckpointPath)
	}
	// test --features_in scores saved features: no network, no autoencoder.
	saved := o.cmd == "test" && c.FeaturesIn != ""
	if evaluates(o.cmd) && c.CheckpointPath == "" && !saved && !o.dryRun {
		return usageErrorf("%s: --checkpoint_path is required: the trained model to evaluate (vmdls train writes it)", o.cmd)
	}
	if c.AEFeatures && evaluates(o.cmd) && c.AEPath == "" && !saved && !o.dryRun {
		return usageErrorf("%s: --ae_features needs --ae_path FILE, the autoencoder vmdls train-ae writes", o.cmd)
	}
	return nil
}

// regularFile reports whether path names a regular file; reading anything
// else (a FIFO) may block, and checkFiles names the problem.
func regularFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// modelFile is the model checkpoint the command line names: --resume's or
// --checkpoint_path's file, with the flag, "" when neither (train-ae's
// --checkpoint_path is an autoencoder, not a model).
func (o *runOptions) modelFile() (flag, path string) {
	switch {
	case o.cmd == "train-ae":
		return "", ""
	case o.cfg.Resume != "":
		return "resume", o.cfg.Resume
	case o.cfg.CheckpointPath != "":
		return "checkpoint_path", o.cfg.CheckpointPath
	}
	return "", ""
}

// fromCheckpoint fills in the architecture the checkpoint of
// --checkpoint_path (or --resume) records (enc_type, latent_dim,
// class_num) where the command line does not say it, so that vmdls test
// needs no flag the checkpoint knows. A flag that disagrees is left for
// checkCheckpoint to refuse, naming both values. Only the header is read.
func (o *runOptions) fromCheckpoint() error {
	c := &o.cfg
	flag, path := o.modelFile()
	if path == "" || !regularFile(path) {
		return nil
	}
	read := ovd.ReadCheckpointArch
	if flag == "resume" {
		read = ovd.ReadResumeArch
	}
	a, err := read(path)
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
		// mnist-conv and cifar share a width; the known dataset's images
		// tell them apart.
		kd, known := data.LookupKnown(c.KnownDataset)
		var match []string
		for _, e := range backbone.Encoders() {
			if e.OutDim == a.EncOutDim && (!known || e.Channels == kd.Channels && e.Height == kd.Height && e.Width == kd.Width) {
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
	if flag == "resume" && !a.Resumable && a.EncOutDim > 0 {
		return usageErrorf("train: --resume %s is not a training checkpoint of vmdls train (no training state in it); to start from its weights use --checkpoint_path", path)
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
	if o.cmd == "train-ae" && known && !o.given["enc_type"] {
		// The reference's autoencoder for the dataset (ae_dict): the
		// ResNet-50 one for CIFAR-100.
		c.EncType = ovd.AEEncTypeFor(c.KnownDataset)
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
		if evaluates(o.cmd) {
			c.DataTransforms = "cifar_test"
		}
	}
}

// checkCheckpoint compares the checkpoint's architecture with the
// settings, before the settings' own checks, so that a flag that disagrees
// with the checkpoint is named with both values.
func (o *runOptions) checkCheckpoint() error {
	if _, path := o.modelFile(); path == "" || !regularFile(path) {
		return nil
	}
	return o.checkModelFile()
}

// checkModelFile checks the header of the model checkpoint against the
// settings (ovd.CheckCheckpoint, or ovd.CheckResume for --resume).
func (o *runOptions) checkModelFile() error {
	flag, path := o.modelFile()
	check := ovd.CheckCheckpoint
	switch flag {
	case "":
		return nil
	case "resume":
		check = ovd.CheckResume
	}
	if err := check(&o.cfg, path); err != nil {
		return usageErrorf("%s: %v", o.cmd, err)
	}
	return nil
}

// isMissingData reports whether err is a dataset file that is not there,
// which the loader finds only once the run has started: a bad input too.
func isMissingData(err error) bool {
	var me *data.MissingError
	return errors.As(err, &me)
}
