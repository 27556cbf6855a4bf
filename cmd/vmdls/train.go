package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/ovd"
)

// clock is the time used for default output folder names; tests fix it.
var clock = time.Now

// prepare parses and checks a run command's flags and handles --dry_run.
// It returns nil options when nothing more is to be done.
func prepare(cmd string, args []string, stdout, stderr io.Writer) (*runOptions, error) {
	o, err := parseRunFlags(cmd, args, stdout, stderr)
	if err != nil || o == nil {
		return nil, err
	}
	// The order makes each message the most useful one: what is missing,
	// then what the checkpoint says, then the settings' own checks.
	if err := o.checkRequired(); err != nil {
		return nil, err
	}
	if err := o.fromCheckpoint(); err != nil {
		return nil, err
	}
	o.deriveArchitecture()
	if err := o.checkCheckpoint(); err != nil {
		return nil, err
	}
	if !o.outputDirSet {
		o.cfg.OutputDir = o.defaultOutputDir(clock())
	}
	if len(o.filled) > 0 && !o.dryRun {
		_, path := o.modelFile()
		fmt.Fprintf(stderr, "vmdls: %s: from %s: %s\n", cmd, path, o.filledString())
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.dryRun {
		b, err := o.dryRunJSON()
		if err != nil {
			return nil, &exitError{1, err}
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return nil, nil
	}
	if err := o.checkFiles(); err != nil {
		return nil, err
	}
	if err := o.applyGPUs(stderr); err != nil {
		return nil, err
	}
	return o, nil
}

// session is what a run command sets up around the work: the output
// folder, progress display and metrics.jsonl, signal handling.
type session struct {
	o    *runOptions
	prog *progress
	ctx  context.Context
	stop func()
	// madeDir records that start created the output folder, which a run
	// that fails before writing anything then removes again.
	madeDir bool
}

// start creates the output folder and metrics.jsonl and installs the
// interrupt handler; what says what an interrupt will do.
func start(o *runOptions, stderr io.Writer, what string) (*session, error) {
	_, statErr := os.Stat(o.cfg.OutputDir)
	madeDir := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(o.cfg.OutputDir, 0o755); err != nil {
		return nil, &exitError{1, fmt.Errorf("%s: --output_dir: %w", o.cmd, err)}
	}
	if err := writeConfig(o); err != nil {
		return nil, &exitError{1, fmt.Errorf("%s: %w", o.cmd, err)}
	}
	tty := false
	f, isFile := stderr.(*os.File)
	if isFile {
		tty = isTerminal(f)
	}
	p := newProgress(stderr, tty)
	if tty {
		p.width = func() int { return termWidth(f) }
	}
	if err := p.openMetrics(filepath.Join(o.cfg.OutputDir, "metrics.jsonl")); err != nil {
		return nil, &exitError{1, fmt.Errorf("%s: %w", o.cmd, err)}
	}
	ctx, stop := interruptible(context.Background(), stderr, what)
	return &session{o: o, prog: p, ctx: ctx, stop: stop, madeDir: madeDir}, nil
}

// finish prints the summary and the output folder and turns err into the
// command's exit status.
func (s *session) finish(stdout io.Writer, err error) error {
	s.stop()
	if cerr := s.prog.close(); err == nil && cerr != nil {
		err = cerr
	}
	s.prog.summary(stdout)
	if err != nil && s.madeDir && removeIfUnused(s.o.cfg.OutputDir) {
		fmt.Fprintf(stdout, "outputs: none (%s removed: the run wrote nothing)\n", s.o.cfg.OutputDir)
	} else {
		fmt.Fprintf(stdout, "outputs: %s\n", s.o.cfg.OutputDir)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return &exitError{130, fmt.Errorf("%s: interrupted: %w", s.o.cmd, err)}
	case ovd.IsInputError(err), isMissingData(err):
		// A checkpoint or data file that cannot be used, or is not
		// there, is a bad input, as a bad flag is.
		return &exitError{2, fmt.Errorf("%s: %w", s.o.cmd, err)}
	default:
		return &exitError{1, fmt.Errorf("%s: %w", s.o.cmd, err)}
	}
}

// removeIfUnused removes the output folder dir of a failed run when the run
// left nothing in it but an empty metrics.jsonl, its config.json and an
// empty checkpoints folder, and reports whether it did.
func removeIfUnused(dir string) bool {
	m := filepath.Join(dir, "metrics.jsonl")
	if st, err := os.Lstat(m); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
		os.Remove(m)
		// config.json was written with it, before any work.
		os.Remove(filepath.Join(dir, "config.json"))
	}
	os.Remove(filepath.Join(dir, "checkpoints")) // only if empty, as below
	return os.Remove(dir) == nil
}

// runTrainCmd is `vmdls train`, the reference's main.py.
func runTrainCmd(args []string, stdout, stderr io.Writer) error {
	o, err := prepare("train", args, stdout, stderr)
	if err != nil || o == nil {
		return err
	}
	s, err := start(o, stderr, "finishing the current step and writing a checkpoint")
	if err != nil {
		return err
	}
	switch {
	case o.cfg.Resume != "":
		fmt.Fprintf(stderr, "vmdls: train: resuming from epoch %d of %s\n", o.doneEpochs+1, o.cfg.Resume)
	case o.cfg.CheckpointPath != "":
		fmt.Fprintf(stderr, "vmdls: train: a new run from the weights of %s (a fresh optimizer, the margin at %g, as the reference's --checkpoint_path; --resume continues a run)\n", o.cfg.CheckpointPath, o.cfg.MarginMaxDistance)
	}
	ckpt, err := method.Train(s.ctx, o.cfg, s.prog.observe)
	if errors.Is(err, context.Canceled) {
		if ckpt != "" {
			fmt.Fprintf(stderr, "vmdls: checkpoint written to %s; resume with:\n  vmdls train %s\n", ckpt, resumeArgs(o.args, ckpt))
		} else {
			fmt.Fprintf(stderr, "vmdls: stopped before the first checkpoint; nothing to resume (outputs in %s)\n", o.cfg.OutputDir)
		}
	} else if err == nil && ckpt != "" {
		fmt.Fprintf(stdout, "checkpoint: %s\n", ckpt)
	}
	return s.finish(stdout, err)
}

// resumeArgs is the command line that resumes from ckpt: the flags as
// given, without --checkpoint_path (whose warm start the checkpoint has
// already taken in) and with --resume ckpt, quoted for a POSIX shell.
func resumeArgs(args []string, ckpt string) string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if name == "checkpoint_path" || name == "resume" {
			i++ // drop its value
			continue
		}
		if (strings.HasPrefix(name, "checkpoint_path=") || strings.HasPrefix(name, "resume=")) && strings.HasPrefix(a, "-") {
			continue
		}
		out = append(out, shellQuote(a))
	}
	out = append(out, "--resume", shellQuote(ckpt))
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
