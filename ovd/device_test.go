package ovd

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/internal/toymnist"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/tensor"
	"github.com/vmdls-go/vmdls/tensor/fakedevice"
)

// deviceStepTrainer is a trainer of encType on device dev for one step of
// the method on a batch of 2 classes × 2 images (the smallest with
// triplets), with the KL term on and class means set.
func deviceStepTrainer(t *testing.T, encType, opt string, dev tensor.Device) *trainer {
	t.Helper()
	info, _ := backbone.LookupEncoder(encType)
	cfg := DefaultConfig()
	cfg.EncType, cfg.LatentDim, cfg.EncOutDim, cfg.ClassNum = encType, 4, info.OutDim, 2
	cfg.GenerationEpoch, cfg.KLCoeff, cfg.Opt, cfg.LR = 0, 0.1, opt, 0.01
	cfg.BatchClasses, cfg.SampleCount, cfg.Seed, cfg.Device = 2, 2, 11, dev
	m, err := newModel(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trainer{cfg: cfg, model: m, st: trainState{NegMargin: 2.5,
		priorMeans: [][]float64{{0.1, -0.2, 0.3, 0}, {-0.1, 0.2, 0, 0.4}}}}
	if err := tr.buildOptimizer(); err != nil {
		t.Fatal(err)
	}
	nn.ToDevice(tr.model, dev, tr.opt)
	return tr
}

// TestFakeDeviceTrainingStep takes one training step of the method (both
// heads, reparameterization, triplet with distancing, Monte-Carlo KL,
// backward, SGD or Adam) for each published encoder on the fake device and
// on the CPU from the same weights and batch: the loss parts, z, every
// weight and buffer and the optimizer state must be bit-identical. The
// device's host transfers are counted: the downloads are the losses'
// inputs (z, mu, logvar, B×latent_dim each) and scalars, never an
// activation; the uploads are the batch, eps and the losses' values and
// gradients (dropout's masks are drawn on the device).
func TestFakeDeviceTrainingStep(t *testing.T) {
	for i, enc := range []string{"mnist-conv", "vgg", "resnet18", "densenet", "wresnet"} {
		opt := []string{"sgd", "adam"}[i%2]
		t.Run(enc+"/"+opt, func(t *testing.T) {
			info, _ := backbone.LookupEncoder(enc)
			cpu := deviceStepTrainer(t, enc, opt, tensor.CPU)
			dev := deviceStepTrainer(t, enc, opt, fakedevice.Device)
			x := tensor.Randn(rand.New(rand.NewPCG(5, 6)), append([]int{4}, info.InputShape()...)...)
			batch := &data.Batch{X: x, Labels: []int{0, 0, 1, 1}}
			reseedDropout(cpu.model, 3, 1)
			reseedDropout(dev.model, 3, 1)
			cpuParts, cpuZ := cpu.step(batch, 1, 0, cpu.classMeansTensor())
			fakedevice.Reset()
			devParts, devZ := dev.step(batch, 1, 0, dev.classMeansTensor())
			zHost := devZ.Host() // what epoch reads of z
			s := fakedevice.Counters()

			if devParts != cpuParts {
				t.Fatalf("loss parts %v on the device, %v on the CPU", devParts, cpuParts)
			}
			if devZ.Device() != fakedevice.Device || !fakedevice.SameBits(devZ, cpuZ) || len(zHost) != cpuZ.Numel() {
				t.Fatalf("z differs from the CPU's")
			}
			want, got := nn.StateDict(cpu.model), nn.StateDict(dev.model)
			for k := range want {
				if got[k].Value.Device() != fakedevice.Device || !fakedevice.SameBits(got[k].Value, want[k].Value) {
					t.Fatalf("%s differs from the CPU's after the step", want[k].Name)
				}
			}
			wst, gst := cpu.opt.StateDict().State, dev.opt.StateDict().State
			if len(wst) == 0 || len(gst) != len(wst) {
				t.Fatalf("optimizer state: %d entries on the device, %d on the CPU", len(gst), len(wst))
			}
			for k := range wst {
				if !fakedevice.SameBits(gst[k].Value, wst[k].Value) {
					t.Fatalf("optimizer state %s differs from the CPU's", wst[k].Name)
				}
			}

			zn := int64(cpuZ.Numel()) // B × latent_dim
			if s.MaxDownload > zn || s.DownloadElems > 5*zn+8 {
				t.Errorf("downloads %+v: more than the losses' B×latent_dim inputs (%d floats) and scalars", s, zn)
			}
			// The batch; eps, the two losses' values and their gradients
			// (z for the triplet; z, mu, logvar for the KL term).
			if wantUp := int64(x.Numel()) + 5*zn + 2; s.Uploads != 8 || s.UploadElems != wantUp {
				t.Errorf("%d uploads of %d floats, want 8 of %d (the batch, eps, the losses and their gradients)", s.Uploads, s.UploadElems, wantUp)
			}
			t.Logf("%s step: %d downloads (%d floats, largest %d), %d uploads (%d floats, largest %d; batch %d)",
				enc, s.Downloads, s.DownloadElems, s.MaxDownload, s.Uploads, s.UploadElems, s.MaxUpload, x.Numel())
		})
	}
}

// TestFakeDeviceTrainAndTest runs Train (two epochs, so that validation and
// the class statistics run) and Test (the class-statistics fit and
// scoring, with the autoencoder's reconstruction weighting) of mnist-conv
// on toy MNIST files, on the CPU and on the fake device: the epochs'
// losses and F1, the weights and the results must be the same.
func TestFakeDeviceTrainAndTest(t *testing.T) {
	dir := t.TempDir()
	if err := toymnist.Write(dir, 120, 40); err != nil {
		t.Fatal(err)
	}
	run := func(dev tensor.Device) (*TrainResult, *TestResult) {
		out := filepath.Join(dir, dev.String())
		cfg := DefaultTestConfig()
		cfg.EncType, cfg.LatentDim, cfg.EncOutDim = "mnist-conv", 8, 500
		cfg.KnownDataset, cfg.UnknownDataset, cfg.DataTransforms = "mnist", "noise", "mnist"
		cfg.InputHeight, cfg.ClassNum = 28, 10
		cfg.GenerationEpoch, cfg.Opt, cfg.LR = 0, "sgd", 1e-3
		cfg.BatchClasses, cfg.SampleCount, cfg.BatchSize = 10, 3, 50
		cfg.MaxEpochs, cfg.DataDir, cfg.OutputDir, cfg.Device = 2, dir, out, dev
		cfg.TestLimit, cfg.UnknownLimit, cfg.KNNTrain = 40, 40, 60
		ctx := context.Background()
		tr, err := Train(ctx, cfg, nil)
		if err != nil {
			t.Fatalf("%v: Train: %v", dev, err)
		}
		ae := cfg
		ae.EncType, ae.MaxEpochs, ae.BatchSize, ae.OutputDir = "mnist-conv", 1, 40, filepath.Join(out, "ae")
		aer, err := TrainAE(ctx, ae, nil)
		if err != nil {
			t.Fatalf("%v: TrainAE: %v", dev, err)
		}
		cfg.CheckpointPath, cfg.AEPath, cfg.AEFeatures = tr.LastCheckpoint, aer.Path, true
		cfg.OutputDir = filepath.Join(out, "test")
		res, err := Test(ctx, cfg, nil)
		if err != nil {
			t.Fatalf("%v: Test: %v", dev, err)
		}
		return tr, res
	}
	ctr, cres := run(tensor.CPU)
	fakedevice.Reset()
	dtr, dres := run(fakedevice.Device)
	s := fakedevice.Counters()
	for e := range ctr.Epochs {
		c, d := ctr.Epochs[e], dtr.Epochs[e]
		c.Seconds, c.ImagesPerSec, d.Seconds, d.ImagesPerSec = 0, 0, 0, 0
		if c != d {
			t.Fatalf("epoch %d: %+v on the device, %+v on the CPU", e, d, c)
		}
	}
	ck, err := nn.ReadCheckpoint(ctr.LastCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := nn.ReadCheckpoint(dtr.LastCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range ck.File.Tensors {
		a, _ := x.Float32s()
		b, _ := dk.File.Tensors[i].Float32s()
		if x.Name != dk.File.Tensors[i].Name || !reflect.DeepEqual(a, b) {
			t.Fatalf("checkpoint tensor %s differs", x.Name)
		}
	}
	// Everything but the run's paths (in the configurations too) and
	// timings.
	skip := map[string]bool{"timings": true, "checkpoint": true, "train_config": true, "test_config": true}
	compared := 0
	for k, v := range cres.Results {
		if skip[k] {
			continue
		}
		compared++
		if !reflect.DeepEqual(v, dres.Results[k]) {
			t.Errorf("Test result %q: %v on the device, %v on the CPU", k, dres.Results[k], v)
		}
	}
	if compared < 10 || len(dres.Results) != len(cres.Results) {
		t.Fatalf("compared %d results; %d on the device, %d on the CPU", compared, len(dres.Results), len(cres.Results))
	}
	if s.Downloads == 0 || s.Uploads == 0 {
		t.Fatalf("the device run made no transfers (%+v): it did not run on the device", s)
	}
	// The largest downloads are the checkpoints' weights (saved every
	// epoch); nothing larger, no activation, comes back.
	largest := 0
	for _, x := range ck.File.Tensors {
		largest = max(largest, x.Numel())
	}
	if s.MaxDownload > int64(largest) {
		t.Errorf("a download of %d floats, more than the largest weight (%d)", s.MaxDownload, largest)
	}
	t.Logf("train + train-ae + test on the fake device: %+v", s)
}
