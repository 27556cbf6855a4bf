package ovd

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
)

// multiSetConfig is an untrained mnist-conv and an untrained autoencoder
// saved under dir, on a fake MNIST of 150 training images, with every
// baseline (KNN on 60 of the images, k 5).
func multiSetConfig(t *testing.T, dir string) Config {
	t.Helper()
	dataDir := fakeMNISTIn(t, dir, 150, 40)
	cfg := mnistConfig(dataDir, filepath.Join(dir, "run"), 0, 0, 1)
	cfg.BatchSize, cfg.UnknownLimit, cfg.Threads = 50, 30, 2
	cfg.Baselines, cfg.KNNK, cfg.KNNTrain = "all", 5, 60
	m, err := buildModel(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CheckpointPath = filepath.Join(dir, "model.safetensors")
	if err := nn.SaveCheckpoint(cfg.CheckpointPath, m, nil); err != nil {
		t.Fatal(err)
	}
	ae := backbone.NewMnistAE(rand.New(rand.NewPCG(3, 4)))
	cfg.AEFeatures, cfg.AEPath = true, filepath.Join(dir, "ae.safetensors")
	if err := nn.SaveCheckpoint(cfg.AEPath, ae, &nn.SaveOptions{Metadata: map[string]string{aeMetaType: "mnist"}}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// readResults reads a results.json.
func readResults(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// detectorMetrics returns every detector's summary in a results.json
// object: the method's top-level keys, the ablations and the baselines.
func detectorMetrics(t *testing.T, res map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	top := map[string]any{}
	for _, k := range []string{"auroc", "tnr_at_tpr95", "fpr95_ood_positive", "aupr_in", "aupr_out", "macro_f1", "detection_error",
		"known_accuracy", "best_threshold", "num_known", "num_unknown", "cauroc", "oscr"} {
		top[k] = res[k]
	}
	out[res["method"].(string)] = top
	for _, g := range []string{"ablations", "baselines"} {
		for name, s := range res[g].(map[string]any) {
			out[name] = s.(map[string]any)
		}
	}
	return out
}

// sameMetrics checks that two results agree exactly on every detector's
// metrics: the same scores of the same images give the same numbers.
func sameMetrics(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	g, w := detectorMetrics(t, got), detectorMetrics(t, want)
	if len(g) != len(w) || len(w) < 10 {
		t.Fatalf("%s: detectors %d, want %d (at least 10)", what, len(g), len(w))
	}
	for name, ws := range w {
		gs, ok := g[name]
		if !ok {
			t.Fatalf("%s: no detector %s", what, name)
		}
		for k, v := range ws {
			if gs[k] != v {
				t.Errorf("%s: %s %s = %v, want %v", what, name, k, gs[k], v)
			}
		}
	}
}

// TestMultiSetEqualsSingleRuns checks that one run against two unknown
// sets fits once and gives, per set, every detector's numbers of a run
// against that set alone, and that the mean is the mean of the sets.
func TestMultiSetEqualsSingleRuns(t *testing.T) {
	dir := t.TempDir()
	cfg := multiSetConfig(t, dir)
	ctx := context.Background()
	cfg.UnknownDataset = "noise,mnist_noise"
	fits := 0
	last := -1
	obs := func(e Event) {
		if e.Phase == "fit" {
			if last < 0 || e.Images <= last {
				fits++ // a pass starts
			}
			last = e.Images
		}
	}
	res, err := Test(ctx, cfg, obs)
	if err != nil {
		t.Fatal(err)
	}
	if fits != 1 {
		t.Errorf("%d fit passes, want 1", fits)
	}
	multi := readResults(t, filepath.Join(cfg.OutputDir, "results.json"))
	per := multi["per_set"].(map[string]any)
	for _, name := range []string{"noise", "mnist_noise"} {
		single := cfg
		single.UnknownDataset, single.OutputDir = name, filepath.Join(dir, "single-"+name)
		if _, err := Test(ctx, single, nil); err != nil {
			t.Fatal(err)
		}
		want := readResults(t, filepath.Join(single.OutputDir, "results.json"))
		sameMetrics(t, name+" sub-folder", readResults(t, filepath.Join(cfg.OutputDir, name, "results.json")), want)
		p := per[name].(map[string]any)
		p["method"] = multi["method"]
		sameMetrics(t, name+" per_set", p, want)
		for _, f := range []string{"roc.csv", "thresholds.csv", "scores.csv", "roc-mahalanobis.csv", "hist-knn.png"} {
			a, err1 := os.ReadFile(filepath.Join(cfg.OutputDir, name, f))
			b, err2 := os.ReadFile(filepath.Join(single.OutputDir, f))
			if err1 != nil || err2 != nil || string(a) != string(b) {
				t.Errorf("%s/%s differs from the single run's (%v, %v)", name, f, err1, err2)
			}
		}
	}
	noise, mn := per["noise"].(map[string]any), per["mnist_noise"].(map[string]any)
	for _, k := range []string{"auroc", "aupr_out", "fpr95_ood_positive"} {
		if want := (noise[k].(float64) + mn[k].(float64)) / 2; multi[k] != want {
			t.Errorf("mean %s = %v, want %v", k, multi[k], want)
		}
	}
	knn := multi["baseline_settings"].(map[string]any)["knn"].(map[string]any)
	if knn["k"] != 5.0 || knn["train_rows"] != 60.0 || knn["train_images"] != 150.0 {
		t.Errorf("knn settings %v", knn)
	}
	if len(res.UnknownSets) != 2 {
		t.Errorf("UnknownSets %v", res.UnknownSets)
	}
	for _, f := range []string{"results.csv", "results.md"} {
		b, err := os.ReadFile(filepath.Join(cfg.OutputDir, f))
		if err != nil {
			t.Fatal(err)
		}
		// A header, one row per (detector, set) for 13 detectors and 2
		// sets, one mean row per detector.
		rows := strings.Count(string(b), "\nknn,") + strings.Count(string(b), "| knn (")
		if rows != 3 {
			t.Errorf("%s has %d knn rows, want 2 sets and the mean:\n%s", f, rows, b)
		}
	}
}

// TestFeaturesRoundTrip checks that --features_out writes what
// --features_in scores to the same numbers without the network, and that
// a damaged folder is refused naming the file.
func TestFeaturesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := multiSetConfig(t, dir)
	ctx := context.Background()
	cfg.UnknownDataset, cfg.FeaturesOut = "noise,mnist_noise", filepath.Join(dir, "features")
	if _, err := Test(ctx, cfg, nil); err != nil {
		t.Fatal(err)
	}
	in := DefaultTestConfig()
	in.KNNK, in.KNNTrain, in.Seed = cfg.KNNK, cfg.KNNTrain, cfg.Seed
	in.FeaturesIn, in.OutputDir = cfg.FeaturesOut, filepath.Join(dir, "from-features")
	if _, err := Test(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"noise", "mnist_noise"} {
		sameMetrics(t, name, readResults(t, filepath.Join(in.OutputDir, name, "results.json")),
			readResults(t, filepath.Join(cfg.OutputDir, name, "results.json")))
	}
	p := filepath.Join(cfg.FeaturesOut, "unknown_noise_labels.npy")
	if err := os.WriteFile(p, encodeInt64s([]int{1, 2}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Test(ctx, in, nil); err == nil || !strings.Contains(err.Error(), "unknown_noise_labels.npy") {
		t.Errorf("damaged labels: %v", err)
	}
}
