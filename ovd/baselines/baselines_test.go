package baselines

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/vmdls-go/vmdls/parallel"
)

type goldenCase struct {
	Name      string               `json:"name"`
	Classes   int                  `json:"classes"`
	Widths    []int                `json:"widths"`
	Train     []float64            `json:"train"`
	TrainRows int                  `json:"train_rows"`
	Labels    []int                `json:"labels"`
	X         []float64            `json:"x"`
	XRows     int                  `json:"x_rows"`
	Cols      int                  `json:"cols"`
	Maha      []float64            `json:"mahalanobis"`
	Layers    [][]float64          `json:"layers"`
	LayersSum []float64            `json:"layers_sum"`
	Relative  []float64            `json:"relative"`
	KNN       map[string][]float64 `json:"knn"`
	LogLik    []float64            `json:"loglik"`
	Energy    []float64            `json:"energy"`
	MSP       []float64            `json:"msp"`
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "baselines_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 3 {
		t.Fatalf("%d golden cases", len(doc.Cases))
	}
	return doc.Cases
}

// near compares with a tolerance relative to the values' scale: the
// distances are sums of hundreds of products, computed in another order
// than numpy's.
func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, scikit-learn/numpy %v", what, i, got[i], want[i])
		}
	}
}

// TestGoldenBaselines holds every detector to the generator's scikit-learn
// and numpy values: tied Mahalanobis, per layer and summed, relative
// Mahalanobis, KNN for several k, energy and max-softmax; one case has a
// repeated column, so its covariances are singular and only the
// pseudo-inverse scores it.
func TestGoldenBaselines(t *testing.T) {
	for _, g := range loadGolden(t) {
		t.Run(g.Name, func(t *testing.T) {
			train := Matrix{Rows: g.TrainRows, Cols: g.Cols, Data: g.Train}
			x := Matrix{Rows: g.XRows, Cols: g.Cols, Data: g.X}
			m, err := FitMahalanobis(train, g.Labels, g.Classes)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "mahalanobis", m.Score(x), g.Maha, 1e-7)
			per, sum, err := LayerScores(train, g.Labels, g.Classes, g.Widths, x)
			if err != nil {
				t.Fatal(err)
			}
			for i := range per {
				near(t, "layer "+strconv.Itoa(i), per[i], g.Layers[i], 1e-7)
			}
			near(t, "layer sum", sum, g.LayersSum, 1e-7)
			r, err := FitRelativeMahalanobis(train, g.Labels, g.Classes)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "relative", r.Score(x), g.Relative, 1e-7)
			for ks, want := range g.KNN {
				k, _ := strconv.Atoi(ks)
				n, err := FitKNN(train, k)
				if err != nil {
					t.Fatal(err)
				}
				near(t, "knn k="+ks, n.Score(x), want, 1e-12)
			}
			ll := Matrix{Rows: g.XRows, Cols: g.Classes, Data: g.LogLik}
			near(t, "energy", Energy(ll), g.Energy, 1e-12)
			near(t, "msp", MaxSoftmax(ll), g.MSP, 1e-12)
		})
	}
}

// TestKNNThreadsAndBlocks checks that the KNN scores do not depend on the
// thread count or on how many query rows are scored at once (the SGEMM's
// blocks), and equal a float64 brute force.
func TestKNNThreadsAndBlocks(t *testing.T) {
	g := loadGolden(t)[2]
	train := Matrix{Rows: g.TrainRows, Cols: g.Cols, Data: g.Train}
	n, err := FitKNN(train, 5)
	if err != nil {
		t.Fatal(err)
	}
	x := Matrix{Rows: g.XRows, Cols: g.Cols, Data: g.X}
	prev := parallel.SetThreads(1)
	one := n.Score(x)
	parallel.SetThreads(3)
	three := n.Score(x)
	parallel.SetThreads(prev)
	for i := range one {
		single := n.Score(Matrix{Rows: 1, Cols: x.Cols, Data: x.Row(i)})[0]
		if one[i] != three[i] || one[i] != single {
			t.Fatalf("row %d: %v on 1 thread, %v on 3, %v alone", i, one[i], three[i], single)
		}
	}
}

// TestFitErrors checks the refusals: a class with no rows, a label out of
// range, a non-finite feature, a k out of range, widths that do not add up.
func TestFitErrors(t *testing.T) {
	x := Matrix{Rows: 4, Cols: 2, Data: []float64{1, 2, 3, 4, 5, 6, 7, 8}}
	if _, err := FitMahalanobis(x, []int{0, 0, 0, 0}, 2); err == nil {
		t.Error("class 1 without rows accepted")
	}
	if _, err := FitMahalanobis(x, []int{0, 1, 2, 0}, 2); err == nil {
		t.Error("label 2 of 2 classes accepted")
	}
	bad := Matrix{Rows: 2, Cols: 1, Data: []float64{1, math.NaN()}}
	if _, err := FitMahalanobis(bad, []int{0, 1}, 2); err == nil {
		t.Error("NaN feature accepted")
	}
	if _, err := FitKNN(x, 5); err == nil {
		t.Error("k 5 of 4 rows accepted")
	}
	if _, _, err := LayerScores(x, []int{0, 1, 0, 1}, 2, []int{1}, x); err == nil {
		t.Error("widths 1 for 2 columns accepted")
	}
}

// TestKthSmallest checks the heap selection against a sort for every k,
// ties included.
func TestKthSmallest(t *testing.T) {
	v := []float64{5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 0.5}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	for k := 1; k <= len(v); k++ {
		if got := kthSmallest(slices.Clone(v), k); got != sorted[k-1] {
			t.Errorf("k %d: %v, sorted says %v", k, got, sorted[k-1])
		}
	}
}

// TestKNNCommonDirection checks the exact search on features that share a
// large common direction, as trained networks' are (unit MNIST h vectors
// lie 1e-4 apart): the scores equal a float64 brute force over every
// training row, bit for bit, since the candidates are measured by the same
// sum.
func TestKNNCommonDirection(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	mk := func(rows, cols int) Matrix {
		m := Matrix{Rows: rows, Cols: cols, Data: make([]float64, rows*cols)}
		for i := range rows {
			for j := range cols {
				m.Data[i*cols+j] = 50 + float64(j%7) + 0.01*rng.NormFloat64()
			}
		}
		return m
	}
	train, x := mk(700, 64), mk(90, 64)
	for _, k := range []int{1, 7, 50} {
		n, err := FitKNN(train, k)
		if err != nil {
			t.Fatal(err)
		}
		got := n.Score(x)
		tu, xu := unitRows(train), unitRows(x)
		for i := range x.Rows {
			d := make([]float64, train.Rows)
			for j := range train.Rows {
				for c, v := range tu.Row(j) {
					diff := xu.Row(i)[c] - v
					d[j] += diff * diff
				}
			}
			slices.Sort(d)
			if want := -math.Sqrt(d[k-1]); got[i] != want {
				t.Fatalf("k %d row %d: %v, brute force %v", k, i, got[i], want)
			}
		}
	}
}
