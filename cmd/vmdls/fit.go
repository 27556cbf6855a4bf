package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vmdls-go/vmdls/ovd"
)

// fitOptions are the flags only `vmdls fit` has: where the detector goes
// and how its threshold and calibration images are chosen.
type fitOptions struct {
	out             string
	thresholdFrom   string
	targetTPR       float64
	holdout         string
	holdoutFraction float64
}

// addFitFlags binds fit's own flags; the others are test's, with the
// meanings they have there.
func addFitFlags(fs *flag.FlagSet, f *fitOptions) {
	fs.StringVar(&f.out, "out", "", "the detector file to write (safetensors; written atomically)")
	fs.StringVar(&f.thresholdFrom, "threshold_from", string(ovd.ThresholdKnownTPR),
		"known_tpr (keeps --target_tpr of held-out known images; no unknown data) or best_f1 (the reference's sweep over the unknown set too: for paper comparisons, not deployment)")
	fs.Float64Var(&f.targetTPR, "target_tpr", 0.95, "fraction of held-out known images the known_tpr threshold keeps")
	fs.StringVar(&f.holdout, "holdout", ovd.HoldoutTest, "the held-out known images that calibrate the detector: test (the known test split, capped by --test_limit) or train (a fraction of every training class, left out of the fit)")
	fs.Float64Var(&f.holdoutFraction, "holdout_fraction", 0.1, "fraction of every class's training images --holdout train keeps aside")
}

// fit accepts what test accepts and ignores: the reference's test.py
// lines, with fit for test, run unchanged.
func init() { notUsedBy["fit"] = notUsedBy["test"] }

// evaluates reports whether cmd evaluates a trained model (test, fit):
// both need --checkpoint_path and use the test-time pipeline.
func evaluates(cmd string) bool { return cmd == "test" || cmd == "fit" }

// runFitCmd is `vmdls fit`: test's pass 1 over the training set with the
// model of --checkpoint_path, calibrated on held-out known images, saved
// as one detector file that `vmdls score` and `vmdls serve` read.
func runFitCmd(args []string, stdout, stderr io.Writer) error {
	o, err := prepare("fit", args, stdout, stderr)
	if err != nil || o == nil {
		return err
	}
	f := &o.fit
	if f.out == "" {
		return usageErrorf("fit: --out FILE is required: where the detector goes")
	}
	if st, err := os.Stat(f.out); err == nil && st.IsDir() {
		return usageErrorf("fit: --out %s is a directory; want a file name", f.out)
	}
	if err := f.check(); err != nil {
		return err
	}
	if dir := filepath.Dir(f.out); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usageErrorf("fit: --out %s: the folder %s does not exist", f.out, dir)
		}
	}
	opt := ovd.DetectorOptions{
		Threshold: ovd.ThresholdMethod(f.thresholdFrom), TargetTPR: f.targetTPR,
		Holdout: f.holdout, HoldoutFraction: f.holdoutFraction,
		Command: "vmdls fit " + commandLine(args),
		// The binary's own line (release, revision, Go, platform) says
		// more than the module version, "(devel)" in a work tree build.
		Version: versionString(),
	}
	tty := false
	if sf, ok := stderr.(*os.File); ok {
		tty = isTerminal(sf)
	}
	p := newProgress(stderr, tty)
	ctx, stop := interruptible(context.Background(), stderr, "stopping the fit (no detector is written)")
	defer stop()
	det, err := ovd.FitDetector(ctx, o.cfg, opt, p.observe)
	p.endLine()
	if err != nil {
		return fitError(err)
	}
	if err := det.Save(f.out); err != nil {
		return &exitError{1, fmt.Errorf("fit: --out: %w", err)}
	}
	thr := det.Threshold()
	fmt.Fprintf(stdout, "detector: %s\nthreshold: %.6g (%s, TPR %.4f on %d images of the %s)\n",
		f.out, thr.Value, thr.Method, thr.TPR, thr.Images, thr.Set)
	return nil
}

// fitError turns FitDetector's error into the command's exit status, as
// a run's finish does: bad settings and missing data exit 2.
func fitError(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return &exitError{130, fmt.Errorf("fit: interrupted: %w", err)}
	case ovd.IsInputError(err), isMissingData(err):
		return &exitError{2, fmt.Errorf("fit: %w", err)}
	}
	return &exitError{1, fmt.Errorf("fit: %w", err)}
}

// check refuses flag values FitDetector would, before any work, naming
// the flag.
func (f *fitOptions) check() error {
	switch ovd.ThresholdMethod(f.thresholdFrom) {
	case ovd.ThresholdKnownTPR, ovd.ThresholdBestF1:
	default:
		return usageErrorf("fit: --threshold_from %q: want %s or %s", f.thresholdFrom, ovd.ThresholdKnownTPR, ovd.ThresholdBestF1)
	}
	if !(f.targetTPR > 0 && f.targetTPR <= 1) {
		return usageErrorf("fit: --target_tpr %g: want a fraction in (0, 1]", f.targetTPR)
	}
	if f.holdout != ovd.HoldoutTest && f.holdout != ovd.HoldoutTrain {
		return usageErrorf("fit: --holdout %q: want %s or %s", f.holdout, ovd.HoldoutTest, ovd.HoldoutTrain)
	}
	if !(f.holdoutFraction > 0 && f.holdoutFraction < 1) {
		return usageErrorf("fit: --holdout_fraction %g: want a fraction in (0, 1)", f.holdoutFraction)
	}
	return nil
}

// commandLine is args quoted for a POSIX shell, for the file's record of
// the command that made it.
func commandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
