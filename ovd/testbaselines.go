package ovd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/vmdls-go/vmdls/ovd/baselines"
	"gonum.org/v1/gonum/mat"
)

// BaselineNames are the standard detectors --baselines chooses from, in
// the order of the tables:
//
//   - mahalanobis: Lee et al.'s tied-covariance Mahalanobis score on each
//     block of the feature ensemble F(x) = [tap1, tap2, tap3, h, mu]
//     ("mahalanobis-tap1", ...) and their sum ("mahalanobis");
//   - relative_mahalanobis: Ren et al.'s, on h (the encoder's output, the
//     penultimate features);
//   - knn: Sun et al.'s k-th nearest neighbour in the unit-normalized h,
//     against a uniformly drawn training subset (--knn_k, --knn_train);
//   - energy and msp: log Σ_c exp l_c(x) and the largest softmax of the
//     class log-likelihoods l_c(x) the method scores with.
//
// Every one is fitted from pass 1 and scored in pass 2, from the features
// the method computes anyway: no training, no further pass over the data.
var BaselineNames = []string{"mahalanobis", "relative_mahalanobis", "knn", "energy", "msp"}

// ensembleLayers name the blocks of F(x), in order.
var ensembleLayers = []string{"tap1", "tap2", "tap3", "h", "mu"}

// baselineSelection returns the baselines c.Baselines names, in
// BaselineNames order, and checks the KNN settings when KNN is chosen.
func (c *Config) baselineSelection() ([]string, error) {
	switch strings.TrimSpace(c.Baselines) {
	case "", "none":
		return nil, nil
	case "all":
		return c.checkKNN(slices.Clone(BaselineNames))
	}
	var sel []string
	for _, n := range strings.Split(c.Baselines, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(BaselineNames, n) {
			return nil, fmt.Errorf("--baselines %q: %q is not a baseline; want all, none or a comma list of %s", c.Baselines, n, strings.Join(BaselineNames, ", "))
		}
		sel = append(sel, n)
	}
	var out []string
	for _, n := range BaselineNames {
		if slices.Contains(sel, n) {
			out = append(out, n)
		}
	}
	return c.checkKNN(out)
}

func (c *Config) checkKNN(sel []string) ([]string, error) {
	if !slices.Contains(sel, "knn") {
		return sel, nil
	}
	if c.KNNK < 1 || c.KNNK > baselines.MaxK {
		return nil, fmt.Errorf("--knn_k %d: want 1..%d (Sun et al.'s range)", c.KNNK, baselines.MaxK)
	}
	if c.KNNTrain < 0 {
		return nil, fmt.Errorf("--knn_train %d: want 0 (the whole training set) or more rows", c.KNNTrain)
	}
	return sel, nil
}

// knnSubset returns the sorted indices of the KNN training subset: size
// of the n training images drawn uniformly without replacement with the
// run's seed (the CIFAR folders are sorted by class, so a head would miss
// classes), or all n when size is 0 or at least n.
func knnSubset(n, size int, seed uint64) []int {
	if size == 0 || size >= n {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := rand.New(rand.NewPCG(seed, 0x6b6e6e)).Perm(n)[:size]
	slices.Sort(idx)
	return idx
}

// baselineFit is the fitted baselines of one Test run.
type baselineFit struct {
	sel      []string
	widths   []int                    // the blocks of F(x)
	layers   []*baselines.Mahalanobis // one per block, with mahalanobis
	relative *baselines.RelativeMahalanobis
	knn      *baselines.KNN
	hLo, hHi int // h's columns in F(x)
	knnRows  int
}

// has reports whether baseline name was chosen.
func (b *baselineFit) has(name string) bool { return b != nil && slices.Contains(b.sel, name) }

// tiedFromMoments returns, for the columns [lo, hi) of the moments'
// vectors, the class means, the tied covariance (the within-class scatter
// over all rows, (1/N) Σ_c [Outer_c - n_c m_c m_cᵀ]), the mean m of all
// rows and their covariance, the tied one plus the between-class scatter
// (1/N) Σ_c n_c (m_c - m)(m_c - m)ᵀ (equal to (1/N) Σ Outer_c - m mᵀ,
// without its cancellation): the estimates scikit-learn's
// EmpiricalCovariance makes of the rows, from the sums pass 1 accumulates
// for the method, so that no training row needs keeping.
func tiedFromMoments(m *Moments, lo, hi int) (means [][]float64, tied *mat.SymDense, mean []float64, cov *mat.SymDense) {
	d, w := m.Dim, hi-lo
	total := 0.0
	mean = make([]float64, w)
	for c, n := range m.Count {
		mc := make([]float64, w)
		for j := range w {
			mc[j] = m.Sum[c][lo+j] / n
			mean[j] += m.Sum[c][lo+j]
		}
		means = append(means, mc)
		total += n
	}
	for j := range w {
		mean[j] /= total
	}
	tied, cov = mat.NewSymDense(w, nil), mat.NewSymDense(w, nil)
	for i := range w {
		for j := i; j < w; j++ {
			within, between := 0.0, 0.0
			for c, n := range m.Count {
				within += m.Outer[c][(lo+i)*d+lo+j] - m.Sum[c][lo+i]*m.Sum[c][lo+j]/n
				between += n * (means[c][i] - mean[i]) * (means[c][j] - mean[j])
			}
			tied.SetSym(i, j, within/total)
			cov.SetSym(i, j, (within+between)/total)
		}
	}
	return means, tied, mean, cov
}

// fitBaselines fits the chosen baselines: the Mahalanobis ones from the
// ensemble's moments, KNN on knnH (the h columns of the KNN subset's rows,
// row-major float32).
func fitBaselines(cfg *Config, sel []string, ens *Moments, widths []int, knnH []float32) (*baselineFit, error) {
	if len(sel) == 0 {
		return nil, nil
	}
	b := &baselineFit{sel: sel, widths: widths}
	b.hLo = widths[0] + widths[1] + widths[2]
	b.hHi = b.hLo + widths[3]
	if b.has("mahalanobis") {
		lo := 0
		for i, w := range widths {
			means, tied, _, _ := tiedFromMoments(ens, lo, lo+w)
			m, err := baselines.NewMahalanobis(means, tied)
			if err != nil {
				return nil, fmt.Errorf("baseline mahalanobis on %s: %w", ensembleLayers[i], err)
			}
			b.layers = append(b.layers, m)
			lo += w
		}
	}
	if b.has("relative_mahalanobis") {
		means, tied, mean, cov := tiedFromMoments(ens, b.hLo, b.hHi)
		r, err := baselines.NewRelativeMahalanobis(means, tied, mean, cov)
		if err != nil {
			return nil, fmt.Errorf("baseline relative_mahalanobis: %w", err)
		}
		b.relative = r
	}
	if b.has("knn") {
		w := b.hHi - b.hLo
		b.knnRows = len(knnH) / w
		k, err := baselines.FitKNN(baselines.Matrix{Rows: b.knnRows, Cols: w, Data: toFloat64(knnH)}, cfg.KNNK)
		if err != nil {
			return nil, fmt.Errorf("baseline knn (--knn_k %d, --knn_train %d): %w", cfg.KNNK, cfg.KNNTrain, err)
		}
		b.knn = k
	}
	return b, nil
}

func toFloat64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// columnsOf returns the columns [lo, hi) of the n rows of x (d values
// each) as a float64 matrix.
func columnsOf(x []float32, n, d, lo, hi int) baselines.Matrix {
	w := hi - lo
	out := baselines.Matrix{Rows: n, Cols: w, Data: make([]float64, n*w)}
	for i := range n {
		for j := range w {
			out.Data[i*w+j] = float64(x[i*d+lo+j])
		}
	}
	return out
}

// scoreBatch appends the feature baselines' scores of the n rows of ens
// (F(x), row-major) to out, keyed by run name; energy and msp come after
// pass 2, from the log-likelihoods.
func (b *baselineFit) scoreBatch(ens []float32, n int, out map[string][]float64) {
	if b == nil || n == 0 {
		return
	}
	d := len(ens) / n
	if b.layers != nil {
		sum := make([]float64, n)
		lo := 0
		for i, w := range b.widths {
			s := b.layers[i].Score(columnsOf(ens, n, d, lo, lo+w))
			for j, v := range s {
				sum[j] += v
			}
			name := "mahalanobis-" + ensembleLayers[i]
			out[name] = append(out[name], s...)
			lo += w
		}
		out["mahalanobis"] = append(out["mahalanobis"], sum...)
	}
	if b.relative != nil || b.knn != nil {
		h := columnsOf(ens, n, d, b.hLo, b.hHi)
		if b.relative != nil {
			out["relative_mahalanobis"] = append(out["relative_mahalanobis"], b.relative.Score(h)...)
		}
		if b.knn != nil {
			out["knn"] = append(out["knn"], b.knn.Score(h)...)
		}
	}
}

// baselineRun is one baseline's run of the tables: its name and label.
type baselineRun struct{ name, label string }

// runs lists the baselines' runs in table order.
func (b *baselineFit) runs(cfg *Config) []baselineRun {
	var out []baselineRun
	if b.has("mahalanobis") {
		out = append(out, baselineRun{"mahalanobis", "baseline: tied Mahalanobis, summed over tap1, tap2, tap3, h, mu"})
		for _, l := range ensembleLayers {
			out = append(out, baselineRun{"mahalanobis-" + l, "baseline: tied Mahalanobis on " + l})
		}
	}
	if b.has("relative_mahalanobis") {
		out = append(out, baselineRun{"relative_mahalanobis", "baseline: relative Mahalanobis on h"})
	}
	if b.has("knn") {
		out = append(out, baselineRun{"knn", fmt.Sprintf("baseline: KNN on unit h, k %d, %d training rows", cfg.KNNK, b.knnRows)})
	}
	if b.has("energy") {
		out = append(out, baselineRun{"energy", "baseline: energy of l_c(x)"})
	}
	if b.has("msp") {
		out = append(out, baselineRun{"msp", "baseline: max softmax of l_c(x)"})
	}
	return out
}

// settings is what results.json records of the baselines.
func (b *baselineFit) settings(cfg *Config, trainImages int) map[string]any {
	s := map[string]any{
		"selected": b.sel,
		"features": "mahalanobis: each block of F(x) = [tap1, tap2, tap3, h, mu] and the sum of the blocks' scores; relative_mahalanobis and knn: h; energy and msp: the class log-likelihoods l_c(x) of the method's run",
		"fit":      "from pass 1 of the known training set (the Mahalanobis means and covariances from the same float64 moments as the method's Gaussians)",
		"pred":     "every baseline takes the method's argmax class, so known_accuracy is the method's and macro_f1 compares the rejection scores",
	}
	if b.has("knn") {
		s["knn"] = map[string]any{"k": cfg.KNNK, "train_rows": b.knnRows, "train_images": trainImages, "knn_train": cfg.KNNTrain,
			"subset": fmt.Sprintf("drawn uniformly without replacement with seed %d (all rows when knn_train is 0 or at least the training set)", cfg.Seed),
			"search": "exact: float32 SGEMM ranking, float64 re-measure of every candidate within its error bound"}
	}
	return s
}
