package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd"
	"github.com/vmdls-go/vmdls/safetensors"
)

// The fakes of the method's entry points (runner's methods).
type (
	trainFunc   func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (checkpoint string, err error)
	testFunc    func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (results map[string]any, err error)
	trainAEFunc func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (aePath string, err error)
)

// fakeRunner runs the fakes a test gives; an entry point without one fails
// as a method that is not there would, with errNotFaked.
type fakeRunner struct {
	tr trainFunc
	te testFunc
	ae trainAEFunc
}

// LocateData finds every dataset: the fakes read none.
func (fakeRunner) LocateData(string, data.Split, data.Options) ([]string, error) { return nil, nil }

// errNotFaked is the failure of an entry point the test gave no fake for.
var errNotFaked = errors.New("not available in this build (the test gave no fake)")

func (f fakeRunner) Train(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
	if f.tr == nil {
		return "", errNotFaked
	}
	return f.tr(ctx, cfg, obs)
}

func (f fakeRunner) Test(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (map[string]any, error) {
	if f.te == nil {
		return nil, errNotFaked
	}
	return f.te(ctx, cfg, obs)
}

func (f fakeRunner) TrainAE(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
	if f.ae == nil {
		return "", errNotFaked
	}
	return f.ae(ctx, cfg, obs)
}

// withFakes replaces the ovd entry points for one test.
func withFakes(t *testing.T, tr trainFunc, te testFunc, ae trainAEFunc) {
	t.Helper()
	old := method
	method = fakeRunner{tr, te, ae}
	t.Cleanup(func() { method = old })
}

// writeFile stands for a file the method writes.
func writeFile(t *testing.T, dir, name string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Error(err)
	}
	return p
}

func TestTrainCommandWithFake(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var got ovd.Config
	withFakes(t, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		got = cfg
		for _, e := range fakeEvents() {
			obs(e)
		}
		return writeFile(t, cfg.OutputDir, "last.safetensors"), nil
	}, nil, nil)
	var out, errb bytes.Buffer
	args := append([]string{"train", "--output_dir", dir, "--gpus", "0,", "--max_epochs", "2", "--train_limit", "100"}, mnistArgs...)
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if got.OutputDir != dir || got.MaxEpochs != 2 || got.TrainLimit != 100 || got.EncType != "mnist-conv" || got.LatentDim != 32 {
		t.Errorf("Train got %+v", got)
	}
	if n := strings.Count(errb.String(), "no CUDA support"); n != 1 {
		t.Errorf("--gpus warning printed %d times, want once:\n%s", n, errb.String())
	}
	for _, w := range []string{"checkpoint: " + filepath.Join(dir, "last.safetensors"), "phase", "score", "auroc 0.97", "outputs: " + dir} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, out.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != len(fakeEvents()) {
		t.Errorf("metrics.jsonl has %d lines, want %d", n, len(fakeEvents()))
	}
}

func TestTrainDefaultOutputDir(t *testing.T) {
	t.Chdir(t.TempDir())
	clock = func() time.Time { return fixedTime }
	defer func() { clock = time.Now }()
	withFakes(t, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) { return "", nil }, nil, nil)
	if err := run(append([]string{"train"}, mnistArgs...), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("runs", "20260102-030405-mnist-omniglot-mnist-conv", "metrics.jsonl")); err != nil {
		t.Error(err)
	}
}

func TestTrainFailureAndNotBuilt(t *testing.T) {
	dir := t.TempDir()
	withFakes(t, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		return "", errors.New("loss is NaN at epoch 3")
	}, nil, nil)
	err := run(append([]string{"train", "--output_dir", dir}, mnistArgs...), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "loss is NaN") {
		t.Errorf("failed training: %v (status %d)", err, exitCode(err))
	}
	withFakes(t, nil, nil, nil)
	for _, cmd := range []string{"train", "train-ae"} {
		err = run([]string{cmd, "--output_dir", dir, "--enc_type", "mnist-conv", "--enc_out_dim", "500"}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "not available in this build") {
			t.Errorf("%s without ovd: %v", cmd, err)
		}
	}
}

// TestTrainInterrupt sends SIGINT during a fake training: the context is
// cancelled, the fake "finishes its step" and returns its checkpoint, and
// the command exits with 130 and says how to resume.
func TestTrainInterrupt(t *testing.T) {
	dir := t.TempDir()
	withFakes(t, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		obs(ovd.Event{Phase: "train", Epoch: 1, Epochs: 9, Step: 1, Steps: 10, Images: 10, Elapsed: time.Second})
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			return "", errors.New("context not cancelled by SIGINT")
		}
		return writeFile(t, cfg.OutputDir, "interrupted.safetensors"), fmt.Errorf("epoch 1 step 2: %w", ctx.Err())
	}, nil, nil)
	var out, errb bytes.Buffer
	err := run(append([]string{"train", "--output_dir", dir}, mnistArgs...), &out, &errb)
	if err == nil || exitCode(err) != 130 {
		t.Fatalf("interrupted training: %v (status %d)", err, exitCode(err))
	}
	for _, w := range []string{"interrupted: finishing the current step", "checkpoint written to",
		"resume with:", "vmdls train --output_dir " + dir + " --enc_type mnist-conv", "--resume " + filepath.Join(dir, "interrupted.safetensors")} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, errb.String())
		}
	}
}

func TestSecondInterruptExitsAtOnce(t *testing.T) {
	codes := make(chan int, 1)
	exitNow = func(code int) { codes <- code }
	defer func() { exitNow = os.Exit }()
	var errb bytes.Buffer
	ctx, stop := interruptible(context.Background(), &errb, "stopping")
	defer stop()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("first signal did not cancel")
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case c := <-codes:
		if c != 130 {
			t.Errorf("exit status %d, want 130", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second signal did not exit")
	}
}

func TestTestAndTrainAECommandsWithFakes(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "model.safetensors")
	if err := safetensors.WriteFile(ckpt, []safetensors.Tensor{safetensors.FromFloat32("mu.weight", []int{32, 500}, make([]float32, 32*500))},
		map[string]string{"enc_type": "mnist-conv"}); err != nil {
		t.Fatal(err)
	}
	ae := filepath.Join(dir, "ae.safetensors")
	if err := safetensors.WriteFile(ae, []safetensors.Tensor{safetensors.FromFloat32("fc.weight", []int{32, 500}, make([]float32, 32*500))},
		map[string]string{"ae_type": "mnist"}); err != nil {
		t.Fatal(err)
	}
	var gotTest, gotAE ovd.Config
	withFakes(t, nil, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (map[string]any, error) {
		gotTest = cfg
		obs(ovd.Event{Phase: "score", Step: 1, Steps: 1, Images: 10, Elapsed: time.Second, EpochEnd: true, Values: map[string]float64{"auroc": 0.5}})
		return fakeResults(), nil
	}, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		gotAE = cfg
		return writeFile(t, cfg.OutputDir, "ae_mnist.safetensors"), nil
	})
	var out bytes.Buffer
	args := append([]string{"test", "--output_dir", filepath.Join(dir, "t"), "--checkpoint_path", ckpt, "--ae_features", "--ae_path", ae,
		"--data_transforms", "blob", "--unknown_limit", "30"}, mnistArgs...)
	if err := run(args, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if gotTest.CheckpointPath != ckpt || gotTest.AEPath != ae || !gotTest.AEFeatures || gotTest.UnknownLimit != 30 || gotTest.MarginsEpoch != 10 {
		t.Errorf("Test got %+v", gotTest)
	}
	checkMetricsTable(t, out.String())
	out.Reset()
	if err := run([]string{"train-ae", "--dataset", "mnist", "--output_dir", filepath.Join(dir, "a"), "--max_epochs", "1"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if gotAE.KnownDataset != "mnist" || gotAE.MaxEpochs != 1 || gotAE.Opt != "adam" || gotAE.LR != 1e-4 {
		t.Errorf("TrainAE got %+v", gotAE)
	}
	if !strings.Contains(out.String(), "--ae_path "+filepath.Join(dir, "a", "ae_mnist.safetensors")) {
		t.Errorf("train-ae output:\n%s", out.String())
	}
}

// TestDemoWithFakes runs the demo's plan on the real datasets (they are
// only opened) with the three entry points faked, and checks that each
// stage gets the previous stage's files.
func TestDemoWithFakes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens the MNIST and Omniglot files (seconds, a minute under -race)")
	}
	dataDir := sharedData(t, "mnist")
	sharedData(t, "omniglot")
	dir := t.TempDir()
	var order []string
	var testCfg ovd.Config
	withFakes(t, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		order = append(order, "train")
		if cfg.EncType != "mnist-conv" || cfg.TrainLimit != demoTrainLimit || cfg.Opt != "adam" || cfg.SampleCount != 16 {
			t.Errorf("demo train config %+v", cfg)
		}
		os.MkdirAll(cfg.OutputDir, 0o755)
		return writeFile(t, cfg.OutputDir, "last.safetensors"), nil
	}, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (map[string]any, error) {
		order = append(order, "test")
		testCfg = cfg
		obs(ovd.Event{Phase: "score", Images: 4000, Steps: 4000, Elapsed: time.Second})
		return fakeResults(), nil
	}, func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
		order = append(order, "train-ae")
		os.MkdirAll(cfg.OutputDir, 0o755)
		return writeFile(t, cfg.OutputDir, "ae.safetensors"), nil
	})
	var out, errb bytes.Buffer
	if err := run([]string{"demo", "--data_dir", dataDir, "--output_dir", dir, "--download=false"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if strings.Join(order, ",") != "train-ae,train,test" {
		t.Errorf("stages ran as %v", order)
	}
	if testCfg.CheckpointPath != filepath.Join(dir, "train", "last.safetensors") || testCfg.AEPath != filepath.Join(dir, "ae", "ae.safetensors") ||
		!testCfg.AEFeatures || testCfg.UnknownDataset != "omniglot" || testCfg.UnknownLimit != demoUnknownLimit {
		t.Errorf("demo test config %+v", testCfg)
	}
	checkMetricsTable(t, out.String())
	if !strings.Contains(out.String(), "score") || !strings.Contains(out.String(), "outputs: "+dir) {
		t.Errorf("demo output:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics.jsonl")); err != nil {
		t.Error(err)
	}
	// A data folder without MNIST, downloads off: exit 2 naming the folder.
	empty := t.TempDir()
	err := run([]string{"demo", "--data_dir", empty, "--output_dir", dir, "--download=false"}, &out, &errb)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), empty) {
		t.Errorf("demo without data: %v", err)
	}
}

func TestDemoDryRun(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"demo", "--dry_run", "--max_epochs", "3", "--data_dir", "d"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want the three runs' configurations, got:\n%s", out.String())
	}
	for i, w := range []string{`"known_dataset":"mnist"`, `"max_epochs":3`, `"ae_features":true`} {
		if !strings.Contains(lines[i], w) || !strings.Contains(lines[i], `"data_dir":"d"`) {
			t.Errorf("run %d lacks %s: %s", i, w, lines[i])
		}
	}
}

// TestBinary runs the built command as a user would: exit statuses and
// messages of a dry run, of a bad flag, a missing file and an impossible
// combination.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "vmdls")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	line := seedCommands(t)[0]
	_, seedArgsList := seedArgs(t, line)
	for _, tc := range []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{append([]string{"test"}, append(seedArgsList, "--dry_run")...), 0, `"checkpoint_path":"cifar10_densenet.ckpt"`, ""},
		{[]string{"train", "--bogus", "1"}, 2, "", "unknown flag --bogus"},
		{append([]string{"test", "--checkpoint_path", "missing.safetensors"}, mnistArgs...), 2, "", "--checkpoint_path missing.safetensors: no such file"},
		{[]string{"train", "--enc_type", "wresnet", "--enc_out_dim", "512", "--input_height", "32", "--known_dataset", "cifar_known"}, 2, "", "--enc_out_dim 512 does not match --enc_type wresnet, whose output width is 640"},
		{append([]string{"train", "--class_num", "20"}, mnistArgs...), 2, "", "--class_num 20: mnist has 10 classes"},
		{[]string{"train", "-h"}, 0, "--margin_jump", ""},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Dir = t.TempDir()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(out.String(), tc.inStdout) || !strings.Contains(errb.String(), tc.inStderr) {
			t.Errorf("vmdls %v: status %d (want %d)\nstdout %s\nstderr %s", tc.args, code, tc.code, out.String(), errb.String())
		}
	}
	if runtime.GOOS == "linux" {
		// The binary starts itself again with MADV_FREE unless GODEBUG
		// already chooses (memtune.RestartWithLazyFree); info says which mode it runs in.
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GODEBUG=") {
				env = append(env, kv)
			}
		}
		for _, c := range []struct{ godebug, want string }{
			{"", "freed pages returned lazily"},
			{"GODEBUG=asyncpreemptoff=0", "freed pages returned lazily"},
			{"GODEBUG=madvdontneed=1", "freed pages returned at once"},
		} {
			cmd := exec.Command(bin, "info")
			cmd.Env = env
			if c.godebug != "" {
				cmd.Env = append(cmd.Env, c.godebug)
			}
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), c.want) {
				t.Errorf("vmdls info with %q: %v, output lacks %q:\n%s", c.godebug, err, c.want, out)
			}
		}
	}
}

// fakeResults stands for results.json: the method's metrics at the top,
// an ablation under "ablations", an undefined metric as null.
func fakeResults() map[string]any {
	return map[string]any{"method": "vmdls", "auroc": 0.9712, "macro_f1": 0.85, "known_accuracy": 0.99, "cauroc": nil,
		"ablations": map[string]any{"latent": map[string]any{"auroc": 0.9, "macro_f1": 0.8}}, "seed": 42}
}

func checkMetricsTable(t *testing.T, out string) {
	t.Helper()
	for _, w := range []string{"metric", "vmdls", "latent"} {
		if !strings.Contains(out, w) {
			t.Errorf("metrics table lacks %q:\n%s", w, out)
		}
	}
	if !regexp.MustCompile(`auroc +0\.9712 +0\.9000`).MatchString(out) || !regexp.MustCompile(`cauroc +n/a`).MatchString(out) ||
		!regexp.MustCompile(`macro_f1 +0\.8500 +0\.8000`).MatchString(out) {
		t.Errorf("metrics table rows:\n%s", out)
	}
}
