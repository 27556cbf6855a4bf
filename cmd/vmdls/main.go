package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/vmdls-go/vmdls/tensor/memtune"
)

// version is the release of this command; set with -ldflags "-X main.version=..." for builds.
var version = "0.1.0-dev"

func main() {
	memtune.Apply() // may start the process again, so first
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vmdls:", err)
		os.Exit(exitCode(err))
	}
}

// run dispatches a subcommand; it is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) error {
	err := dispatch(args, stdout, stderr)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return usageErrorf("no command given")
	}
	switch args[0] {
	case "info":
		return runInfo(args[1:], stdout)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "data":
		return runData(args[1:], stdout, stderr)
	case "train":
		return runTrainCmd(args[1:], stdout, stderr)
	case "test":
		return runTestCmd(args[1:], stdout, stderr)
	case "train-ae":
		return runTrainAECmd(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "convert":
		return runConvert(args[1:], stdout, stderr)
	case "score":
		return runScore(args[1:], stdout, stderr)
	case "fit":
		return runFitCmd(args[1:], stdout, stderr)
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" && !isHelpArg(args[1]) {
			// vmdls help CMD [SUB] is vmdls CMD [SUB] --help (bench conv has a
			// flag -h, its input height).
			if !slices.Contains(commands, args[1]) {
				return usageErrorf("help: unknown command %q%s", args[1], didYouMean(args[1], commands))
			}
			return dispatch(append(slices.Clone(args[1:]), "--help"), stdout, stderr)
		}
		usage(stdout)
		return nil
	default:
		// The error alone: the suggestion would scroll away above a
		// screen of usage.
		return usageErrorf("unknown command %q%s (vmdls -h lists the commands)", args[0], didYouMean(args[0], commands))
	}
}

func usage(w io.Writer) {
	// Lines under 80 columns: the help is read in a terminal.
	fmt.Fprint(w, `usage: vmdls <command> [flags]

commands:
  train      train an OOD model; the reference main.py's flags (--enc_type ...)
  test       evaluate a trained model; the reference test.py's flags
             (--checkpoint_path, ...); the architecture is the checkpoint's
  train-ae   train the autoencoder that --ae_features uses
  demo       mnist-conv on MNIST vs Omniglot, end to end, in minutes
             (downloads missing data)
  data       datasets: fetch NAME (download, verify), verify NAME (checksums,
             decode every image), info --dataset NAME
  convert IN OUT.safetensors
             a PyTorch checkpoint (state_dict, Lightning .ckpt, .pth.tar) as
             safetensors, without Python (--checkpoint_path, --weights and
             --ae_path also read PyTorch files directly)
  fit --checkpoint_path CKPT --out FILE
             a detector file from a trained model: Gaussians, normalizers,
             threshold (test's flags; the architecture is the checkpoint's)
  score --detector FILE INPUT...
             a detector file's verdict on image files, folders, zip/tar
             archives or a named split (mnist:test), as CSV
  serve --detector FILE [--addr 127.0.0.1:8080]
             the detector over HTTP: POST /v1/score, /healthz, /metrics
  info       the version, the CPU features found and the kernel path chosen;
             info --checkpoint FILE describes a checkpoint
  bench      micro-benchmarks: gemm, conv, train-step, infer (one JSON line)
  version    the release and the revision this binary was built from
             (also vmdls --version)

vmdls <command> -h (or vmdls help <command>) lists a command's flags.
train, test and train-ae take --dry_run, which prints the resolved settings
as JSON, and --config FILE, which reads them back.
`)
}
