package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/safetensors"
)

// fixedTime names the default output folders in tests.
var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)

// mnistArgs is a valid mnist-conv command line to vary.
var mnistArgs = []string{"--enc_type", "mnist-conv", "--enc_out_dim", "500", "--latent_dim", "32"}

func dryRun(t *testing.T, cmd string, args ...string) map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append([]string{cmd, "--dry_run"}, args...), &out, &errb); err != nil {
		t.Fatalf("%s %v: %v", cmd, args, err)
	}
	if strings.Count(strings.TrimSpace(out.String()), "\n") != 0 {
		t.Fatalf("dry run printed more than one line:\n%s", out.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("dry run output is not JSON: %v\n%s", err, out.String())
	}
	return m
}

func TestDryRunDefaultsAndOverrides(t *testing.T) {
	clock = func() time.Time { return fixedTime }
	defer func() { clock = time.Now }()
	m := dryRun(t, "train", mnistArgs...)
	// The reference's argparse defaults (main.py, add_model_specific_args,
	// the Lightning Trainer) and ours.
	for k, want := range map[string]any{
		"margin_max_distance": 32.0, "margin_jumps": 1.0, "margin_jump": 1.0, "margins_epoch": 0.0,
		"known_dataset": "mnist", "unknown_dataset": "omniglot", "data_transforms": "mnist", "input_height": 28.0,
		"batch_classes": 10.0, "sample_count": 40.0, "offline": false, "lr": 0.0001, "kl_coeff": 0.1,
		"batch_size": 256.0, "num_workers": 8.0, "generation_epoch": 20.0, "class_num": 10.0, "lower_bound": 0.05,
		"step_size": 100.0, "step_gamma": 0.1, "finetune": false, "finetune_lr": 0.0001, "opt": "sgd",
		"ae_features": false, "max_epochs": 1000.0, "gpus": nil, "checkpoint_path": nil, "resume": nil, "weights": nil,
		"seed": 42.0, "threads": 0.0, "dry_run": true, "train_limit": 0.0, "latent_only": false,
		"output_dir": "runs/20260102-030405-mnist-omniglot-mnist-conv",
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	m = dryRun(t, "train", append(mnistArgs, "--step_size", "200", "--step_size", "100", "--margin_jump", "2.5",
		"--output_dir", "x/y", "--seed", "7", "--offline", "--num_workers", "3", "-lr", "0.5")...)
	for k, want := range map[string]any{"step_size": 100.0, "margin_jumps": 2.5, "margin_jump": 2.5, "output_dir": "x/y",
		"seed": 7.0, "offline": true, "num_workers": 3.0, "lr": 0.5} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if m := dryRun(t, "test", mnistArgs...); m["margins_epoch"] != 10.0 {
		t.Errorf("test margins_epoch default = %v, want test.py's 10", m["margins_epoch"])
	}
	m = dryRun(t, "train-ae", "--dataset", "mnist", "--max_epochs", "3")
	if m["known_dataset"] != "mnist" || m["enc_type"] != "mnist-conv" || m["latent_dim"] != 32.0 || m["max_epochs"] != 3.0 {
		t.Errorf("train-ae dry run: %v", m)
	}
	if _, ok := m["unknown_dataset"]; ok {
		t.Error("train-ae takes no --unknown_dataset")
	}
}

// TestValidationMessages checks that each impossible command line fails
// with exit status 2 and a message naming the flag and what is valid.
func TestValidationMessages(t *testing.T) {
	dir := t.TempDir()
	wrongCkpt := filepath.Join(dir, "resnet.safetensors")
	if err := safetensors.WriteFile(wrongCkpt, []safetensors.Tensor{
		safetensors.FromFloat32("mu.weight", []int{32, 512}, make([]float32, 32*512)),
	}, map[string]string{"enc_type": "resnet18"}); err != nil {
		t.Fatal(err)
	}
	// As ovd.Train writes it: the settings as JSON under "vmdls_state".
	stateCkpt := filepath.Join(dir, "state.safetensors")
	if err := safetensors.WriteFile(stateCkpt, []safetensors.Tensor{
		safetensors.FromFloat32("fc_mu.weight", []int{32, 500}, make([]float32, 32*500)),
	}, map[string]string{"vmdls_state": `{"epoch":1,"enc_type":"mnist-conv","latent_dim":32,"class_num":10}`}); err != nil {
		t.Fatal(err)
	}
	notST := filepath.Join(dir, "model.ckpt")
	os.WriteFile(notST, []byte("PK\x03\x04 a PyTorch zip"), 0o644)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--enc_typ", "vgg"}, []string{"unknown flag --enc_typ", "--enc_type"}},
		{[]string{"train", "--lr", "fast"}, []string{"--lr", `"fast"`, "want a number"}},
		{[]string{"train", "--max_epochs", "1.5"}, []string{"--max_epochs", "want an integer"}},
		{[]string{"train", "--lr"}, []string{"--lr needs a value"}},
		{[]string{"train", "stray"}, []string{`unexpected argument "stray"`}},
		{[]string{"train", "--enc_type", "resnet101"}, []string{`--enc_type "resnet101"`, "mnist-conv, vgg, resnet18, densenet, wresnet, resnet50, mnist, cifar"}},
		{[]string{"train", "--enc_type", "vgg", "--enc_out_dim", "512", "--input_height", "32", "--known_dataset", "cifar_known"},
			[]string{"--enc_out_dim 512", "vgg", "1024"}},
		// --input_height follows --enc_type unless given (issue 22): a
		// given one that does not fit is still named.
		{[]string{"train", "--enc_type", "vgg", "--enc_out_dim", "1024", "--input_height", "28"}, []string{"--input_height 28", "want --input_height 32"}},
		{[]string{"train", "--enc_type", "vgg", "--enc_out_dim", "1024"}, []string{"--known_dataset mnist", "1x28x28", "3x32x32"}},
		{[]string{"train", "--enc_type", "vgg", "--enc_out_dim", "1024", "--input_height", "32"}, []string{"--known_dataset mnist", "1x28x28", "3x32x32"}},
		{append([]string{"train", "--class_num", "11"}, mnistArgs...), []string{"--class_num 11", "mnist has 10 classes", "2..10"}},
		{append([]string{"train", "--known_dataset", "omniglot"}, mnistArgs...), []string{`--known_dataset "omniglot"`, "cifar100_known"}},
		{append([]string{"train", "--unknown_dataset", "svhn"}, mnistArgs...), []string{`--unknown_dataset "svhn"`, "imagenet-crop"}},
		{append([]string{"train", "--data_transforms", "x"}, mnistArgs...), []string{`--data_transforms "x"`, "cifar_test"}},
		{append([]string{"train", "--batch_classes", "12"}, mnistArgs...), []string{"--batch_classes 12", "class_num"}},
		{append([]string{"train", "--opt", "rmsprop"}, mnistArgs...), []string{"--opt", "sgd or adam"}},
		{append([]string{"train", "--finetune"}, mnistArgs...), []string{"--finetune needs --weights"}},
		{append([]string{"train", "--first_conv"}, mnistArgs...), []string{"--first_conv"}},
		{append([]string{"train", "--gpus", "first"}, mnistArgs...), []string{`--gpus "first"`, `"0,"`}},
		{append([]string{"train", "--train_limit", "-1"}, mnistArgs...), []string{"--train_limit -1"}},
		{append([]string{"train", "--weights", filepath.Join(dir, "none.safetensors")}, mnistArgs...), []string{"--weights", "none.safetensors", "no such file"}},
		{append([]string{"train", "--checkpoint_path", dir}, mnistArgs...), []string{"--checkpoint_path", "is a directory"}},
		{append([]string{"test"}, mnistArgs...), []string{"--checkpoint_path is required"}},
		{append([]string{"test", "--checkpoint_path", wrongCkpt}, mnistArgs...), []string{"resnet18 model", "--enc_type is mnist-conv"}},
		{[]string{"test", "--checkpoint_path", stateCkpt, "--enc_type", "vgg", "--enc_out_dim", "1024", "--input_height", "32", "--known_dataset", "cifar_known"},
			[]string{"holds a mnist-conv model but --enc_type is vgg"}},
		{[]string{"test", "--checkpoint_path", stateCkpt, "--enc_type", "mnist-conv", "--enc_out_dim", "500", "--latent_dim", "64"},
			[]string{"--latent_dim 32, not 64"}},
		{append([]string{"test", "--checkpoint_path", stateCkpt, "--class_num", "5", "--batch_classes", "5"}, mnistArgs...),
			[]string{"--class_num 10, not 5"}},
		{append([]string{"test", "--checkpoint_path", notST}, mnistArgs...), []string{"model.ckpt", "not a valid zip archive"}},
		{append([]string{"test", "--checkpoint_path", wrongCkpt, "--ae_features"}, mnistArgs...), []string{"--ae_features needs --ae_path"}},
		{[]string{"demo", "--max_epochs", "0"}, []string{"--max_epochs 0"}},
		// NaN passes every range check; it must be refused as such.
		{append([]string{"train", "--kl_coeff", "NaN"}, mnistArgs...), []string{"--kl_coeff NaN", "finite"}},
		{append([]string{"train", "--margin_jump", "nan"}, mnistArgs...), []string{"--margin_jump NaN", "finite"}},
		{append([]string{"train", "--lower_bound", "NaN"}, mnistArgs...), []string{"--lower_bound NaN", "finite"}},
		{append([]string{"train", "--margin_max_distance", "+Inf"}, mnistArgs...), []string{"--margin_max_distance +Inf", "finite"}},
		{append([]string{"test", "--step_gamma", "-Inf", "--checkpoint_path", stateCkpt}, mnistArgs...), []string{"--step_gamma -Inf", "finite"}},
		{[]string{"train-ae", "--lr", "NaN"}, []string{"--lr NaN", "finite"}},
		{append([]string{"train", "--bad_images", "sc"}, mnistArgs...), []string{"--bad_images", `"sc"`, "fail, scan or skip"}},
	} {
		var out, errb bytes.Buffer
		err := run(tc.args, &out, &errb)
		if err == nil {
			t.Errorf("%v: accepted", tc.args)
			continue
		}
		if code := exitCode(err); code != 2 {
			t.Errorf("%v: exit status %d, want 2 (%v)", tc.args, code, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: message %q lacks %q", tc.args, err.Error(), w)
			}
		}
	}
	// A checkpoint whose heads match a different width: same backbone name
	// unknown (no metadata), caught by the mu head's shape.
	noMeta := filepath.Join(dir, "nometa.safetensors")
	safetensors.WriteFile(noMeta, []safetensors.Tensor{safetensors.FromFloat32("fc_mu.weight", []int{32, 342}, make([]float32, 32*342))}, nil)
	err := run(append([]string{"test", "--checkpoint_path", noMeta}, mnistArgs...), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "width 342") {
		t.Errorf("mismatched checkpoint width: %v", err)
	}
}

func TestParseGPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want gpuRequest
		gpu  bool
	}{
		{"", gpuRequest{}, false}, {"None", gpuRequest{}, false}, {"0", gpuRequest{}, false},
		{"0,", gpuRequest{IDs: []int{0}}, true}, {"1,3", gpuRequest{IDs: []int{1, 3}}, true},
		{"2", gpuRequest{Count: 2}, true}, {"-1", gpuRequest{All: true}, true},
	} {
		g, err := parseGPUs(tc.in)
		if err != nil || g.wantsGPU() != tc.gpu || g.Count != tc.want.Count || g.All != tc.want.All ||
			len(g.IDs) != len(tc.want.IDs) {
			t.Errorf("parseGPUs(%q) = %+v, %v; want %+v", tc.in, g, err, tc.want)
		}
		for i := range g.IDs {
			if g.IDs[i] != tc.want.IDs[i] {
				t.Errorf("parseGPUs(%q) ids %v, want %v", tc.in, g.IDs, tc.want.IDs)
			}
		}
	}
	for _, bad := range []string{"a", "0,x", "-2", "1.5"} {
		if _, err := parseGPUs(bad); err == nil {
			t.Errorf("parseGPUs(%q) accepted", bad)
		}
	}
}

func TestResumeArgs(t *testing.T) {
	// A warm-started run resumes from its own checkpoint alone: both
	// flags together are refused.
	got := resumeArgs([]string{"--enc_type", "mnist-conv", "--checkpoint_path", "old.st", "--gpus", "0,", "--resume", "r.st", "--data_dir", "my data", "--checkpoint_path=x", "-resume=y"}, "runs/a b/last.safetensors")
	want := `--enc_type mnist-conv --gpus 0, --data_dir 'my data' --resume 'runs/a b/last.safetensors'`
	if got != want {
		t.Errorf("resumeArgs:\n got %s\nwant %s", got, want)
	}
}

// TestBadImagesFlags checks that --skip_bad_images and --bad_images set
// the data policy the datasets open with.
func TestBadImagesFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want data.BadImages
	}{
		{nil, data.BadImagesFail},
		{[]string{"--skip_bad_images"}, data.BadImagesSkip},
		{[]string{"--bad_images", "scan"}, data.BadImagesScan},
		{[]string{"--bad_images", "skip", "--skip_bad_images=false"}, data.BadImagesFail},
	} {
		o, err := parseRunFlags("train", append(tc.args, mnistArgs...), &bytes.Buffer{}, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if o.cfg.BadImages != tc.want {
			t.Errorf("%v: policy %v, want %v", tc.args, o.cfg.BadImages, tc.want)
		}
	}
}
