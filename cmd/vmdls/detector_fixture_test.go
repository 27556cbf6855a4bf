package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmdls-go/vmdls/internal/toymnist"
	"github.com/vmdls-go/vmdls/ovd"
)

// toyFixture is a tiny mnist-conv model trained on toy MNIST and the
// detector fitted from it through the library, shared by the score, fit
// and serve tests: training is the slow part.
type toyFixture struct {
	dataDir, ckpt, detPath string
	cfg                    ovd.Config
	det                    *ovd.Detector
}

var toy struct {
	once sync.Once
	fx   toyFixture
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if toy.fx.dataDir != "" {
		os.RemoveAll(toy.fx.dataDir)
	}
	os.Exit(code)
}

func toyDetector(t *testing.T) toyFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a model")
	}
	toy.once.Do(func() { toy.fx, toy.err = makeToyFixture() })
	if toy.err != nil {
		t.Fatal(toy.err)
	}
	return toy.fx
}

func makeToyFixture() (toyFixture, error) {
	// Not t.TempDir: the folder outlives the first test that asks.
	dir, err := os.MkdirTemp("", "vmdls-detector-test-")
	fx := toyFixture{dataDir: dir}
	if err != nil {
		return fx, err
	}
	if err := toymnist.Write(dir, 200, 60); err != nil {
		return fx, err
	}
	cfg := ovd.DefaultTestConfig()
	cfg.EncType, cfg.LatentDim, cfg.EncOutDim = "mnist-conv", 32, 500
	cfg.KnownDataset, cfg.UnknownDataset, cfg.DataTransforms = "mnist", "noise", "mnist"
	cfg.InputHeight, cfg.ClassNum = 28, 10
	cfg.GenerationEpoch, cfg.Opt, cfg.LR = 0, "adam", 1e-4
	cfg.BatchClasses, cfg.SampleCount, cfg.BatchSize, cfg.MaxEpochs = 10, 4, 100, 1
	cfg.DataDir, cfg.OutputDir = dir, filepath.Join(dir, "run")
	ctx := context.Background()
	tr, err := ovd.Train(ctx, cfg, nil)
	if err != nil {
		return fx, err
	}
	cfg.CheckpointPath, fx.ckpt = tr.LastCheckpoint, tr.LastCheckpoint
	if fx.det, err = ovd.FitDetector(ctx, cfg, ovd.DetectorOptions{Command: "toy fixture"}, nil); err != nil {
		return fx, err
	}
	fx.cfg, fx.detPath = cfg, filepath.Join(dir, "det.safetensors")
	return fx, fx.det.Save(fx.detPath)
}
