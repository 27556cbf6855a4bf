package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vmdls-go/vmdls/internal/toymnist"
	"github.com/vmdls-go/vmdls/safetensors"
)

// Tests of issue 22, the command line a new user meets: the built binary
// run as a user types it, its exit status, what it prints and what it
// leaves on disk.

var (
	uxBinOnce sync.Once
	uxBin     string
	uxBinErr  error
	uxBinOut  []byte
)

// builtBinary builds vmdls once for all the tests of this file.
func builtBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	uxBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vmdls-ux-")
		if err != nil {
			uxBinErr = err
			return
		}
		uxBin = filepath.Join(dir, "vmdls")
		uxBinOut, uxBinErr = exec.Command("go", "build", "-o", uxBin, ".").CombinedOutput()
	})
	if uxBinErr != nil {
		t.Fatalf("go build: %v\n%s", uxBinErr, uxBinOut)
	}
	return uxBin
}

// TestHelpBinary runs -h, --help and `help CMD` of every command and
// subcommand through the binary: exit 0, the command's own usage on stdout,
// nothing on stderr.
func TestHelpBinary(t *testing.T) {
	bin := builtBinary(t)
	cmds := []string{"", "train", "test", "train-ae", "demo", "info", "convert", "data", "bench",
		"data fetch", "data verify", "data info", "bench gemm", "bench conv", "bench train-step", "bench infer"}
	for _, cmd := range cmds {
		words := strings.Fields(cmd)
		forms := [][]string{append(slicesClone(words), "--help"), append([]string{"help"}, words...)}
		if cmd != "bench conv" { // there -h is the input height
			forms = append(forms, append(slicesClone(words), "-h"))
		}
		for _, args := range forms {
			code, out, errOut := runBinary(t, bin, t.TempDir(), args...)
			want := "usage: vmdls " + cmd
			if cmd == "" {
				want = "usage: vmdls <command>"
			}
			if code != 0 || errOut != "" || !strings.HasPrefix(out, want) {
				t.Errorf("vmdls %s: exit %d, stderr %q, stdout starts %.50q", strings.Join(args, " "), code, errOut, out)
			}
			if strings.Contains(out, "unknown subcommand") || strings.Contains(out, "flag: help requested") {
				t.Errorf("vmdls %s:\n%s", strings.Join(args, " "), out)
			}
			for _, l := range strings.Split(out, "\n") {
				if len(l) >= 80 {
					t.Errorf("vmdls %s: a line of %d columns, which wraps in a terminal of 80: %q", strings.Join(args, " "), len(l), l)
				}
			}
		}
	}
}

// ownFlags returns the flags a help text lists as its own, one per line.
func ownFlags(help string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z_0-9]+) +[^-\s]`).FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestHelpListsOwnFlags checks that train and test list their own flags
// and name the ones they accept only for the reference's command lines on
// one line, instead of each listing the other's.
func TestHelpListsOwnFlags(t *testing.T) {
	bin := builtBinary(t)
	_, train, _ := runBinary(t, bin, t.TempDir(), "train", "-h")
	_, test, _ := runBinary(t, bin, t.TempDir(), "test", "-h")
	for _, c := range []struct {
		help      string
		has, hasn []string
	}{
		{train, []string{"max_epochs", "lr", "margin_jump", "enc_type"}, []string{"ae_features", "latent_only"}},
		{test, []string{"checkpoint_path", "ae_features", "latent_only", "enc_type"}, []string{"max_epochs", "lr", "margin_jump"}},
	} {
		own := ownFlags(c.help)
		for _, f := range c.has {
			if !contains(own, f) {
				t.Errorf("--%s not listed:\n%s", f, c.help)
			}
		}
		for _, f := range c.hasn {
			if contains(own, f) {
				t.Errorf("--%s listed as the command's own:\n%s", f, c.help)
			}
			if !strings.Contains(c.help, "--"+f+" ") && !strings.Contains(c.help, "--"+f+"\n") {
				t.Errorf("--%s not named as accepted:\n%s", f, c.help)
			}
		}
	}
	if !strings.Contains(train, "validation pass") {
		t.Errorf("train -h does not say training validates:\n%s", train)
	}
}

// TestUnknownCommandBinary checks the suggestion for a misspelt command and
// subcommand, and exit status 2.
func TestUnknownCommandBinary(t *testing.T) {
	bin := builtBinary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"trian"}, "did you mean train?"},
		{[]string{"data", "fecth"}, "did you mean fetch?"},
		{[]string{"help", "bnech"}, "did you mean bench?"},
	} {
		code, _, errOut := runBinary(t, bin, t.TempDir(), c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vmdls %v: exit %d, stderr %s", c.args, code, errOut)
		}
	}
}

// TestVersionBinary checks that --version and version print the version
// line and, for a binary without VCS stamps, say so rather than nothing.
func TestVersionBinary(t *testing.T) {
	bin := builtBinary(t)
	for _, a := range []string{"--version", "version"} {
		code, out, _ := runBinary(t, bin, t.TempDir(), a)
		if code != 0 || !regexp.MustCompile(`^vmdls \S+ \((revision [0-9a-f]{12}(, modified)?|revision unknown[^)]*)\) go`).MatchString(out) {
			t.Errorf("vmdls %s: exit %d, %q", a, code, out)
		}
	}
	for v, pseudo := range map[string]bool{"v0.0.0-20260102030405-abcdef123456": true, "v0.1.1-0.20260102030405-abcdef123456+dirty": true, "v0.1.0": false} {
		if pseudoVersion.MatchString(v) != pseudo {
			t.Errorf("pseudoVersion(%q) = %v", v, !pseudo)
		}
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// dryRunBinary runs `vmdls CMD --dry_run ARGS` and returns its JSON.
func dryRunBinary(t *testing.T, bin, cmd string, args ...string) map[string]any {
	t.Helper()
	code, out, errOut := runBinary(t, bin, t.TempDir(), append([]string{cmd, "--dry_run"}, args...)...)
	if code != 0 {
		t.Fatalf("vmdls %s --dry_run %v: exit %d\n%s", cmd, args, code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("vmdls %s --dry_run %v: %v\n%s", cmd, args, err, out)
	}
	return m
}

// wantSettings compares a dry run's settings with want.
func wantSettings(t *testing.T, what string, m map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if m[k] != w {
			t.Errorf("%s: %s = %v, want %v", what, k, m[k], w)
		}
	}
}

// TestDefaultsThatRun checks that the defaults form a valid run: the
// encoder follows the dataset and its width and input height follow the
// encoder, unless given; and that the help says so.
func TestDefaultsThatRun(t *testing.T) {
	bin := builtBinary(t)
	wantSettings(t, "train", dryRunBinary(t, bin, "train"),
		map[string]any{"enc_type": "mnist-conv", "enc_out_dim": 500.0, "input_height": 28.0, "data_transforms": "mnist"})
	wantSettings(t, "train cifar_known", dryRunBinary(t, bin, "train", "--known_dataset", "cifar_known"),
		map[string]any{"enc_type": "resnet18", "enc_out_dim": 512.0, "input_height": 32.0, "data_transforms": "cifar"})
	wantSettings(t, "train wresnet", dryRunBinary(t, bin, "train", "--known_dataset", "cifar100_known", "--class_num", "100", "--enc_type", "wresnet"),
		map[string]any{"enc_type": "wresnet", "enc_out_dim": 640.0, "input_height": 32.0})
	wantSettings(t, "test cifar", dryRunBinary(t, bin, "test", "--known_dataset", "cifar_known"),
		map[string]any{"enc_type": "resnet18", "data_transforms": "cifar_test"})
	wantSettings(t, "train-ae", dryRunBinary(t, bin, "train-ae"), map[string]any{"enc_type": "mnist-conv", "enc_out_dim": 500.0})
	// Given values are kept, and checked.
	code, _, errOut := runBinary(t, bin, t.TempDir(), "train", "--dry_run", "--enc_type", "resnet18", "--enc_out_dim", "500", "--known_dataset", "cifar_known")
	if code != 2 || !strings.Contains(errOut, "--enc_out_dim 500 does not match --enc_type resnet18") {
		t.Errorf("a given --enc_out_dim that does not fit: exit %d\n%s", code, errOut)
	}
	_, help, _ := runBinary(t, bin, t.TempDir(), "train", "-h")
	help = strings.Join(strings.Fields(help), " ") // the help wraps at 80 columns
	for _, w := range []string{"--enc_out_dim the encoder's output width (default: --enc_type's",
		"--input_height image height the encoder takes (default: --enc_type's", "mnist-conv when --known_dataset has 1x28x28 images"} {
		if !strings.Contains(help, w) {
			t.Errorf("train -h lacks %q", w)
		}
	}
}

// writeCheckpoint writes a checkpoint header as ovd.Train's would look:
// the mean head [latent, width] and, when state is not "", vmdls_state.
func writeCheckpoint(t *testing.T, path string, latent, width int, meta map[string]string) string {
	t.Helper()
	if err := safetensors.WriteFile(path, []safetensors.Tensor{
		safetensors.FromFloat32("fc_mu.weight", []int{latent, width}, make([]float32, latent*width)),
	}, meta); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTestReadsTheCheckpoint checks that vmdls test takes the architecture
// from the checkpoint: absent flags are filled in, a disagreeing one is an
// error naming both values.
func TestTestReadsTheCheckpoint(t *testing.T) {
	bin := builtBinary(t)
	dir := t.TempDir()
	mnist := writeCheckpoint(t, filepath.Join(dir, "mnist.safetensors"), 32, 500,
		map[string]string{"vmdls_state": `{"epoch":3,"enc_type":"mnist-conv","latent_dim":32,"class_num":10}`})
	wantSettings(t, "mnist checkpoint", dryRunBinary(t, bin, "test", "--checkpoint_path", mnist),
		map[string]any{"enc_type": "mnist-conv", "latent_dim": 32.0, "enc_out_dim": 500.0, "input_height": 28.0, "class_num": 10.0})
	cifar := writeCheckpoint(t, filepath.Join(dir, "cifar.safetensors"), 64, 512,
		map[string]string{"vmdls_state": `{"epoch":3,"enc_type":"resnet18","latent_dim":64,"class_num":6}`})
	wantSettings(t, "cifar checkpoint", dryRunBinary(t, bin, "test", "--checkpoint_path", cifar, "--known_dataset", "cifar_known"),
		map[string]any{"enc_type": "resnet18", "latent_dim": 64.0, "enc_out_dim": 512.0, "input_height": 32.0, "class_num": 6.0,
			"batch_classes": 6.0, "data_transforms": "cifar_test"})
	// Nothing recorded: the head's shape names the only encoder that wide.
	bare := writeCheckpoint(t, filepath.Join(dir, "bare.safetensors"), 16, 342, nil)
	wantSettings(t, "bare checkpoint", dryRunBinary(t, bin, "test", "--checkpoint_path", bare, "--known_dataset", "cifar_known"),
		map[string]any{"enc_type": "densenet", "latent_dim": 16.0, "enc_out_dim": 342.0})
	// A flag that disagrees: exit 2, both values named, nothing created.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--checkpoint_path", mnist, "--latent_dim", "16"}, []string{"--latent_dim 32, not 16"}},
		{[]string{"--checkpoint_path", mnist, "--class_num", "5", "--batch_classes", "5"}, []string{"--class_num 10, not 5"}},
		{[]string{"--checkpoint_path", cifar, "--known_dataset", "cifar_known", "--enc_type", "vgg"}, []string{"holds a resnet18 model but --enc_type is vgg"}},
	} {
		work := t.TempDir()
		code, _, errOut := runBinary(t, bin, work, append([]string{"test", "--output_dir", "out"}, c.args...)...)
		if code != 2 {
			t.Errorf("test %v: exit %d, want 2\n%s", c.args, code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("test %v: stderr lacks %q:\n%s", c.args, w, errOut)
			}
		}
		if _, err := os.Stat(filepath.Join(work, "out")); !os.IsNotExist(err) {
			t.Errorf("test %v created its output folder (%v)", c.args, err)
		}
	}
}

// TestBadInputsCreateNothing checks every kind of bad file and bad
// combination through the binary: exit status 2, a message naming it, and
// neither the output folder nor metrics.jsonl created.
func TestBadInputsCreateNothing(t *testing.T) {
	bin := builtBinary(t)
	dir := t.TempDir()
	model := writeCheckpoint(t, filepath.Join(dir, "model.safetensors"), 32, 500,
		map[string]string{"vmdls_state": `{"epoch":3,"enc_type":"mnist-conv","latent_dim":32,"class_num":10}`})
	ae := filepath.Join(dir, "ae.safetensors")
	if err := safetensors.WriteFile(ae, []safetensors.Tensor{safetensors.FromFloat32("fc.weight", []int{32, 500}, make([]float32, 32*500))},
		map[string]string{"ae_type": "mnist"}); err != nil {
		t.Fatal(err)
	}
	ae18 := filepath.Join(dir, "ae18.safetensors")
	if err := safetensors.WriteFile(ae18, []safetensors.Tensor{safetensors.FromFloat32("fc.weight", []int{256, 512}, make([]float32, 256*512))},
		map[string]string{"ae_type": "resnet18"}); err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(dir, "encoder.safetensors")
	if err := safetensors.WriteFile(weights, []safetensors.Tensor{safetensors.FromFloat32("conv1.weight", []int{20, 1, 5, 5}, make([]float32, 500))}, nil); err != nil {
		t.Fatal(err)
	}
	// A model without training state: vmdls test and a warm start take it,
	// --resume not.
	testOnly := writeCheckpoint(t, filepath.Join(dir, "exported.safetensors"), 32, 500, map[string]string{"enc_type": "mnist-conv"})
	garbage := filepath.Join(dir, "garbage.safetensors")
	os.WriteFile(garbage, []byte("not a checkpoint at all"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"test", "--checkpoint_path", ae}, "is an autoencoder, not a model"},
		{[]string{"test", "--checkpoint_path", weights}, "holds no model"},
		{[]string{"test", "--checkpoint_path", garbage}, "garbage.safetensors"},
		{[]string{"test", "--checkpoint_path", filepath.Join(dir, "nope.safetensors")}, "no such file"},
		{[]string{"test", "--checkpoint_path", model, "--ae_features", "--ae_path", model}, "is not an autoencoder"},
		{[]string{"test", "--checkpoint_path", model, "--ae_features"}, "--ae_features needs --ae_path"},
		{[]string{"test", "--checkpoint_path", model, "--ae_features", "--ae_path", ae18}, "does not take --known_dataset mnist's 1x28x28 images"},
		{[]string{"test"}, "--checkpoint_path is required"},
		{[]string{"train", "--resume", testOnly}, "not a training checkpoint"},
		{[]string{"train", "--resume", model, "--checkpoint_path", testOnly}, "--resume and --checkpoint_path"},
		{[]string{"train", "--checkpoint_path", ae}, "is an autoencoder, not a model"},
		{[]string{"train", "--finetune"}, "--finetune needs --weights"},
		{[]string{"train", "--weights", garbage}, "garbage.safetensors"},
		{[]string{"train", "--weights", ae}, "is an autoencoder; it goes to --ae_path"},
		{[]string{"train", "--weights", filepath.Join(dir, "none.safetensors")}, "no such file"},
		{[]string{"train", "--enc_type", "vgg"}, "--known_dataset mnist has 1x28x28 images"},
		{[]string{"train", "--class_num", "20"}, "--class_num 20"},
		{[]string{"train", "--first_conv"}, "--first_conv"},
		{[]string{"train-ae", "--enc_type", "vgg", "--enc_out_dim", "1024", "--input_height", "32", "--dataset", "cifar_known"}, "autoencoders are mnist-conv"},
	} {
		work := t.TempDir()
		code, _, errOut := runBinary(t, bin, work, append(c.args, "--output_dir", "out")...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vmdls %v: exit %d, want 2 and %q:\n%s", c.args, code, c.want, errOut)
		}
		if _, err := os.Stat(filepath.Join(work, "out")); !os.IsNotExist(err) {
			t.Errorf("vmdls %v created its output folder (%v)", c.args, err)
		}
	}
	// Data that is not there is a bad file too (exit 2), found before the
	// folder is made (so no "removed" line): the known set, or only the
	// unknown set, of each command that reads images.
	mnistOnly := filepath.Join(dir, "mnist-only")
	if err := toymnist.Write(mnistOnly, 40, 20); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--data_dir", filepath.Join(dir, "no-data")}, "--known_dataset mnist (train split)"},
		{[]string{"train", "--data_dir", mnistOnly}, "--unknown_dataset omniglot (test split)"},
		{[]string{"train-ae", "--data_dir", filepath.Join(dir, "no-data")}, "--known_dataset mnist (train split)"},
		{[]string{"test", "--checkpoint_path", model, "--data_dir", mnistOnly, "--unknown_dataset", "noise,omniglot"}, "--unknown_dataset omniglot (test split)"},
	} {
		work := t.TempDir()
		code, out, errOut := runBinary(t, bin, work, append(c.args, "--output_dir", "out")...)
		if code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "not found") {
			t.Errorf("vmdls %v (missing data): exit %d, want 2 and %q:\n%s", c.args, code, c.want, errOut)
		}
		if _, err := os.Stat(filepath.Join(work, "out")); !os.IsNotExist(err) || strings.Contains(out, "removed") {
			t.Errorf("vmdls %v (missing data) made its output folder (%v):\n%s", c.args, err, out)
		}
	}
}

// TestConfigRoundTrip checks --config: the JSON a dry run prints, read
// back, resolves to the same settings as the command line it came from;
// a flag given beside it wins; a bad file exits 2. A run writes the same
// JSON as config.json beside metrics.jsonl.
func TestConfigRoundTrip(t *testing.T) {
	bin := builtBinary(t)
	dir := t.TempDir()
	ck := writeCheckpoint(t, filepath.Join(dir, "model.safetensors"), 32, 500,
		map[string]string{"vmdls_state": `{"epoch":3,"enc_type":"mnist-conv","latent_dim":32,"class_num":10}`})
	for _, args := range [][]string{
		{"train", "--known_dataset", "cifar_known", "--lr", "0.5", "--margin_jump", "2.5", "--seed", "18446744073709551615",
			"--gpus", "0,", "--skip_bad_images", "--output_dir", "somewhere"},
		{"train", "--enc_type", "mnist-conv", "--latent_dim", "32", "--finetune", "--weights", ck},
		{"test", "--checkpoint_path", ck, "--ae_features", "--ae_path", ck + ".ae", "--unknown_limit", "30"},
		{"train-ae", "--dataset", "mnist", "--max_epochs", "3"},
	} {
		code, want, errOut := runBinary(t, bin, dir, append(args, "--dry_run")...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		cfg := filepath.Join(t.TempDir(), "config.json")
		os.WriteFile(cfg, []byte(want), 0o644)
		code, got, errOut := runBinary(t, bin, dir, args[0], "--dry_run", "--config", cfg)
		if code != 0 || got != want {
			t.Errorf("%v: --config gives exit %d\n got %s\nwant %s\n%s", args, code, got, want, errOut)
		}
		// A flag on the command line overrides the file.
		code, got, _ = runBinary(t, bin, dir, args[0], "--dry_run", "--config", cfg, "--batch_size", "7")
		if code != 0 || !strings.Contains(got, `"batch_size":7,`) || strings.Replace(got, `"batch_size":7,`, `"batch_size":256,`, 1) != want {
			t.Errorf("%v: --config with --batch_size 7: exit %d\n%s", args, code, got)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	for _, c := range []struct{ content, want string }{
		{`{"lrr": 0.1}`, `unknown setting "lrr"; did you mean lr?`},
		{`{"lr": "fast"}`, `lr "fast"`},
		{`[1, 2]`, "not the JSON object --dry_run prints"},
	} {
		os.WriteFile(bad, []byte(c.content), 0o644)
		work := t.TempDir()
		code, _, errOut := runBinary(t, bin, work, "train", "--config", bad, "--output_dir", "out")
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("--config %s: exit %d, want 2 and %q:\n%s", c.content, code, c.want, errOut)
		}
		if _, err := os.Stat(filepath.Join(work, "out")); !os.IsNotExist(err) {
			t.Errorf("--config %s created the output folder", c.content)
		}
	}
	if code, _, errOut := runBinary(t, bin, dir, "train", "--config", filepath.Join(dir, "none.json")); code != 2 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing --config: exit %d\n%s", code, errOut)
	}
}
