package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/internal/toymnist"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd"
	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/tensor/fakedevice"
)

// withTestDevice makes --gpus select the fake device for one test.
func withTestDevice(t *testing.T) {
	t.Helper()
	d := fakedevice.Device
	testDevice = &d
	t.Cleanup(func() { testDevice = nil })
}

// TestGPUsSelectsDevice checks where --gpus sends a run: nowhere without
// it, the CPU with one warning in this build (no CUDA), the stand-in
// device when a test sets one, the same for train, train-ae and test.
func TestGPUsSelectsDevice(t *testing.T) {
	var got []tensor.Device
	record := func(cfg ovd.Config) { got = append(got, cfg.Device) }
	withFakes(t,
		func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
			record(cfg)
			return "", nil
		},
		func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (map[string]any, error) {
			record(cfg)
			return nil, nil
		},
		func(ctx context.Context, cfg ovd.Config, obs ovd.Observer) (string, error) {
			record(cfg)
			return "", nil
		})
	ck := filepath.Join(t.TempDir(), "model.safetensors")
	m, err := backbone.NewModel("mnist-conv", 32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveCheckpoint(ck, m, nil); err != nil {
		t.Fatal(err)
	}
	cmds := [][]string{
		append([]string{"train"}, mnistArgs...),
		{"train-ae", "--enc_type", "mnist-conv"},
		append([]string{"test", "--checkpoint_path", ck}, mnistArgs...),
	}
	for _, stand := range []bool{false, true} {
		if stand {
			withTestDevice(t)
		}
		for _, gpus := range []bool{false, true} {
			for _, c := range cmds {
				got = nil
				args := append(append([]string{}, c...), "--output_dir", filepath.Join(t.TempDir(), "out"))
				if gpus {
					args = append(args, "--gpus", "0,")
				}
				var out, errb bytes.Buffer
				if err := run(args, &out, &errb); err != nil {
					t.Fatalf("%v: %v\n%s", args, err, errb.String())
				}
				want := tensor.CPU
				if gpus && stand {
					want = fakedevice.Device
				}
				if len(got) != 1 || got[0] != want {
					t.Errorf("%v (stand-in %v): ran on %v, want %v", args, stand, got, want)
				}
				warned := strings.Count(errb.String(), "no CUDA support (build with -tags cuda); running on the CPU")
				if wantWarn := map[bool]int{true: 1, false: 0}[gpus && !stand]; warned != wantWarn {
					t.Errorf("%v: the CPU warning printed %d times, want %d:\n%s", args, warned, wantWarn, errb.String())
				}
				if gpus && stand && !strings.Contains(errb.String(), "running on the fake device") {
					t.Errorf("%v: stderr does not say where it runs:\n%s", args, errb.String())
				}
			}
		}
	}
}

// TestTrainAndTestOnFakeDevice runs `vmdls train` and `vmdls test` end to
// end with --gpus 0, on the fake device (the code path a CUDA build's
// --gpus takes) and without --gpus on the CPU, on toy MNIST files: the
// checkpoints' weights and results.json (less paths and timings) must be
// the same, and the device run must have worked there (transfers counted,
// none larger than a weight).
func TestTrainAndTestOnFakeDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model")
	}
	data := t.TempDir()
	if err := toymnist.Write(data, 120, 40); err != nil {
		t.Fatal(err)
	}
	common := []string{"--enc_type", "mnist-conv", "--enc_out_dim", "500", "--latent_dim", "8", "--known_dataset", "mnist",
		"--unknown_dataset", "noise", "--data_transforms", "mnist", "--input_height", "28", "--class_num", "10",
		"--generation_epoch", "0", "--opt", "sgd", "--lr", "0.001", "--batch_classes", "10", "--sample_count", "3",
		"--batch_size", "50", "--data_dir", data, "--test_limit", "40", "--unknown_limit", "40", "--seed", "5"}
	runBoth := func(name string, extra ...string) (ckpt string, results map[string]any, stderr string) {
		out := filepath.Join(t.TempDir(), name)
		var so, se bytes.Buffer
		args := append(append(append([]string{"train"}, common...), extra...), "--max_epochs", "2", "--output_dir", filepath.Join(out, "train"))
		if err := run(args, &so, &se); err != nil {
			t.Fatalf("%s train: %v\n%s", name, err, se.String())
		}
		ckpt = filepath.Join(out, "train", "checkpoints", "last.safetensors")
		args = append(append(append([]string{"test"}, common...), extra...), "--checkpoint_path", ckpt, "--output_dir", filepath.Join(out, "test"))
		if err := run(args, &so, &se); err != nil {
			t.Fatalf("%s test: %v\n%s", name, err, se.String())
		}
		b, err := os.ReadFile(filepath.Join(out, "test", "results.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &results); err != nil {
			t.Fatal(err)
		}
		return ckpt, results, se.String()
	}
	cpuCk, cpuRes, _ := runBoth("cpu")
	withTestDevice(t)
	fakedevice.Reset()
	devCk, devRes, devErr := runBoth("fake", "--gpus", "0,")
	s := fakedevice.Counters()
	if strings.Count(devErr, "running on the fake device") != 2 {
		t.Errorf("train and test did not both say they run on the fake device:\n%s", devErr)
	}
	ck, err := nn.ReadCheckpoint(cpuCk)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := nn.ReadCheckpoint(devCk)
	if err != nil {
		t.Fatal(err)
	}
	largest := 0
	for i, x := range ck.File.Tensors {
		a, _ := x.Float32s()
		b, _ := dk.File.Tensors[i].Float32s()
		if x.Name != dk.File.Tensors[i].Name || !reflect.DeepEqual(a, b) {
			t.Fatalf("checkpoint tensor %s differs between the CPU and the device run", x.Name)
		}
		largest = max(largest, x.Numel())
	}
	compared := 0
	for k, v := range cpuRes {
		if k == "timings" || k == "checkpoint" || k == "train_config" || k == "test_config" {
			continue
		}
		compared++
		if !reflect.DeepEqual(v, devRes[k]) {
			t.Errorf("results.json %q: %v on the device, %v on the CPU", k, devRes[k], v)
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d results", compared)
	}
	if s.Uploads == 0 || s.Downloads == 0 || s.MaxDownload > int64(largest) {
		t.Errorf("device transfers %+v (largest weight %d floats)", s, largest)
	}
}

// TestBenchTrainStepOnFakeDevice runs `vmdls bench train-step --gpus 0,`
// and `bench infer` on the fake device: the steps run there and the JSON
// line says so.
func TestBenchTrainStepOnFakeDevice(t *testing.T) {
	withTestDevice(t)
	for _, b := range []string{"train-step", "infer"} {
		var out, errb bytes.Buffer
		fakedevice.Reset()
		args := []string{"bench", b, "--enc_type", "mnist-conv", "--batch_size", "20", "--steps", "1", "--warmup", "0", "--clean", "0", "--gpus", "0,"}
		if err := run(args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if res["device"] != "fake" || fakedevice.Counters().Uploads == 0 {
			t.Errorf("%v: device %v, transfers %+v", args, res["device"], fakedevice.Counters())
		}
	}
}
