package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs bin with args in dir and returns its exit status and
// outputs.
func runBinary(t *testing.T, bin, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// TestBinaryTrainTestOnRealData runs the built vmdls as a user would on a
// tiny subset of MNIST and Omniglot: train (the paper's MNIST flags),
// train-ae, then test with reconstruction weighting; exit statuses, the
// files each leaves and their content; then bad flags and files, which must
// exit 2 with a message naming them.
func TestBinaryTrainTestOnRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model")
	}
	data, err := filepath.Abs(sharedData(t, "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	sharedData(t, "omniglot")
	bin := filepath.Join(t.TempDir(), "vmdls")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	paper := strings.Fields(`--enc_type mnist-conv --latent_dim 32 --enc_out_dim 500 --gpus 0, --generation_epoch 0
		--lower_bound 0.05 --step_size 100 --margin_max_distance 32 --known_dataset mnist --unknown_dataset omniglot
		--data_transforms mnist --input_height 28 --class_num 10 --kl_coeff 0.1 --lr 0.0001 --opt adam --margin_jump 1.0
		--margins_epoch 1 --batch_classes 10 --sample_count 16 --batch_size 400`)
	subset := []string{"--data_dir", data, "--train_limit", "800", "--test_limit", "200", "--unknown_limit", "200", "--seed", "3"}
	args := func(cmd string, extra ...string) []string {
		return append(append(append([]string{cmd}, paper...), subset...), extra...)
	}

	code, _, stderr := runBinary(t, bin, work, args("train", "--max_epochs", "2", "--output_dir", "run")...)
	if code != 0 {
		t.Fatalf("train: status %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "running on the CPU") {
		t.Errorf("train --gpus 0, in a CPU build did not warn: %s", stderr)
	}
	ck := filepath.Join(work, "run", "checkpoints", "last.safetensors")
	for _, f := range []string{ck, filepath.Join(work, "run", "metrics.jsonl")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("train left no %s", f)
		}
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(work, "run", "metrics.jsonl"))), "\n")
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("metrics.jsonl line %d: %v: %s", i+1, err, l)
		}
	}

	code, _, stderr = runBinary(t, bin, work, "train-ae", "--known_dataset", "mnist", "--data_transforms", "blob",
		"--data_dir", data, "--train_limit", "256", "--max_epochs", "1", "--batch_size", "64", "--output_dir", "ae")
	ae := filepath.Join(work, "ae", "ae.safetensors")
	if code != 0 {
		t.Fatalf("train-ae: status %d\n%s", code, stderr)
	}

	code, stdout, stderr := runBinary(t, bin, work, args("test", "--data_transforms", "blob", "--checkpoint_path", ck,
		"--ae_features", "--ae_path", ae, "--output_dir", "eval")...)
	if code != 0 {
		t.Fatalf("test: status %d\n%s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(work, "eval", "results.json"))), &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"macro_f1", "auroc", "tnr_at_tpr95", "fpr95_ood_positive", "known_accuracy"} {
		if v, ok := res[k].(float64); !ok || v < 0 || v > 1 {
			t.Errorf("results.json %s = %v", k, res[k])
		}
	}
	for _, f := range []string{"thresholds.csv", "roc.csv", "roc.png", "f1.png", "hist.png"} {
		if _, err := os.Stat(filepath.Join(work, "eval", f)); err != nil {
			t.Errorf("test left no %s", f)
		}
	}
	if !strings.Contains(stdout, "auroc") {
		t.Errorf("test printed no metrics table:\n%s", stdout)
	}

	// A new user's test line: no architecture flags, the checkpoint
	// says them (issue 22).
	code, stdout, stderr = runBinary(t, bin, work, append([]string{"test", "--checkpoint_path", ck, "--known_dataset", "mnist",
		"--unknown_dataset", "omniglot", "--data_transforms", "blob", "--output_dir", "eval-bare"}, subset...)...)
	if code != 0 || !strings.Contains(stdout, "auroc") {
		t.Errorf("test without architecture flags: status %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "--enc_type mnist-conv --latent_dim 32 --class_num 10") {
		t.Errorf("test did not say what it took from the checkpoint:\n%s", stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{args("test", "--checkpoint_path", filepath.Join(work, "nope.safetensors")), "nope.safetensors"},
		{args("test", "--checkpoint_path", ck, "--ae_features", "--ae_path", ck), "--ae_path"},
		{args("train", "--sample_count", "-3"), "--sample_count"},
		{args("test", "--checkpoint_path", ck, "--latent_dim", "16"), "latent_dim"},
	} {
		code, _, stderr := runBinary(t, bin, work, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("vmdls %v: status %d, stderr %q; want status 2 naming %s", tc.args[0], code, stderr, tc.want)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
