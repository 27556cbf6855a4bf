package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// The flag listing of train, test and train-ae help.

// runNotes say, under a run command's synopsis, what its flags do not
// show: what is derived and what a run does besides its main work.
var runNotes = map[string]string{
	"train": "Trains the OOD model on --known_dataset. From the second epoch on, each epoch\n" +
		"ends with a validation pass over the known test set and the unknown set\n" +
		"(--test_limit and --unknown_limit cap them); the three best checkpoints by\n" +
		"macro F1 are kept. --checkpoint_path starts a new run from a model's weights,\n" +
		"as the reference's main.py does; --resume continues a run exactly.",
	"train-ae": "Trains the reference's autoencoder for --known_dataset: the MNIST one for\n" +
		"the 1x28x28 sets, the ResNet-18 one for CIFAR-10, the ResNet-50 one for\n" +
		"CIFAR-100 (--enc_type mnist-conv, resnet18 or resnet50 picks one).",
	"test": "Evaluates the model of --checkpoint_path: fits the class Gaussians on the\n" +
		"training set, scores the known test set and the unknown set, writes\n" +
		"results.json and prints the metrics. The architecture is the checkpoint's.",
	"fit": "Fits a detector file (--out) from the model of --checkpoint_path: the class\n" +
		"Gaussians on the training set, the score normalizers and the threshold on\n" +
		"held-out known images (--holdout). The architecture is the checkpoint's;\n" +
		"vmdls score and vmdls serve read the file.",
}

// notUsedBy lists, per run command, the flags it accepts only so that the
// reference's command lines run unchanged: test.py's lines repeat the
// training settings, and main.py's parser has the test options. Its help
// names them on one line instead of listing them as if they mattered.
var notUsedBy = map[string][]string{
	"test": {"cov_scaling", "finetune", "finetune_lr", "gen_weight", "generation_epoch", "kl_coeff",
		"log_tsne", "lower_bound", "lr", "margin_jump", "margin_jumps", "margin_max_distance", "margins_epoch",
		"max_epochs", "opt", "recon_weight", "step_gamma", "step_size", "train_limit", "weights"},
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
