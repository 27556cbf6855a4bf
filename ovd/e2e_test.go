package ovd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/safetensors"
)

// sharedData returns the real datasets' folder ($VMDLS_DATA or
// ../shared/data beside the module root), skipping when MNIST or Omniglot
// is absent.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VMDLS_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	for _, f := range []string{"mnist/train-images-idx3-ubyte.gz", "omniglot/images_evaluation.npz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("real data %s not found under %s (set VMDLS_DATA)", f, dir)
		}
	}
	return dir
}

// mnistConfig is the paper's MNIST training command line on a subset.
func mnistConfig(dataDir, out string, train, eval, epochs int) Config {
	c := DefaultConfig()
	c.EncType, c.LatentDim, c.EncOutDim = "mnist-conv", 32, 500
	c.GenerationEpoch, c.LowerBound, c.StepSize = 0, 0.05, 100
	c.MarginMaxDistance, c.MarginJump, c.MarginsEpoch = 32, 1, 1
	c.KnownDataset, c.UnknownDataset, c.DataTransforms, c.InputHeight = "mnist", "omniglot", "mnist", 28
	c.ClassNum, c.KLCoeff, c.LR, c.Opt = 10, 0.1, 1e-4, "adam"
	c.BatchClasses, c.SampleCount, c.BatchSize = 10, 16, 250
	c.MaxEpochs = epochs
	c.TrainLimit, c.TestLimit, c.UnknownLimit = train, eval, eval
	c.DataDir, c.OutputDir, c.Seed = dataDir, out, 7
	return c
}

// TestEndToEndMNIST trains on 2,000 MNIST images, trains the autoencoder,
// fits and scores against Omniglot with and without reconstruction
// weighting, and checks every output file and that the metrics are far
// above chance.
func TestEndToEndMNIST(t *testing.T) {
	dir := sharedData(t)
	out := t.TempDir()
	cfg := mnistConfig(dir, out, 2000, 500, 2)
	ctx := context.Background()
	tr, err := Train(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Both epochs are ranked, epoch 0 with the F1 of 0 the reference logs
	// before it has class Gaussians; the validated epoch 1 comes first.
	if len(tr.Epochs) != 2 || !tr.Epochs[1].Validated || len(tr.Best) != 2 || tr.Best[0].Epoch != 1 || tr.Best[1].F1 != 0 {
		t.Fatalf("epochs %+v best %+v", tr.Epochs, tr.Best)
	}
	for _, p := range []string{tr.LastCheckpoint, tr.Best[0].Path} {
		if _, err := safetensors.ReadFile(p); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
	}
	aeCfg := cfg
	aeCfg.MaxEpochs, aeCfg.BatchSize = 1, 64
	ae, err := TrainAE(ctx, aeCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CheckpointPath, cfg.AEFeatures, cfg.AEPath = tr.LastCheckpoint, true, ae.Path
	cfg.OutputDir = filepath.Join(out, "test")
	res, err := Test(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.OutputDir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	num := func(m map[string]any, k string) float64 {
		v, ok := m[k].(float64)
		if !ok || v < 0 || v > 1 {
			t.Fatalf("results.json %s = %v, want a number in [0,1]", k, m[k])
		}
		return v
	}
	// The settings under the flags' names: the test's, and the training's
	// from the checkpoint, with the build that wrote them.
	for _, k := range []string{"test_config", "train_config"} {
		m, ok := got[k].(map[string]any)
		if !ok || m["enc_type"] != "mnist-conv" || m["latent_dim"] != float64(cfg.LatentDim) {
			t.Errorf("results.json %s = %v, want the settings keyed by flag name", k, got[k])
		}
	}
	if v, ok := got["vmdls"].(map[string]any); !ok || v["go"] == nil {
		t.Errorf("results.json vmdls = %v, want the build's versions", got["vmdls"])
	}
	abl, _ := got["ablations"].(map[string]any)
	for _, name := range []string{"vmdlsb", "latent"} {
		m, ok := abl[name].(map[string]any)
		if !ok {
			t.Fatalf("results.json has no ablation %q: %v", name, got["ablations"])
		}
		for _, k := range []string{"macro_f1", "auroc", "tnr_at_tpr95", "fpr95_ood_positive", "known_accuracy"} {
			num(m, k)
		}
	}
	t.Logf("full method: macro_f1 %.3f auroc %.3f tnr95 %.3f acc %.3f; without reconstruction: macro_f1 %.3f auroc %.3f",
		num(got, "macro_f1"), num(got, "auroc"), num(got, "tnr_at_tpr95"), num(got, "known_accuracy"),
		num(abl["vmdlsb"].(map[string]any), "macro_f1"), num(abl["vmdlsb"].(map[string]any), "auroc"))
	// Chance is AUROC 0.5, accuracy 0.1 and macro-F1 about 0.1.
	for _, m := range []map[string]any{got, abl["vmdlsb"].(map[string]any)} {
		if num(m, "auroc") < 0.85 || num(m, "known_accuracy") < 0.8 || num(m, "macro_f1") < 0.5 {
			t.Errorf("metrics near chance: %v", m)
		}
	}
	if res.Jitter < 2 {
		t.Errorf("jitter k = %d, want at least the +2", res.Jitter)
	}
	for _, f := range []string{"thresholds.csv", "roc.csv"} {
		if st, err := os.Stat(filepath.Join(cfg.OutputDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(cfg.OutputDir, "*.png"))
	if len(pngs) < 3 {
		t.Errorf("plots %v, want at least 3", pngs)
	}
	for _, p := range pngs {
		b, _ := os.ReadFile(p)
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestResumeEqualsUninterrupted trains 2 epochs straight, and 1 epoch then
// a resumed second one, and requires bit-identical checkpoints; a run
// cancelled mid-epoch saves its weights and says so.
func TestResumeEqualsUninterrupted(t *testing.T) {
	dir := sharedData(t)
	ctx := context.Background()
	straight := mnistConfig(dir, t.TempDir(), 500, 100, 2)
	straight.GenerationEpoch = 1 // both loss branches run
	a, err := Train(ctx, straight, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := straight
	first.OutputDir, first.MaxEpochs = t.TempDir(), 1
	b1, err := Train(ctx, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	second := straight
	second.OutputDir, second.Resume = t.TempDir(), b1.LastCheckpoint
	b2, err := Train(ctx, second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b2.Epochs) != 1 || b2.Epochs[0].Epoch != 1 {
		t.Fatalf("resumed run trained epochs %+v, want only epoch 1", b2.Epochs)
	}
	fa, err := safetensors.ReadFile(a.LastCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := safetensors.ReadFile(b2.LastCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, ta := range fa.Tensors {
		tb, ok := fb.Get(ta.Name)
		if !ok {
			t.Fatalf("resumed checkpoint lacks %s", ta.Name)
		}
		if !bytes.Equal(ta.Data, tb.Data) {
			t.Errorf("%s differs between the straight and the resumed run", ta.Name)
		}
	}

	// Cancel after the first step of the first epoch.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := straight
	stop.OutputDir = t.TempDir()
	res, err := Train(cctx, stop, func(e Event) {
		if e.Phase == "train" && e.Step == 1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || !res.Interrupted {
		t.Fatalf("cancelled run: err %v interrupted %v", err, res != nil && res.Interrupted)
	}
	if _, err := safetensors.ReadFile(res.InterruptedCheckpoint); err != nil {
		t.Fatalf("interrupted checkpoint: %v", err)
	}
}

// TestFinetuneFreezesEncoder starts from saved encoder weights with
// --finetune: during the first stage the encoder's weights stay exactly
// those of the file while the latent heads train.
func TestFinetuneFreezesEncoder(t *testing.T) {
	dir := sharedData(t)
	out := t.TempDir()
	cfg := mnistConfig(dir, out, 400, 50, 1)
	cfg.Opt = "sgd"
	src, err := buildModel(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(out, "encoder.safetensors")
	if err := nn.SaveCheckpoint(weights, src.Enc, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Finetune, cfg.Weights, cfg.FinetuneLR, cfg.Seed = true, weights, 0.01, 99
	res, err := Train(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := safetensors.ReadFile(res.LastCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	want, err := safetensors.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want.Tensors {
		g, ok := got.Get("encoder." + w.Name)
		if !ok || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("encoder.%s changed while the encoder was frozen", w.Name)
		}
	}
	// The heads moved away from their seeded initialization.
	fresh := cfg
	fresh.Finetune, fresh.Weights = false, ""
	init, _ := buildModel(&fresh)
	g, _ := got.Get("fc_mu.weight")
	gv, _ := g.Float32s()
	same := true
	for i, v := range init.Mu.Weight.Value().Data() {
		same = same && v == gv[i]
	}
	if same {
		t.Error("fc_mu.weight did not train during fine-tuning")
	}
}

// TestTrainAEContinues checks that train-ae with a checkpoint starts from
// that autoencoder's weights (its first loss is the previous run's level,
// not a fresh network's) and rejects a checkpoint that is not one.
func TestTrainAEContinues(t *testing.T) {
	dir := sharedData(t)
	cfg := mnistConfig(dir, t.TempDir(), 128, 0, 1)
	cfg.BatchSize, cfg.LR = 32, 1e-3
	first, err := TrainAE(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := cfg
	cfg2.OutputDir, cfg2.CheckpointPath, cfg2.LR = t.TempDir(), first.Path, 1e-12
	second, err := TrainAE(context.Background(), cfg2, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh := cfg
	fresh.OutputDir, fresh.LR = t.TempDir(), 1e-12
	base, err := TrainAE(context.Background(), fresh, nil)
	if err != nil {
		t.Fatal(err)
	}
	// With a negligible learning rate each run's loss is its starting
	// network's: the continued one must be the trained level.
	if !(second.Losses[0] < base.Losses[0]) {
		t.Errorf("continued autoencoder loss %v, fresh %v: the weights were not carried over", second.Losses[0], base.Losses[0])
	}
	bad := cfg
	bad.OutputDir, bad.CheckpointPath = t.TempDir(), filepath.Join(dir, "mnist", "train-labels-idx1-ubyte.gz")
	if _, err := TrainAE(context.Background(), bad, nil); err == nil {
		t.Error("train-ae continued from a file that is not an autoencoder")
	}
}

// TestTrainAEUsesAETransforms checks that the autoencoder trains on
// AETransforms, not DataTransforms: with a negligible learning rate the
// first loss is the untrained network's MSE against its input, and MNIST in
// [0, 1] (mostly 0) sits far closer to a near-zero output than the
// normalized images (mostly -1). A pipeline that does not exist is an error
// naming the flag.
func TestTrainAEUsesAETransforms(t *testing.T) {
	dir := sharedData(t)
	losses := map[string]float64{}
	for _, p := range []string{"toy", "blob"} {
		cfg := mnistConfig(dir, t.TempDir(), 128, 0, 1)
		cfg.BatchSize, cfg.LR, cfg.DataTransforms, cfg.AETransforms = 32, 1e-12, "blob", p
		res, err := TrainAE(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		losses[p] = res.Losses[0]
	}
	if !(losses["toy"] < losses["blob"]/2) {
		t.Errorf("first loss on [0, 1] images %v, on normalized ones %v: the autoencoder did not train on --ae_transforms", losses["toy"], losses["blob"])
	}
	cfg := mnistConfig(dir, t.TempDir(), 128, 0, 1)
	cfg.AETransforms = "sepia"
	if _, err := TrainAE(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "--ae_transforms") {
		t.Errorf("--ae_transforms sepia: error %v, want one naming the flag", err)
	}
}
