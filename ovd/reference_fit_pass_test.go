package ovd

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
)

// referencePassSetup is an untrained mnist-conv model (what the fit
// computes does not depend on how good the model is) and the fake MNIST
// set of 120 training images, 12 per class, with the reference's
// test-time sampler at one class of 5 images per batch: 23 batches
// (`while seen + 5 < 120`), so classes 0-2 are fitted three times and
// 3-9 twice.
func referencePassSetup(t *testing.T) (Config, *backbone.Model, *sets) {
	t.Helper()
	cfg := mnistConfig(fakeMNIST(t, 120, 20), filepath.Join(t.TempDir(), "run"), 0, 0, 1)
	cfg.UnknownDataset, cfg.BatchClasses, cfg.SampleCount, cfg.BatchSize = "noise", 1, 5, 50
	m, err := buildModel(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	nn.SetTraining(m, false)
	s, err := openSets(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, m, s
}

// batchFeatures is the feature ensemble and mu of every batch, through a
// loader with the train (train = true) or test transforms.
func batchFeatures(t *testing.T, cfg *Config, m *backbone.Model, set *data.Set, batches [][]int, train bool) (ens, mu [][]float32) {
	t.Helper()
	l, err := newLoader(cfg, set, train)
	if err != nil {
		t.Fatal(err)
	}
	it := l.Epoch(0, batches)
	defer it.Close()
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		f, err := ExtractFeatures(m, b.X)
		if err != nil {
			t.Fatal(err)
		}
		ens, mu = append(ens, f.Ensemble.Data()), append(mu, f.Mu.Data())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return ens, mu
}

// TestReferenceFitPassSamplerAndOverwrite checks --reference_fit's pass 1
// end to end on images: it fits on the round-robin sampler's 115 images
// (not all 120) with the train transforms (mnist's rotation and crop, so
// the features differ from the test-time ones), the ensemble mean of a
// class is its last batch's sum over all its batches' count (a third or
// half of that batch's mean), and the latent means add up every batch.
func TestReferenceFitPassSamplerAndOverwrite(t *testing.T) {
	cfg, m, s := referencePassSetup(t)
	cfg.ReferenceFit = true
	fit, err := fitPass(context.Background(), &cfg, m, s.train, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fit.mode != fitReference || fit.images != 115 {
		t.Fatalf("fit mode %q over %d images; want %q over the sampler's 115", fit.mode, fit.images, fitReference)
	}
	labels := make([]int, s.train.Len())
	for i := range labels {
		labels[i] = s.train.Label(i)
	}
	rr, err := data.NewRoundRobinSampler(labels, 1, 5, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	batches := rr.Epoch()
	ens, mu := batchFeatures(t, &cfg, m, s.train, batches, true)
	testEns, _ := batchFeatures(t, &cfg, m, s.train, batches, false)
	if sameF32(ens[0], testEns[0]) {
		t.Fatal("the train transforms gave the test-time features: no augmentation to tell them apart")
	}
	d, dl := fit.dim, cfg.LatentDim
	last := map[int][]float64{}
	visits, latSum := map[int]int{}, map[int][]float64{}
	for b, idx := range batches {
		c := labels[idx[0]]
		sum, ls := make([]float64, d), latSum[c]
		if ls == nil {
			ls = make([]float64, dl)
		}
		for r := range idx {
			for j := range d {
				sum[j] += float64(ens[b][r*d+j])
			}
			for j := range dl {
				ls[j] += float64(mu[b][r*dl+j])
			}
		}
		last[c], latSum[c] = sum, ls
		visits[c]++
	}
	for c := range cfg.ClassNum {
		if want := 2 + boolInt(c < 3); visits[c] != want {
			t.Fatalf("class %d fitted in %d batches, want %d", c, visits[c], want)
		}
		n := float64(5 * visits[c])
		for j := range d {
			// The last batch's own mean, shrunk by its share of the count:
			// float32 sums of 5 rows and one division, within 1e-5 of it.
			want := last[c][j] / n
			if got := fit.ens[c].Mean[j]; math.Abs(got-want) > 1e-5*math.Abs(want)+1e-7 {
				t.Fatalf("class %d: ensemble mean[%d] = %v, want the last batch's sum / %v = %v", c, j, got, n, want)
			}
		}
		for j := range dl {
			want := latSum[c][j] / n
			if got := fit.lat[c].Mean[j]; math.Abs(got-want) > 1e-9*math.Abs(want)+1e-12 {
				t.Fatalf("class %d: latent mean[%d] = %v, want the mean over every batch %v", c, j, got, want)
			}
		}
	}
}

// TestDefaultFitUnchanged checks that without --reference_fit pass 1 is
// the float64 fit over every training image with the test transforms:
// 120 images, the class means of all of them, FitShared's k.
func TestDefaultFitUnchanged(t *testing.T) {
	cfg, m, s := referencePassSetup(t)
	fit, err := fitPass(context.Background(), &cfg, m, s.train, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fit.mode != fitFloat64 || fit.images != 120 {
		t.Fatalf("fit mode %q over %d images; want %q over all 120", fit.mode, fit.images, fitFloat64)
	}
	x, labels := setImages(t, &cfg, s.train)
	f, err := ExtractFeatures(m, x)
	if err != nil {
		t.Fatal(err)
	}
	mom := NewMoments(cfg.ClassNum, fit.dim)
	mom.Add(f.Ensemble.Data(), labels)
	_, k, err := FitShared(mom)
	if err != nil {
		t.Fatal(err)
	}
	if k != fit.kEns {
		t.Errorf("jitter k %d, FitShared on all images gives %d", fit.kEns, k)
	}
	for c := range cfg.ClassNum {
		want, _, _ := mom.MeanCov(c)
		for j, w := range want {
			if got := fit.ens[c].Mean[j]; math.Abs(got-w) > 1e-12*math.Abs(w)+1e-15 {
				t.Fatalf("class %d: mean[%d] = %v, the mean of all images %v", c, j, got, w)
			}
		}
	}
}

func sameF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestResultsReportFit runs Test in both modes: results.json names the fit
// ("float64" or "reference") and its jitter k, which is the fit's own.
func TestResultsReportFit(t *testing.T) {
	cfg, m, _ := referencePassSetup(t)
	cfg.CheckpointPath = filepath.Join(t.TempDir(), "model.safetensors")
	if err := nn.SaveCheckpoint(cfg.CheckpointPath, m, nil); err != nil {
		t.Fatal(err)
	}
	cfg.UnknownLimit, cfg.Threads = 20, 1
	for _, ref := range []bool{false, true} {
		cfg.ReferenceFit = ref
		cfg.OutputDir = filepath.Join(t.TempDir(), "out")
		res, err := Test(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(res.OutputDir, "results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Fit     string
			JitterK *int `json:"jitter_k"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		mode := map[bool]string{false: fitFloat64, true: fitReference}[ref]
		if out.Fit != mode {
			t.Errorf("reference_fit %v: results.json fit = %q, want %q", ref, out.Fit, mode)
		}
		if out.JitterK == nil || *out.JitterK != res.Jitter {
			t.Errorf("reference_fit %v: results.json jitter_k = %v, the fit's k is %d", ref, out.JitterK, res.Jitter)
		}
		t.Logf("fit %s: jitter k %d", mode, res.Jitter)
	}
}
