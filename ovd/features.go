package ovd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vmdls-go/vmdls/data"
	"github.com/vmdls-go/vmdls/ovd/report"
)

// A features folder (--features_out DIR, read back by --features_in DIR)
// holds what Test's passes computed, so that other tools, or Test itself
// without the network, can score detectors on it in seconds:
//
//	features.json                 what the arrays are (featuresMeta); written last
//	train_features.npy            pass 1's F(x) = [tap1, tap2, tap3, h, mu], float32, images × features
//	train_labels.npy              their classes, int64
//	known_test_features.npy       pass 2's F(x) of the known test set, and its
//	known_test_labels.npy         labels (0..class_num-1)
//	known_test_recon.npy          r(x), float64, with an autoencoder only
//	unknown_<set>_features.npy    the same for each unknown set, whose labels
//	unknown_<set>_labels.npy      are all class_num
//	unknown_<set>_recon.npy
//	knn_train_indices.npy         the training rows of the KNN subset, int64, when KNN was scored
//
// Rows are in the order of the passes. Test replays them in batches of the
// recorded batch size, so that the sums behind the Gaussians, and so every
// score, are those of the run that wrote them.

// featuresFormat and featuresVersion identify features.json.
const (
	featuresFormat  = "vmdls-features"
	featuresVersion = 1
)

// featuresMeta is features.json.
type featuresMeta struct {
	Format       string   `json:"format"`
	Version      int      `json:"version"`
	ClassNum     int      `json:"class_num"`
	Layers       []string `json:"layers"`
	Widths       []int    `json:"widths"`
	BatchSize    int      `json:"batch_size"`
	Recon        bool     `json:"recon"`
	KnownDataset string   `json:"known_dataset"`
	UnknownSets  []string `json:"unknown_sets"`
	TrainImages  int      `json:"train_images"`
	Checkpoint   string   `json:"checkpoint"`
	Seed         uint64   `json:"seed"`
}

// trainRows keeps what the baselines and --features_out need of pass 1's
// rows: the h columns of the KNN subset and, for --features_out, all of
// F(x) and the labels.
type trainRows struct {
	knnIdx   []int // sorted image indices of the KNN subset
	next     int   // the first of knnIdx not seen yet
	seen     int   // images so far
	hLo, hHi int
	all      bool
	ens      []float32
	labels   []int
	knnH     []float32
}

func newTrainRows(cfg *Config, sel []string, n int, widths []int) *trainRows {
	t := &trainRows{all: cfg.FeaturesOut != ""}
	t.hLo = widths[0] + widths[1] + widths[2]
	t.hHi = t.hLo + widths[3]
	if slices.Contains(sel, "knn") {
		t.knnIdx = knnSubset(n, cfg.KNNTrain, cfg.Seed)
	}
	return t
}

// add keeps the rows of one batch of F(x) that are needed.
func (t *trainRows) add(ens []float32, labels []int) {
	n := len(labels)
	if n == 0 {
		return
	}
	d := len(ens) / n
	for i := range n {
		if t.next < len(t.knnIdx) && t.knnIdx[t.next] == t.seen+i {
			t.knnH = append(t.knnH, ens[i*d+t.hLo:i*d+t.hHi]...)
			t.next++
		}
	}
	t.seen += n
	if t.all {
		t.ens = append(t.ens, ens...)
		t.labels = append(t.labels, labels...)
	}
}

// scoredRows keeps pass 2's rows for --features_out, per evaluated set.
type scoredRows struct {
	on     bool
	ens    [][]float32
	r      [][]float64
	labels [][]int
}

func newScoredRows(cfg *Config, n int) *scoredRows {
	return &scoredRows{on: cfg.FeaturesOut != "", ens: make([][]float32, n), r: make([][]float64, n), labels: make([][]int, n)}
}

func (s *scoredRows) add(set int, ens []float32, r []float64, labels []int) {
	if !s.on {
		return
	}
	s.ens[set] = append(s.ens[set], ens...)
	s.r[set] = append(s.r[set], r...)
	s.labels[set] = append(s.labels[set], labels...)
}

// setPrefix is the file prefix of evaluated set i: the known test set,
// then the unknown sets by name.
func setPrefix(i int, names []string) string {
	if i == 0 {
		return "known_test"
	}
	return "unknown_" + names[i-1]
}

// writeFeatures writes the features folder of cfg.FeaturesOut, each file
// atomically and features.json last.
func writeFeatures(cfg *Config, names []string, widths []int, train *trainRows, scored *scoredRows, bl *baselineFit) error {
	dir := cfg.FeaturesOut
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--features_out %s: %w", dir, err)
	}
	removeTempFiles(dir)
	d := 0
	for _, w := range widths {
		d += w
	}
	write := func(name string, b []byte) error {
		if err := report.WriteAtomic(filepath.Join(dir, name), b); err != nil {
			return fmt.Errorf("--features_out: %w", err)
		}
		return nil
	}
	if err := write("train_features.npy", encodeFloat32Matrix(train.ens, len(train.labels), d)); err != nil {
		return err
	}
	if err := write("train_labels.npy", encodeInt64s(train.labels)); err != nil {
		return err
	}
	if bl.has("knn") {
		if err := write("knn_train_indices.npy", encodeInt64s(train.knnIdx)); err != nil {
			return err
		}
	}
	weighted := false
	for i := range scored.ens {
		p := setPrefix(i, names)
		if err := write(p+"_features.npy", encodeFloat32Matrix(scored.ens[i], len(scored.labels[i]), d)); err != nil {
			return err
		}
		if err := write(p+"_labels.npy", encodeInt64s(scored.labels[i])); err != nil {
			return err
		}
		if len(scored.r[i]) > 0 {
			weighted = true
			if err := write(p+"_recon.npy", encodeFloat64s(scored.r[i])); err != nil {
				return err
			}
		}
	}
	meta := featuresMeta{Format: featuresFormat, Version: featuresVersion, ClassNum: cfg.ClassNum, Layers: ensembleLayers,
		Widths: widths, BatchSize: cfg.BatchSize, Recon: weighted, KnownDataset: cfg.KnownDataset, UnknownSets: names,
		TrainImages: len(train.labels), Checkpoint: cfg.CheckpointPath, Seed: cfg.Seed}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return write("features.json", append(b, '\n'))
}

// maxFeaturesMeta bounds features.json, which is a few hundred bytes.
const maxFeaturesMeta = 1 << 20

// readFeaturesMeta reads and checks dir/features.json. Set names are
// checked against data.Names before they name a file.
func readFeaturesMeta(dir string) (*featuresMeta, error) {
	p := filepath.Join(dir, "features.json")
	if err := checkRegularFile(p); err != nil {
		return nil, inputErrorf("--features_in: %w", err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, inputErrorf("--features_in %s: %w (a folder that vmdls test --features_out wrote)", dir, err)
	}
	if st.Size() > maxFeaturesMeta {
		return nil, inputErrorf("--features_in %s: %d bytes; features.json is a few hundred", p, st.Size())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, inputErrorf("--features_in: %w", err)
	}
	var m featuresMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, inputErrorf("--features_in %s: %w", p, err)
	}
	switch {
	case m.Format != featuresFormat || m.Version != featuresVersion:
		return nil, inputErrorf("--features_in %s: format %q version %d; want %s version %d", p, m.Format, m.Version, featuresFormat, featuresVersion)
	case m.ClassNum < 2:
		return nil, inputErrorf("--features_in %s: class_num %d; want at least 2", p, m.ClassNum)
	case len(m.Widths) != len(ensembleLayers) || !slices.Equal(m.Layers, ensembleLayers):
		return nil, inputErrorf("--features_in %s: layers %v widths %v; want the widths of %v", p, m.Layers, m.Widths, ensembleLayers)
	case m.BatchSize < 1:
		return nil, inputErrorf("--features_in %s: batch_size %d; want at least 1", p, m.BatchSize)
	case len(m.UnknownSets) == 0:
		return nil, inputErrorf("--features_in %s: no unknown sets", p)
	}
	for _, w := range m.Widths {
		if w < 1 || w > 1<<16 {
			return nil, inputErrorf("--features_in %s: layer width %d", p, w)
		}
	}
	for i, n := range m.UnknownSets {
		if !slices.Contains(data.Names, n) || slices.Contains(m.UnknownSets[:i], n) {
			return nil, inputErrorf("--features_in %s: unknown set %q is not a distinct dataset name", p, n)
		}
	}
	return &m, nil
}

// savedSet is one set's arrays of a features folder.
type savedSet struct {
	ens    []float32
	labels []int
	r      []float64
}

// readSavedSet reads dir/<prefix>_*.npy: d columns of features, labels
// that want(label) accepts, and r(x) when recon.
func readSavedSet(dir, prefix string, d int, recon bool, want func(int) bool, what string) (*savedSet, error) {
	read := func(name string) (*data.NPY, string, error) {
		p := filepath.Join(dir, prefix+"_"+name+".npy")
		a, err := data.ReadNPYFile(p)
		if err != nil {
			return nil, p, inputErrorf("--features_in: %w", err)
		}
		return a, p, nil
	}
	a, p, err := read("features")
	if err != nil {
		return nil, err
	}
	ens, rows, cols, err := decodeFloat32Matrix(a, p)
	if err != nil {
		return nil, inputErrorf("--features_in: %w", err)
	}
	if cols != d {
		return nil, inputErrorf("--features_in: %s has %d columns; features.json's widths add up to %d", p, cols, d)
	}
	a, p, err = read("labels")
	if err != nil {
		return nil, err
	}
	labels, err := decodeInt64s(a, p)
	if err != nil {
		return nil, inputErrorf("--features_in: %w", err)
	}
	if len(labels) != rows {
		return nil, inputErrorf("--features_in: %s has %d labels for %d rows of features", p, len(labels), rows)
	}
	for i, l := range labels {
		if !want(l) {
			return nil, inputErrorf("--features_in: %s: label %d at %d; want %s", p, l, i, what)
		}
	}
	s := &savedSet{ens: ens, labels: labels}
	if recon {
		if a, p, err = read("recon"); err != nil {
			return nil, err
		}
		if s.r, err = decodeFloat64s(a, p); err != nil {
			return nil, inputErrorf("--features_in: %w", err)
		}
		if len(s.r) != rows {
			return nil, inputErrorf("--features_in: %s has %d distances for %d rows of features", p, len(s.r), rows)
		}
	}
	return s, nil
}

// columnsF32 copies the columns [lo, hi) of the n rows of x (d each).
func columnsF32(x []float32, n, d, lo, hi int) []float32 {
	out := make([]float32, 0, n*(hi-lo))
	for i := range n {
		out = append(out, x[i*d+lo:i*d+hi]...)
	}
	return out
}

// testSavedFeatures is Test on a --features_in folder: the same fit, the
// same scores and the same report, with the features read instead of
// computed. The folder fixes class_num, the unknown sets and the batch
// size; the baselines, KNN and output settings are cfg's.
func testSavedFeatures(ctx context.Context, cfg Config, obs Observer) (*TestResult, error) {
	dir := cfg.FeaturesIn
	if cfg.FeaturesOut != "" {
		return nil, fmt.Errorf("--features_out and --features_in: a run either writes the features of the network or scores saved ones, not both")
	}
	m, err := readFeaturesMeta(dir)
	if err != nil {
		return nil, err
	}
	cfg.ClassNum, cfg.BatchSize, cfg.UnknownDataset = m.ClassNum, m.BatchSize, strings.Join(m.UnknownSets, ",")
	cfg.LatentDim = m.Widths[4]
	sel, err := cfg.baselineSelection()
	if err != nil {
		return nil, err
	}
	removeTempFiles(cfg.OutputDir)
	cfg.applyThreads()
	d := 0
	for _, w := range m.Widths {
		d += w
	}
	c := m.ClassNum
	start := time.Now()
	train, err := readSavedSet(dir, "train", d, false, func(l int) bool { return l >= 0 && l < c }, fmt.Sprintf("a class 0..%d", c-1))
	if err != nil {
		return nil, err
	}
	n := len(train.labels)
	acc := newFitAccumulator(c, m.Widths)
	keep := newTrainRows(&cfg, sel, n, m.Widths)
	muLo := d - m.Widths[4]
	for lo := 0; lo < n; lo += m.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+m.BatchSize, n)
		ens := train.ens[lo*d : hi*d]
		acc.add(ens, columnsF32(ens, hi-lo, d, muLo, d), train.labels[lo:hi])
		keep.add(ens, train.labels[lo:hi])
		obs.emit(Event{Phase: "fit", Images: hi, Steps: n, Elapsed: time.Since(start)})
	}
	fit, err := acc.finish()
	if err != nil {
		return nil, err
	}
	fit.images, fit.seconds = n, time.Since(start).Seconds()
	bl, err := fitBaselines(&cfg, sel, fit.ensMoments, m.Widths, keep.knnH)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	sc := &testScores{}
	blScores := map[string][]float64{}
	var blTime time.Duration
	var sizes []int
	for i := range len(m.UnknownSets) + 1 {
		want, what := func(l int) bool { return l == c }, fmt.Sprintf("%d (unknown)", c)
		if i == 0 {
			want, what = func(l int) bool { return l >= 0 && l < c }, fmt.Sprintf("a class 0..%d", c-1)
		}
		s, err := readSavedSet(dir, setPrefix(i, m.UnknownSets), d, m.Recon, want, what)
		if err != nil {
			return nil, err
		}
		rows := len(s.labels)
		sizes = append(sizes, rows)
		for lo := 0; lo < rows; lo += m.BatchSize {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			hi := min(lo+m.BatchSize, rows)
			ens := s.ens[lo*d : hi*d]
			var r []float64
			if m.Recon {
				r = s.r[lo:hi]
			}
			sc.add(fit, ens, columnsF32(ens, hi-lo, d, muLo, d), r, s.labels[lo:hi])
			t := time.Now()
			bl.scoreBatch(ens, hi-lo, blScores)
			blTime += time.Since(t)
			obs.emit(Event{Phase: "score", Images: len(sc.labels), Steps: len(sc.labels), Elapsed: time.Since(start)})
		}
	}
	sc.seconds = time.Since(start).Seconds()
	return writeTest(&cfg, testRun{fit: fit, sc: sc, bl: bl, blScores: blScores, blSeconds: blTime.Seconds(),
		names: m.UnknownSets, sizes: sizes, weighted: m.Recon,
		meta: map[string]any{"features_in": map[string]any{"dir": dir, "checkpoint": m.Checkpoint, "known_dataset": m.KnownDataset}}})
}
