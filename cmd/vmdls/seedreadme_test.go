package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// seedCommands reads testdata/seed-commands.txt: the reference README's
// twelve command lines.
func seedCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed-commands.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "python ") {
			out = append(out, l)
		}
	}
	return out
}

// TestSeedCommandsMatchReadme checks testdata against the shared README
// itself, when the checkout has it next to it, so the copy cannot drift.
func TestSeedCommandsMatchReadme(t *testing.T) {
	p := filepath.Join("..", "..", "..", "shared", "seed-readme.txt")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("%s not found: the committed copy in testdata is used alone", p)
	}
	lines := strings.Split(string(b), "\n")
	re := regexp.MustCompile(`python (test|main)\.py.*`)
	var got []string
	for i := 0; i < len(lines); i++ {
		m := re.FindString(lines[i])
		if m == "" {
			continue
		}
		m = strings.TrimRight(m, " ")
		// The README wraps one command before "--unknown_dataset".
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "--") {
			m += " " + strings.TrimSpace(lines[i+1])
			i++
		}
		got = append(got, m)
	}
	want := seedCommands(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("README has:\n%s\ntestdata has:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(want) != 12 {
		t.Fatalf("want the 12 command lines (6 test.py, 6 main.py), got %d", len(want))
	}
}

// shellWords splits a command line as a POSIX shell does for these lines:
// blanks separate words, double quotes group and are removed.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			inWord = true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// seedArgs turns a README line into our subcommand and its flags.
func seedArgs(t *testing.T, line string) (string, []string) {
	w := shellWords(line)
	switch {
	case len(w) > 2 && w[0] == "python" && w[1] == "test.py":
		return "test", w[2:]
	case len(w) > 2 && w[0] == "python" && w[1] == "main.py":
		return "train", w[2:]
	}
	t.Fatalf("not a reference command line: %q", line)
	return "", nil
}

// TestSeedCommandLines parses each README line unchanged, as a dry run,
// and checks every flag's value in the JSON (the last of a repeated flag
// winning, as argparse does) and the Config fields behind them.
func TestSeedCommandLines(t *testing.T) {
	for i, line := range seedCommands(t) {
		cmd, args := seedArgs(t, line)
		var out, errb bytes.Buffer
		if err := run(append([]string{cmd}, append(args, "--dry_run")...), &out, &errb); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, line)
		}
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("line %d: dry run is not one JSON object: %v\n%s", i+1, err, out.String())
		}
		// Expected values straight from the words: a flag followed by a
		// flag (or nothing) is a switch.
		want := map[string]string{}
		for j := 0; j < len(args); j++ {
			name := strings.TrimPrefix(args[j], "--")
			if j+1 < len(args) && !strings.HasPrefix(args[j+1], "--") {
				want[name] = args[j+1]
				j++
			} else {
				want[name] = "true"
			}
		}
		for name, w := range want {
			v, ok := got[name]
			if !ok {
				t.Errorf("line %d: --%s missing from the dry run", i+1, name)
				continue
			}
			switch v := v.(type) {
			case float64:
				f, err := strconv.ParseFloat(w, 64)
				if err != nil || f != v {
					t.Errorf("line %d: --%s = %v, want %s", i+1, name, v, w)
				}
			case bool:
				if w != "true" || !v {
					t.Errorf("line %d: --%s = %v, want %s", i+1, name, v, w)
				}
			case string:
				if v != w {
					t.Errorf("line %d: --%s = %q, want %q", i+1, name, v, w)
				}
			default:
				t.Errorf("line %d: --%s = %v (%T), want %s", i+1, name, v, v, w)
			}
		}
		if got["margin_jump"] != got["margin_jumps"] {
			t.Errorf("line %d: margin_jump %v and margin_jumps %v differ", i+1, got["margin_jump"], got["margin_jumps"])
		}
	}
}

// TestSeedCommandConfigs checks the ovd.Config that lines produce, field
// by field, for the lines with something particular: a repeated flag, the
// fine-tuning switches, the MNIST test line.
func TestSeedCommandConfigs(t *testing.T) {
	lines := seedCommands(t)
	parse := func(i int) *runOptions {
		cmd, args := seedArgs(t, lines[i])
		var out bytes.Buffer
		o, err := parseRunFlags(cmd, args, &out, &out)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		o.dryRun = true // validate everything but the files, which are not here
		if err := o.validate(); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		return o
	}

	// DenseNet test line: --step_size 200 ... --step_size 100.
	o := parse(0)
	c := o.cfg
	if c.StepSize != 100 || c.EncType != "densenet" || c.EncOutDim != 342 || c.LatentDim != 32 || c.MaxEpochs != 500 ||
		c.GenerationEpoch != 5 || c.LowerBound != 0.05 || c.DataDir != "./data" || c.MarginMaxDistance != 64 ||
		c.KnownDataset != "cifar_known" || c.UnknownDataset != "imagenet-resize" || c.DataTransforms != "cifar_test" ||
		c.InputHeight != 32 || c.ClassNum != 10 || c.KLCoeff != 0.1 || c.LR != 0.001 || c.MarginJump != 1 ||
		c.MarginsEpoch != 30 || c.CheckpointPath != "cifar10_densenet.ckpt" || c.BatchClasses != 1 ||
		c.SampleCount != 4996 || c.BatchSize != 2500 || !c.AEFeatures || c.Opt != "sgd" || c.Finetune {
		t.Errorf("densenet test line: %+v", c)
	}
	if o.gpus.String() != "0," {
		t.Errorf("--gpus = %q, want \"0,\"", o.gpus.String())
	}

	// WideResNet test line: no --ae_features, batch_classes 2.
	if c := parse(3).cfg; c.AEFeatures || c.BatchClasses != 2 || c.SampleCount != 2500 || c.BatchSize != 2000 || c.StepSize != 100 {
		t.Errorf("wresnet test line: %+v", c)
	}

	// MNIST test line.
	c = parse(5).cfg
	wantMNIST := c
	wantMNIST.EncType, wantMNIST.LatentDim, wantMNIST.EncOutDim, wantMNIST.MaxEpochs = "mnist-conv", 32, 500, 500
	wantMNIST.GenerationEpoch, wantMNIST.LowerBound, wantMNIST.DataDir, wantMNIST.StepSize = 151, 0.05, "./data", 75
	wantMNIST.MarginMaxDistance, wantMNIST.KnownDataset, wantMNIST.UnknownDataset = 32, "mnist", "omniglot"
	wantMNIST.DataTransforms, wantMNIST.InputHeight, wantMNIST.ClassNum, wantMNIST.KLCoeff, wantMNIST.LR = "blob", 28, 10, 0.1, 0.1
	wantMNIST.MarginJump, wantMNIST.MarginsEpoch, wantMNIST.BatchClasses, wantMNIST.SampleCount = 1, 10, 1, 4996
	wantMNIST.BatchSize, wantMNIST.CheckpointPath, wantMNIST.AEFeatures = 2500, "cnn_mnist.ckpt", true
	if c != wantMNIST {
		t.Errorf("mnist test line:\n got %+v\nwant %+v", c, wantMNIST)
	}
	// What the line leaves at the reference's defaults.
	if c.StepGamma != 0.1 || c.Opt != "sgd" || c.FinetuneLR != 0.0001 || c.Seed != 42 || c.Weights != "" {
		t.Errorf("mnist test line defaults: %+v", c)
	}

	// MNIST training line: adam, margins_epoch 1, sample_count 16.
	c = parse(9).cfg
	if c.Opt != "adam" || c.LR != 0.0001 || c.MarginsEpoch != 1 || c.SampleCount != 16 || c.BatchSize != 400 ||
		c.BatchClasses != 10 || c.DataTransforms != "mnist" || c.GenerationEpoch != 0 || c.CheckpointPath != "" {
		t.Errorf("mnist train line: %+v", c)
	}

	// CIFAR-100 fine-tuning line (the one the README splits).
	c = parse(10).cfg
	if !c.Finetune || c.Weights != "checkpoint_100.pth.tar" || c.FinetuneLR != 0.01 || c.ClassNum != 100 ||
		c.KnownDataset != "cifar100_known" || c.UnknownDataset != "imagenet-resize" || c.MaxEpochs != 200 ||
		c.LatentDim != 64 || c.StepSize != 64 || c.MarginsEpoch != 40 || c.BatchClasses != 20 {
		t.Errorf("cifar100 finetune line: %+v", c)
	}
	// main.py's --margins_epoch default is 0, test.py's 10: each command
	// keeps its script's.
	if d := defaultOptions("train").cfg.MarginsEpoch; d != 0 {
		t.Errorf("train --margins_epoch default %d, want 0", d)
	}
	if d := defaultOptions("test").cfg.MarginsEpoch; d != 10 {
		t.Errorf("test --margins_epoch default %d, want 10", d)
	}
}
