package ovd

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/nn"
	"github.com/vmdls-go/vmdls/nn/backbone"
	"github.com/vmdls-go/vmdls/ovd/metrics"
	"github.com/vmdls-go/vmdls/safetensors"
	"github.com/vmdls-go/vmdls/tensor"
)

// detectorFixture is a detector fitted on the fake MNIST set from an
// untrained model (what scoring computes does not depend on how good the
// model is), with and without the reconstruction weight, made once per
// test binary: fitting runs the model over a few hundred images.
type detectorFixture struct {
	det  *Detector
	cfg  Config
	path string // the detector saved
}

var (
	fixtureMu   sync.Mutex
	fixtures    = map[bool]*detectorFixture{}
	fixtureDirs []string // removed by TestMain
)

// TestMain removes the detector fixtures' folders after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range fixtureDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func fixtureDetector(t *testing.T, weighted bool) *detectorFixture {
	t.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if f, ok := fixtures[weighted]; ok {
		return f
	}
	// Not t.TempDir: the fixture outlives the test that makes it.
	dir, err := os.MkdirTemp("", "vmdls-detector-test")
	if err != nil {
		t.Fatal(err)
	}
	fixtureDirs = append(fixtureDirs, dir)
	dataDir := fakeMNISTIn(t, dir, 120, 40)
	cfg := mnistConfig(dataDir, filepath.Join(dir, "run"), 0, 0, 1)
	cfg.UnknownDataset, cfg.BatchSize = "noise", 50
	m, err := buildModel(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CheckpointPath = filepath.Join(dir, "model.safetensors")
	if err := nn.SaveCheckpoint(cfg.CheckpointPath, m, nil); err != nil {
		t.Fatal(err)
	}
	if weighted {
		ae := backbone.NewMnistAE(rand.New(rand.NewPCG(3, 4)))
		cfg.AEFeatures, cfg.AEPath = true, filepath.Join(dir, "ae.safetensors")
		if err := nn.SaveCheckpoint(cfg.AEPath, ae, &nn.SaveOptions{Metadata: map[string]string{aeMetaType: "mnist"}}); err != nil {
			t.Fatal(err)
		}
	}
	det, err := FitDetector(context.Background(), cfg, DetectorOptions{Command: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &detectorFixture{det: det, cfg: cfg, path: filepath.Join(dir, "detector.safetensors")}
	if err := det.Save(f.path); err != nil {
		t.Fatal(err)
	}
	fixtures[weighted] = f
	return f
}

// fakeMNISTIn is fakeMNIST writing under dir.
func fakeMNISTIn(t *testing.T, dir string, train, test int) string {
	t.Helper()
	src := fakeMNIST(t, train, test)
	dst := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(dst, "mnist"), 0o755); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(src, "mnist"))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, "mnist", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "mnist", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// setImages is a set's test-time images as one batch, with their labels,
// through the loader Test uses.
func setImages(t *testing.T, cfg *Config, s *data.Set) (*tensor.Tensor, []int) {
	t.Helper()
	l, err := newLoader(cfg, s, false)
	if err != nil {
		t.Fatal(err)
	}
	var xs []*tensor.Tensor
	var labels []int
	err = forEachBatch(context.Background(), l, s.Len(), cfg.BatchSize, func(b *data.Batch) error {
		xs = append(xs, b.X)
		labels = append(labels, b.Labels...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tensor.Concat(0, xs...), labels
}

// grayImages is a one-channel set's images as Go images, as a service
// would have decoded them.
func grayImages(t *testing.T, s *data.Set) []image.Image {
	t.Helper()
	var imgs []image.Image
	for i := range s.Len() {
		im, err := s.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		g := image.NewGray(image.Rect(0, 0, im.W, im.H))
		copy(g.Pix, im.Pix)
		imgs = append(imgs, g)
	}
	return imgs
}

func knownTest(t *testing.T, cfg *Config) *data.Set {
	t.Helper()
	s, err := openSetsFor(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	return s.test
}

func sameResults(t *testing.T, what string, got, want []ScoreResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if math.Float64bits(g.Score) != math.Float64bits(w.Score) || g.Class != w.Class || g.Unknown != w.Unknown ||
			g.ClassName != w.ClassName || !slices.Equal(g.LogDensities, w.LogDensities) {
			t.Fatalf("%s: image %d: %+v, want %+v", what, i, g, w)
		}
	}
}

// TestDetectorMatchesPass2 checks that the detector's class predictions,
// per-class log-densities and, on its calibration images, its scores are
// what Test's own passes compute: fitPass on the training set, scorePass
// on the known test set, then Score and ReconstructionWeights over that
// set. This holds for the detector as fitted and as loaded from its file.
func TestDetectorMatchesPass2(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		fx := fixtureDetector(t, weighted)
		cfg := fx.cfg
		model, err := buildModel(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := loadModelWeights(model, cfg.CheckpointPath); err != nil {
			t.Fatal(err)
		}
		nn.SetTraining(model, false)
		var ae backbone.Autoencoder
		if weighted {
			if ae, err = LoadAutoencoder(cfg.AEPath); err != nil {
				t.Fatal(err)
			}
			nn.SetTraining(ae, false)
		}
		s, err := openSetsFor(&cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		fit, err := fitPass(context.Background(), &cfg, model, s.train, nil)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := scorePass(context.Background(), &cfg, model, ae, fit, []*data.Set{s.test}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var w []float64
		if weighted {
			w = ReconstructionWeights(sc.r)
		}
		values, pred := Score(sc.llEns, cfg.ClassNum, w)

		loaded, err := LoadDetector(fx.path)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := setImages(t, &cfg, s.test)
		for name, det := range map[string]*Detector{"fitted": fx.det, "loaded": loaded} {
			res, err := det.Score(context.Background(), x, WithLogDensities())
			if err != nil {
				t.Fatal(err)
			}
			C := cfg.ClassNum
			for i, r := range res {
				if r.Class != pred[i] || math.Float64bits(r.Score) != math.Float64bits(values[i]) {
					t.Fatalf("weighted %v, %s: image %d: class %d score %v; Test's passes give class %d value %v",
						weighted, name, i, r.Class, r.Score, pred[i], values[i])
				}
				if !slices.Equal(r.LogDensities, sc.llEns[i*C:(i+1)*C]) {
					t.Fatalf("weighted %v, %s: image %d: log-densities %v, pass 2 gives %v", weighted, name, i, r.LogDensities, sc.llEns[i*C:(i+1)*C])
				}
			}
		}
		if !weighted {
			// The latent ablation's detector scores mu under pass 1's
			// Gaussians on mu.
			lcfg := cfg
			lcfg.LatentOnly = true
			lat, err := FitDetector(context.Background(), lcfg, DetectorOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			lv, lp := Score(sc.llLat, cfg.ClassNum, nil)
			res, err := lat.Score(context.Background(), x, WithLogDensities())
			if err != nil {
				t.Fatal(err)
			}
			C := cfg.ClassNum
			for i, r := range res {
				if lat.FeatureSet() != featuresLatent || r.Class != lp[i] || r.Score != lv[i] || !slices.Equal(r.LogDensities, sc.llLat[i*C:(i+1)*C]) {
					t.Fatalf("latent detector, image %d: %+v; Test's passes give class %d value %v", i, r, lp[i], lv[i])
				}
			}
		}
		if th := fx.det.Threshold(); th.Method != ThresholdKnownTPR || th.TPR < 0.95 || th.Images != s.test.Len() {
			t.Errorf("threshold %+v: want known_tpr keeping at least 95%% of the %d test images", th, s.test.Len())
		}
	}
}

// TestDetectorBatchIndependent checks that an image scores the same, bit
// for bit, alone and inside batches of several sizes, including one that
// spans two model chunks.
func TestDetectorBatchIndependent(t *testing.T) {
	fx := fixtureDetector(t, true)
	cfg := fx.cfg
	x, _ := setImages(t, &cfg, knownTest(t, &cfg))
	// 40 test images; repeat them to 140 so that a batch spans two chunks.
	big := tensor.Concat(0, x, x, x, x.Slice(0, 20))
	ctx := context.Background()
	all, err := fx.det.Score(ctx, big, WithLogDensities())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 17, 39} {
		one, err := fx.det.Score(ctx, x.Slice(i, i+1), WithLogDensities())
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, "alone vs in a batch of 140", one, all[i:i+1])
		sameResults(t, "repeat in the same batch", all[i+40:i+41], all[i:i+1])
	}
	for _, bs := range []int{2, 7, 33} {
		for lo := 0; lo < big.Size(0); lo += bs {
			hi := min(lo+bs, big.Size(0))
			part, err := fx.det.Score(ctx, big.Slice(lo, hi), WithLogDensities())
			if err != nil {
				t.Fatal(err)
			}
			sameResults(t, "batch of "+strconv.Itoa(bs), part, all[lo:hi])
		}
	}
}

// TestDetectorConcurrent scores from many goroutines at once (run it with
// -race) and requires the answers of a serial run.
func TestDetectorConcurrent(t *testing.T) {
	fx := fixtureDetector(t, true)
	cfg := fx.cfg
	x, _ := setImages(t, &cfg, knownTest(t, &cfg))
	want, err := fx.det.Score(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			lo := (g * 5) % 40
			got, err := fx.det.Score(context.Background(), x.Slice(lo, lo+5))
			if err != nil {
				errs <- err
				return
			}
			for i := range got {
				if got[i].Score != want[lo+i].Score || got[i].Class != want[lo+i].Class {
					errs <- errors.New("a concurrent score differs from the serial one")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDetectorContext checks that a cancelled context stops scoring.
func TestDetectorContext(t *testing.T) {
	fx := fixtureDetector(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := tensor.Zeros(3, 1, 28, 28)
	if _, err := fx.det.Score(ctx, x); !errors.Is(err, context.Canceled) {
		t.Errorf("Score with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := fx.det.ScoreImages(ctx, []image.Image{image.NewGray(image.Rect(0, 0, 28, 28))}); !errors.Is(err, context.Canceled) {
		t.Errorf("ScoreImages with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestDetectorScoreImages checks that decoded images score as the test
// pipeline's tensors of the same images do, and that images of another
// size or colour model are converted.
func TestDetectorScoreImages(t *testing.T) {
	fx := fixtureDetector(t, false)
	cfg := fx.cfg
	s := knownTest(t, &cfg)
	x, _ := setImages(t, &cfg, s)
	want, err := fx.det.Score(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fx.det.ScoreImages(context.Background(), grayImages(t, s))
	if err != nil {
		t.Fatal(err)
	}
	sameResults(t, "ScoreImages vs Score", got, want)
	other := []image.Image{image.NewRGBA(image.Rect(0, 0, 56, 40)), image.NewGray16(image.Rect(3, 3, 31, 31))}
	if res, err := fx.det.ScoreImages(context.Background(), other); err != nil || len(res) != 2 {
		t.Errorf("ScoreImages of a 56x40 RGBA and an offset Gray16: %v, %v", res, err)
	}
	if _, err := fx.det.ScoreImages(context.Background(), []image.Image{nil}); err == nil {
		t.Error("ScoreImages accepted a nil image")
	}
	bad := tensor.Zeros(1, 1, 28, 28)
	bad.Data()[5] = float32(math.NaN())
	if _, err := fx.det.Score(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "image 0") {
		t.Errorf("Score of a NaN image: %v, want an error naming image 0", err)
	}
	if _, err := fx.det.Score(context.Background(), tensor.Zeros(2, 3, 28, 28)); err == nil {
		t.Error("Score accepted a batch of the wrong shape")
	}
}

// TestDetectorRoundTrip checks that a loaded detector saves to the same
// bytes and keeps its provenance.
func TestDetectorRoundTrip(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		fx := fixtureDetector(t, weighted)
		det, err := LoadDetector(fx.path)
		if err != nil {
			t.Fatal(err)
		}
		again := filepath.Join(t.TempDir(), "again.safetensors")
		if err := det.Save(again); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(fx.path)
		b, _ := os.ReadFile(again)
		if !bytes.Equal(a, b) {
			t.Errorf("weighted %v: a loaded detector saved to different bytes", weighted)
		}
		if det.Weighted() != weighted || det.Info().Command != "test" || det.Info().Config == "" || det.Threshold() != fx.det.Threshold() {
			t.Errorf("weighted %v: loaded %v %+v %+v", weighted, det.Weighted(), det.Info(), det.Threshold())
		}
		h, err := safetensors.ReadHeader(fx.path)
		if err != nil {
			t.Fatal(err)
		}
		if h.Metadata["format_version"] != DetectorFormatVersion || h.Metadata["vmdls_version"] == "" {
			t.Errorf("metadata %v", h.Metadata)
		}
	}
}

// TestDetectorRefusesBadFiles edits a good detector file in the ways a
// wrong or damaged file differs and requires a clear error for each.
func TestDetectorRefusesBadFiles(t *testing.T) {
	fx := fixtureDetector(t, true)
	dir := t.TempDir()
	edit := func(name string, fn func(ts []safetensors.Tensor, meta map[string]string) []safetensors.Tensor) string {
		f, err := safetensors.ReadFile(fx.path)
		if err != nil {
			t.Fatal(err)
		}
		ts := fn(f.Tensors, f.Metadata)
		p := filepath.Join(dir, name)
		if err := safetensors.WriteFile(p, ts, f.Metadata); err != nil {
			t.Fatal(err)
		}
		return p
	}
	set := func(name string, v []float64, shape ...int) func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
		return func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == name {
					ts[i] = safetensors.FromFloat64(name, shape, v)
				}
			}
			return ts
		}
	}
	fxDet := fx.det
	C, D := len(fxDet.gs), fxDet.gs[0].Dim()
	nanMean := make([]float64, C*D)
	nanMean[3] = math.NaN()
	badChol := make([]float64, C*D*D) // a zero diagonal
	cases := []struct {
		name, file string
		want       []string
	}{
		{"version", edit("v2.safetensors", func(ts []safetensors.Tensor, meta map[string]string) []safetensors.Tensor {
			meta["format_version"] = "2"
			return ts
		}), []string{"v2.safetensors", `"2"`, `"1"`, "format version"}},
		{"not a detector", fx.cfg.CheckpointPath, []string{"model.safetensors", "not a vmdls detector"}},
		{"NaN mean", edit("nan.safetensors", set("gauss.mean", nanMean, C, D)), []string{"nan.safetensors", "gauss.mean[3]", "finite"}},
		{"wrong shape", edit("shape.safetensors", set("gauss.mean", make([]float64, C*(D-1)), C, D-1)), []string{"gauss.mean", "want F64"}},
		{"zero diagonal", edit("chol.safetensors", set("gauss.chol", badChol, C, D, D)), []string{"gauss.chol", "diagonal"}},
		{"missing metadata", edit("meta.safetensors", func(ts []safetensors.Tensor, meta map[string]string) []safetensors.Tensor {
			delete(meta, "classes")
			return ts
		}), []string{`"classes"`}},
		{"extra tensor", edit("extra.safetensors", func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			return append(ts, safetensors.FromFloat64("secret", []int{1}, []float64{1}))
		}), []string{`"secret"`}},
		{"missing weight", edit("weights.safetensors", func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x safetensors.Tensor) bool { return x.Name == "model.fc_mu.weight" })
		}), []string{"model weights", "fc_mu.weight"}},
	}
	b, _ := os.ReadFile(fx.path)
	trunc := filepath.Join(dir, "truncated.safetensors")
	os.WriteFile(trunc, b[:len(b)/2], 0o644)
	cases = append(cases, struct {
		name, file string
		want       []string
	}{"truncated", trunc, []string{"truncated.safetensors"}})
	for _, c := range cases {
		_, err := LoadDetector(c.file)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		if !IsInputError(err) {
			t.Errorf("%s: %v is not an input error", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}
}

// FuzzDetectorFile feeds mutated detector files to the loader: anything
// may be refused, nothing may panic or hang.
func FuzzDetectorFile(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}"))
	// A whole valid file (a hand-made detector on mu of width 2, nothing
	// fitted), so that mutations reach every check of the loader.
	p := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := syntheticDetector(f).Save(p); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := safetensors.Parse("fuzz", b)
		if err != nil {
			return
		}
		if d, err := detectorFromFile(sf); err == nil && d == nil {
			t.Fatal("nil detector without an error")
		}
	})
}

// syntheticDetector is a detector made by hand, without fitting: an
// untrained mnist-conv model with a latent width of 2, two N(0, I) classes
// on mu.
func syntheticDetector(tb testing.TB) *Detector {
	tb.Helper()
	cfg := Config{EncType: "mnist-conv", LatentDim: 2, EncOutDim: backbone.MnistConvOutDim, ClassNum: 2}
	m, err := buildModel(&cfg)
	if err != nil {
		tb.Fatal(err)
	}
	nn.SetTraining(m, false)
	return &Detector{model: m, encType: cfg.EncType, gs: []*Gaussian{StandardGaussian(2), StandardGaussian(2)}, latent: true,
		classes: []string{"a", "b"}, input: InputSpec{Channels: 1, Height: 28, Width: 28, Mean: []float32{0.5}, Std: []float32{0.5}},
		offset: 1, thr: Threshold{Value: -3, Method: ThresholdKnownTPR, TargetTPR: 0.95, TPR: 0.95, Set: "none", Images: 1},
		chunk: backbone.DefaultInferChunk, info: DetectorInfo{Version: "test"}}
}

// TestDetectorThresholdOptions fits with the reference's best-F1 sweep
// (which needs the unknown set, and says so in the file) and with a
// held-out fraction of the training set instead of the test split.
func TestDetectorThresholdOptions(t *testing.T) {
	fx := fixtureDetector(t, false)
	cfg := fx.cfg
	cfg.UnknownLimit = 40
	det, err := FitDetector(context.Background(), cfg, DetectorOptions{Threshold: ThresholdBestF1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	th := det.Threshold()
	if th.Method != ThresholdBestF1 || !(th.MacroF1 > 0) || !strings.Contains(th.Note, "not for deployment") || !strings.Contains(th.Set, "noise") {
		t.Errorf("best_f1 threshold %+v", th)
	}
	p := filepath.Join(t.TempDir(), "f1.safetensors")
	if err := det.Save(p); err != nil {
		t.Fatal(err)
	}
	if back, err := LoadDetector(p); err != nil || back.Threshold() != th {
		t.Errorf("best_f1 detector reloaded: %v, %+v", err, back)
	}

	det, err = FitDetector(context.Background(), cfg, DetectorOptions{Holdout: HoldoutTrain, HoldoutFraction: 0.25, TargetTPR: 0.9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	th = det.Threshold()
	// 120 training images, 12 per class: 3 of each held out.
	if th.Images != 30 || th.TargetTPR != 0.9 || th.TPR < 0.9 || !strings.Contains(th.Set, "held-out") {
		t.Errorf("held-out threshold %+v", th)
	}
	if _, err := FitDetector(context.Background(), cfg, DetectorOptions{Threshold: "median"}, nil); err == nil {
		t.Error("an unknown threshold method was accepted")
	}
}

// TestKnownTPRThreshold checks the threshold on hand-made scores.
func TestKnownTPRThreshold(t *testing.T) {
	v := []float64{-5, -1, -3, -2, -4, -6, -7, -8, -9, -10}
	th := knownTPRThreshold(v, 0.95) // 10 values: all must be kept
	if th.Value != -10 || th.TPR != 1 {
		t.Errorf("0.95 of 10: %+v", th)
	}
	th = knownTPRThreshold(v, 0.5)
	if th.Value != -5 || th.TPR != 0.5 {
		t.Errorf("0.5 of 10: %+v", th)
	}
}

// TestDetectorMNIST is the round trip on real data: a mnist-conv model
// trained briefly on 300 MNIST images, fitted to a detector file, loaded,
// and MNIST test and Omniglot images scored through ScoreImages, which
// must tell them apart far better than chance and match Score on the test
// pipeline's tensors.
func TestDetectorMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model on real MNIST")
	}
	dir := sharedData(t)
	out := t.TempDir()
	cfg := mnistConfig(dir, out, 300, 200, 1)
	cfg.SampleCount, cfg.BatchSize = 10, 100
	ctx := context.Background()
	tr, err := Train(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CheckpointPath = tr.LastCheckpoint
	det, err := FitDetector(ctx, cfg, DetectorOptions{Command: "TestDetectorMNIST"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "mnist.detector.safetensors")
	if err := det.Save(path); err != nil {
		t.Fatal(err)
	}
	if det, err = LoadDetector(path); err != nil {
		t.Fatal(err)
	}
	s, err := openSets(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var values []float64
	var labels []int
	for _, set := range []*data.Set{s.test, s.unknown} {
		x, _ := setImages(t, &cfg, set)
		want, err := det.Score(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := det.ScoreImages(ctx, grayImages(t, set))
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, set.Name, got, want)
		for i, r := range got {
			values = append(values, r.Score)
			labels = append(labels, set.Label(i))
		}
	}
	auroc := metrics.AUROC(values, labels, cfg.ClassNum)
	unknown := 0
	for i, v := range values {
		if labels[i] == cfg.ClassNum && v < det.Threshold().Value {
			unknown++
		}
	}
	t.Logf("MNIST vs Omniglot through the detector file: AUROC %.3f, %d of %d Omniglot images unknown at %+v",
		auroc, unknown, s.unknown.Len(), det.Threshold())
	if auroc < 0.8 {
		t.Errorf("AUROC %.3f: the detector barely tells MNIST from Omniglot", auroc)
	}
}
