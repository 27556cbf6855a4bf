package ovd

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vmdls-go/vmdls/autograd"
	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/tensor"
)

func TestScore(t *testing.T) {
	// Two images, three classes; the largest log-density is 5, so M = 6.
	ll := []float64{
		5, 1, -3,
		-10, 2, 0,
	}
	values, pred := Score(ll, 3, nil)
	if want := []float64{-1, -4}; values[0] != want[0] || values[1] != want[1] {
		t.Errorf("values %v, want %v", values, want)
	}
	if pred[0] != 0 || pred[1] != 1 {
		t.Errorf("pred %v, want [0 1]", pred)
	}
	// Weights scale every class score of an image: a small weight pulls an
	// image towards 0 (in-distribution).
	values, _ = Score(ll, 3, []float64{1, 0.25})
	if values[0] != -1 || values[1] != -1 {
		t.Errorf("weighted values %v, want [-1 -1]", values)
	}
}

func TestReconstructionWeights(t *testing.T) {
	w := ReconstructionWeights([]float64{1, 4, 2})
	if w[0] != 0.25 || w[1] != 1 || w[2] != 0.5 {
		t.Errorf("weights %v", w)
	}
}

func TestQuantileIsTorchLinear(t *testing.T) {
	// torch.quantile(torch.tensor([3., 1., 4., 1., 5.]), q) for q = 0, 0.05, 0.5, 0.95, 1.
	v := []float64{3, 1, 4, 1, 5}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.05, 1}, {0.5, 3}, {0.95, 4.8}, {1, 5}, {0.3, 1.4}} {
		if got := Quantile(v, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestClassifyRejectsBelowBounds(t *testing.T) {
	gs := []*Gaussian{StandardGaussian(2), StandardGaussian(2)}
	gs[1].Mean = []float64{5, 5}
	// Class 0's density at the origin is -log(2π) ≈ -1.84.
	mu := []float32{0, 0, 5, 5, 20, -20}
	pred := classify(gs, []float64{-3, -3}, mu, 2)
	if pred[0] != 0 || pred[1] != 1 || pred[2] != 2 {
		t.Errorf("pred %v, want [0 1 2] (the far point unknown)", pred)
	}
	// A bound above every density rejects everything.
	pred = classify(gs, []float64{0, 0}, mu, 2)
	for i, p := range pred {
		if p != 2 {
			t.Errorf("image %d predicted %d with bounds above every density", i, p)
		}
	}
}

func TestReparameterize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	mu := autograd.Param(tensor.Randn(rng, 3, 4))
	logvar := autograd.Param(tensor.Randn(rng, 3, 4))
	z := Reparameterize(mu, logvar, rand.New(rand.NewPCG(9, 9)))
	eps := tensor.Randn(rand.New(rand.NewPCG(9, 9)), 3, 4)
	for i, v := range z.Value().Data() {
		want := mu.Value().Data()[i] + float32(math.Exp(float64(logvar.Value().Data()[i])/2))*eps.Data()[i]
		if math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("z[%d] = %v, want %v", i, v, want)
		}
	}
	if err := autograd.Sum(z, false).Backward(); err != nil {
		t.Fatal(err)
	}
	if mu.Grad() == nil || logvar.Grad() == nil {
		t.Fatal("no gradient reached mu or logvar through the sample")
	}
}

func TestClassBalancedHead(t *testing.T) {
	// Sorted by class, as the CIFAR-10 JPEG folders are: 0 0 0 0 1 1 1 2 2 2.
	m := &data.Memory{C: 1, H: 1, W: 1, Pix: make([]uint8, 10), Labels: []int{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}}
	got := classBalancedHead(m, 7)
	want := []int{0, 1, 2, 4, 5, 7, 8} // three rounds over the classes, the third cut short
	if got.Len() != len(want) {
		t.Fatalf("kept %d items, want %d", got.Len(), len(want))
	}
	for i, w := range want {
		if idx := got.(*data.Subset).Indices[i]; idx != w {
			t.Fatalf("kept %v, want %v", got.(*data.Subset).Indices, want)
		}
	}
	if classBalancedHead(m, 10) != data.Dataset(m) {
		t.Error("a cap at the dataset's size copied it")
	}
}

// TestBestThreeCheckpoints feeds validated epochs with known F1 scores and
// checks that exactly the three best stay on disk, best first, beside
// last.safetensors.
func TestBestThreeCheckpoints(t *testing.T) {
	cfg := mnistConfig("", t.TempDir(), 0, 0, 1)
	m, err := buildModel(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	gs, means := latentGaussians(NewMoments(cfg.ClassNum, cfg.LatentDim), nil, nil)
	tr := &trainer{cfg: cfg, model: m, dir: t.TempDir(), st: trainState{NegMargin: InitialNegMargin, RunID: newRunID(),
		gaussians: gs, priorMeans: means, bounds: make([]float64, cfg.ClassNum)}}
	if err := tr.buildOptimizer(); err != nil {
		t.Fatal(err)
	}
	for i, f1 := range []float64{0.5, 0.7, 0.6, 0.8, 0.4} {
		tr.st.Epoch = i + 2 // as epoch() sets it before saving
		if err := tr.saveCheckpoints(EpochSummary{Epoch: i + 1, Validated: true, F1: f1}); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for _, b := range tr.bestList() {
		got = append(got, b.Epoch)
		if _, err := os.Stat(b.Path); err != nil {
			t.Errorf("best checkpoint of epoch %d: %v", b.Epoch, err)
		}
	}
	if want := []int{4, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("best epochs %v, want %v", got, want)
	}
	files, _ := filepath.Glob(filepath.Join(tr.dir, "*.safetensors"))
	if len(files) != 4 {
		t.Errorf("files %v, want the three best and last.safetensors", files)
	}
}

// TestPriorMeanSurvivesFallback checks the reference's behaviour for a
// class whose covariance is not positive definite: its Gaussian falls back
// to N(0, I), but the KL term's prior centre stays the class's mean (the
// reference's class_means), through a checkpoint too; a class absent from
// the epoch keeps its previous Gaussian and mean.
func TestPriorMeanSurvivesFallback(t *testing.T) {
	cfg := mnistConfig("", t.TempDir(), 0, 0, 1)
	cfg.ClassNum = 3
	d := cfg.LatentDim
	mo := NewMoments(3, d)
	// Class 0: every z the same point, so its covariance is 0. Class 1:
	// spread. Class 2: absent.
	var z []float32
	var labels []int
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 4*d; i++ {
		for j := range d {
			if i%2 == 0 {
				z = append(z, 2)
			} else {
				z = append(z, float32(rng.NormFloat64())+float32(j))
			}
		}
		labels = append(labels, i%2)
	}
	mo.Add(z, labels)
	gs, means := latentGaussians(mo, nil, nil)
	for j := range d {
		if gs[0].Mean[j] != 0 || means[0][j] != 2 {
			t.Fatalf("class 0: Gaussian mean %v, prior mean %v; want the N(0, I) fallback and the class mean 2", gs[0].Mean[j], means[0][j])
		}
	}
	if !slices.Equal(gs[1].Mean, means[1]) {
		t.Errorf("class 1: prior mean %v differs from its Gaussian's %v", means[1], gs[1].Mean)
	}
	gs2, means2 := latentGaussians(NewMoments(3, d), gs, means)
	if gs2[0] != gs[0] || !slices.Equal(means2[0], means[0]) {
		t.Error("an absent class did not keep its Gaussian and prior mean")
	}

	m, err := buildModel(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trainer{cfg: cfg, model: m, dir: t.TempDir(), st: trainState{Epoch: 1, NegMargin: InitialNegMargin, RunID: newRunID(),
		EncType: cfg.EncType, LatentDim: d, ClassNum: 3, Seed: cfg.Seed,
		gaussians: gs, priorMeans: means, bounds: make([]float64, 3)}}
	if err := tr.buildOptimizer(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := tr.saveState(path); err != nil {
		t.Fatal(err)
	}
	back := &trainer{cfg: cfg, model: m}
	if _, err := back.loadState(path); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		if !slices.Equal(back.st.priorMeans[k], means[k]) {
			t.Errorf("class %d: prior mean after a checkpoint %v, want %v", k, back.st.priorMeans[k], means[k])
		}
	}
	// The checkpoint records its settings under the flags' names, which
	// results.json's train_config repeats.
	var recorded map[string]any
	if err := json.Unmarshal(trainConfig(path), &recorded); err != nil || recorded["enc_type"] != cfg.EncType || recorded["class_num"] != float64(cfg.ClassNum) {
		t.Errorf("train_config of the checkpoint: %v (%v)", recorded, err)
	}
	ct := back.classMeansTensor().Data()
	if ct[0] != 2 {
		t.Errorf("the KL centres start %v, want class 0's mean 2", ct[:3])
	}
}

// TestEpochBatchesFresh checks the reference's per-epoch sampler: an
// epoch's batches depend on the epoch alone (drawing them again, as a
// resumed run does, gives the same), each epoch starts its class lists
// afresh (every class's first take is a new shuffle, not where the last
// epoch stopped), and epochs differ.
func TestEpochBatchesFresh(t *testing.T) {
	labels := make([]int, 200)
	for i := range labels {
		labels[i] = i % 4
	}
	tr := &trainer{cfg: Config{BatchClasses: 2, SampleCount: 5, Seed: 9}, trainLabels: labels}
	e1, err := tr.epochBatches(1)
	if err != nil {
		t.Fatal(err)
	}
	e0, _ := tr.epochBatches(0)
	again, _ := tr.epochBatches(1)
	if !slices.EqualFunc(e1, again, slices.Equal) {
		t.Error("epoch 1 drew different batches the second time: a resumed run would not replay it")
	}
	if slices.EqualFunc(e0, e1, slices.Equal) {
		t.Error("epochs 0 and 1 drew the same batches")
	}
	want, err := data.NewBalancedSampler(labels, 2, 5, samplerSeed(9, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(e1, want.Epoch(), slices.Equal) {
		t.Error("epoch 1 is not the first epoch of a fresh sampler")
	}
	if samplerSeed(9, 0) != 9 {
		t.Error("epoch 0's sampler does not take the run's seed")
	}
}
