package ovd_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/vmdls-go/vmdls/ovd"
)

// The test procedure on hand-made features: accumulate per-class moments
// over batches, fit one Gaussian per class with the shared jitter, and score
// new points. The value is highest for points a class finds likely; the
// point far from both classes gets by far the lowest value, which is what
// flags an image as unknown.
func Example_fitAndScore() {
	rng := rand.New(rand.NewPCG(1, 2))
	centres := [][2]float64{{0, 0}, {5, 5}}
	m := ovd.NewMoments(2, 2) // 2 classes, 2 features
	for range 4 {             // four batches of 50 rows
		x := make([]float32, 0, 100)
		labels := make([]int, 0, 50)
		for i := range 50 {
			c := i % 2
			x = append(x, float32(centres[c][0]+rng.NormFloat64()), float32(centres[c][1]+rng.NormFloat64()))
			labels = append(labels, c)
		}
		m.Add(x, labels)
	}
	gs, jitter, err := ovd.FitShared(m)
	if err != nil {
		panic(err)
	}
	fmt.Println("classes", len(gs), "jitter k", jitter)

	test := []float64{0.2, -0.1, 4.8, 5.3, 20, -20} // three points, row-major
	ll := make([]float64, 3*len(gs))                // l_c(x), n×C row-major
	col := make([]float64, 3)
	for c, g := range gs {
		g.LogProb(test, col)
		for i, v := range col {
			ll[i*len(gs)+c] = v
		}
	}
	values, pred := ovd.Score(ll, len(gs), nil)
	for i := range values {
		fmt.Printf("point %d: class %d, value %.1f\n", i, pred[i], values[i])
	}
	// Output:
	// classes 2 jitter k 2
	// point 0: class 0, value -1.0
	// point 1: class 1, value -1.0
	// point 2: class 0, value -364.0
}

// ReconstructionWeights scales the autoencoder's reconstruction distances by
// their maximum; Score multiplies each image's shifted log-likelihoods by
// its weight.
func ExampleReconstructionWeights() {
	w := ovd.ReconstructionWeights([]float64{1, 2, 4})
	fmt.Println(w)
	ll := []float64{-3, -1, -2, -4, -1, -1} // 3 images × 2 classes
	values, pred := ovd.Score(ll, 2, w)
	fmt.Println(values, pred)
	// Output:
	// [0.25 0.5 1]
	// [-0.25 -1 -1] [1 0 0]
}

// Train, Test and TrainAE take one Config. This one is the paper's MNIST
// line (main.py --enc_type mnist-conv --latent_dim 32 --enc_out_dim 500
// --max_epochs 500 --generation_epoch 0 --step_size 100 --data_transforms
// mnist --lr 0.0001 --opt adam --margins_epoch 1 --batch_classes 10
// --sample_count 16 --batch_size 400 ...), cut to a subset of the data and a
// few epochs. It needs MNIST and Omniglot under DataDir, so it is compiled
// but not run.
func Example_train() {
	cfg := ovd.DefaultConfig()
	cfg.EncType, cfg.LatentDim, cfg.EncOutDim = "mnist-conv", 32, 500
	cfg.ClassNum = 10
	cfg.KnownDataset, cfg.UnknownDataset = "mnist", "omniglot"
	cfg.DataTransforms, cfg.InputHeight = "mnist", 28
	cfg.GenerationEpoch, cfg.LowerBound = 0, 0.05
	cfg.StepSize, cfg.MarginMaxDistance = 100, 32
	cfg.KLCoeff, cfg.LR, cfg.Opt = 0.1, 0.0001, "adam"
	cfg.MarginJump, cfg.MarginsEpoch = 1.0, 1
	cfg.BatchClasses, cfg.SampleCount, cfg.BatchSize = 10, 16, 400
	cfg.DataDir = "./data" // or $VMDLS_DATA
	cfg.OutputDir = "runs/mnist-subset"

	// The subset: 3 epochs over 2,000 training images, evaluated on 1,000
	// known and 1,000 unknown test images.
	cfg.MaxEpochs = 3
	cfg.TrainLimit, cfg.TestLimit, cfg.UnknownLimit = 2000, 1000, 1000
	if err := cfg.Validate(); err != nil {
		panic(err)
	}

	ctx := context.Background()
	progress := func(e ovd.Event) {
		if e.EpochEnd {
			fmt.Println(e.Phase, e.Epoch, e.Values["loss"])
		}
	}
	tr, err := ovd.Train(ctx, cfg, progress)
	if err != nil {
		panic(err)
	}
	// Test scores the model Train left (resume and evaluation both read
	// CheckpointPath).
	cfg.CheckpointPath = tr.LastCheckpoint
	res, err := ovd.Test(ctx, cfg, progress)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Results["macro_f1"], res.Results["auroc"], res.OutputDir)
}
