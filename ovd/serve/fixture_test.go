package serve

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmdls-go/vmdls/internal/toymnist"
	"github.com/vmdls-go/vmdls/ovd"
)

// The package's tests share one tiny mnist-conv detector, trained and
// fitted on toy MNIST once: training is the slow part.
var fixture struct {
	once sync.Once
	det  *ovd.Detector
	err  error
	dir  string // removed by TestMain
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

func testDetector(t *testing.T) *ovd.Detector {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a model")
	}
	fixture.once.Do(func() {
		// Not t.TempDir: that would go with the first test that asked.
		dir, err := os.MkdirTemp("", "vmdls-serve-test-")
		fixture.dir = dir
		if err != nil {
			fixture.err = err
			return
		}
		if err := toymnist.Write(dir, 200, 60); err != nil {
			fixture.err = err
			return
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
			fixture.err = err
			return
		}
		cfg.CheckpointPath = tr.LastCheckpoint
		fixture.det, fixture.err = ovd.FitDetector(ctx, cfg, ovd.DetectorOptions{Command: "serve tests"}, nil)
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.det
}

// grayImage is a 28x28 test image that differs with i.
func grayImage(i int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, 28, 28))
	for j := range g.Pix {
		g.Pix[j] = uint8(i*37 + j%29)
	}
	return g
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
