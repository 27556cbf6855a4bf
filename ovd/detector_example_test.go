package ovd_test

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/vmdls-go/vmdls/internal/toymnist"
	"github.com/vmdls-go/vmdls/ovd"
)

// A detector a Go service can use: train a model (here one epoch on 200
// toy MNIST-format images), fit a detector from its checkpoint, save it as
// one file, and in the service load it and score decoded images. The
// threshold keeps 95% of the held-out known images (the known test split),
// and an image scores the same alone as in any batch.
func Example_detector() {
	dir, err := os.MkdirTemp("", "vmdls-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := toymnist.Write(dir, 200, 60); err != nil {
		panic(err)
	}

	cfg := ovd.DefaultTestConfig()
	cfg.EncType, cfg.LatentDim, cfg.EncOutDim = "mnist-conv", 32, 500
	cfg.KnownDataset, cfg.UnknownDataset, cfg.DataTransforms = "mnist", "noise", "mnist"
	cfg.InputHeight, cfg.ClassNum = 28, 10
	cfg.GenerationEpoch, cfg.Opt, cfg.LR = 0, "adam", 1e-4
	cfg.BatchClasses, cfg.SampleCount, cfg.BatchSize = 10, 4, 100
	cfg.MaxEpochs = 1
	cfg.DataDir, cfg.OutputDir = dir, filepath.Join(dir, "run")
	ctx := context.Background()
	tr, err := ovd.Train(ctx, cfg, nil)
	if err != nil {
		panic(err)
	}

	// Fit: pass 1 over the training set, then the normalizers and the
	// threshold on the known test split.
	cfg.CheckpointPath = tr.LastCheckpoint
	det, err := ovd.FitDetector(ctx, cfg, ovd.DetectorOptions{Command: "Example_detector"}, nil)
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "mnist.detector.safetensors")
	if err := det.Save(path); err != nil {
		panic(err)
	}

	// In the service: load once, score from any number of goroutines.
	det, err = ovd.LoadDetector(path)
	if err != nil {
		panic(err)
	}
	th := det.Threshold()
	fmt.Println("classes:", len(det.Classes()), "features:", det.FeatureSet())
	fmt.Println("threshold:", th.Method, "keeps", th.TPR >= th.TargetTPR, "of", th.Images, "known images")

	img := image.NewGray(image.Rect(0, 0, 28, 28)) // a decoded PNG or JPEG
	for i := range img.Pix {
		img.Pix[i] = uint8(60 + i%40)
	}
	other := image.NewRGBA(image.Rect(0, 0, 64, 48)) // converted and resized
	alone, err := det.ScoreImages(ctx, []image.Image{img})
	if err != nil {
		panic(err)
	}
	batch, err := det.ScoreImages(ctx, []image.Image{other, img, other}, ovd.WithLogDensities())
	if err != nil {
		panic(err)
	}
	fmt.Println("same score alone and in a batch:", alone[0].Score == batch[1].Score)
	fmt.Println("log-densities per class:", len(batch[1].LogDensities))
	// Output:
	// classes: 10 features: ensemble
	// threshold: known_tpr keeps true of 60 known images
	// same score alone and in a batch: true
	// log-densities per class: 10
}
