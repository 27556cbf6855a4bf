package ovd

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/vmdls-go/vmdls/data"
)

// TestNPYWriterIsNumPys checks that the .npy writer's bytes are those of
// numpy.save (testdata/gen_npy.py) for each dtype --features_out writes,
// and that the decoders read them back.
func TestNPYWriterIsNumPys(t *testing.T) {
	for _, c := range []struct {
		file string
		got  []byte
	}{
		{"float32_2x3.npy", encodeFloat32Matrix([]float32{0, 0.25, 0.5, 0.75, 1, 1.25}, 2, 3)},
		{"int64_3.npy", encodeInt64s([]int{-1, 0, 7})},
		{"float64_2.npy", encodeFloat64s([]float64{0.5, 1e-300})},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", "npy", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.got, want) {
			t.Errorf("%s: wrote\n%q\nnumpy.save wrote\n%q", c.file, c.got, want)
		}
	}
	a, err := data.ReadNPYFile(filepath.Join("testdata", "npy", "float32_2x3.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if v, r, c, err := decodeFloat32Matrix(a, "f"); err != nil || r != 2 || c != 3 || v[5] != 1.25 {
		t.Errorf("float32: %v %d×%d %v", v, r, c, err)
	}
	if _, err := decodeInt64s(a, "f"); err == nil {
		t.Error("a float32 matrix read as labels")
	}
}

// FuzzFeaturesNPY feeds arbitrary bytes to the .npy parser and the
// feature decoders: no panic, and whatever decodes encodes back to an
// array that decodes to the same values.
func FuzzFeaturesNPY(f *testing.F) {
	f.Add(encodeFloat32Matrix([]float32{1, -2, 3.5, 0}, 2, 2))
	f.Add(encodeInt64s([]int{0, 9, 10}))
	f.Add(encodeFloat64s([]float64{0, 2.5}))
	f.Add(encodeFloat32Matrix(nil, 0, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		old := data.MaxNPYBytes
		data.MaxNPYBytes = 1 << 20
		defer func() { data.MaxNPYBytes = old }()
		a, err := data.ReadNPY(bytes.NewReader(b), "fuzz.npy")
		if err != nil {
			return
		}
		if v, r, c, err := decodeFloat32Matrix(a, "fuzz.npy"); err == nil {
			b2, _ := data.ReadNPY(bytes.NewReader(encodeFloat32Matrix(v, r, c)), "again.npy")
			if w, r2, c2, err := decodeFloat32Matrix(b2, "again.npy"); err != nil || r2 != r || c2 != c || !slices.Equal(v, w) {
				t.Fatalf("float32 %d×%d does not round-trip: %v", r, c, err)
			}
		}
		if v, err := decodeInt64s(a, "fuzz.npy"); err == nil {
			b2, _ := data.ReadNPY(bytes.NewReader(encodeInt64s(v)), "again.npy")
			if w, err := decodeInt64s(b2, "again.npy"); err != nil || !slices.Equal(v, w) {
				t.Fatalf("int64 does not round-trip: %v", err)
			}
		}
		if v, err := decodeFloat64s(a, "fuzz.npy"); err == nil {
			b2, _ := data.ReadNPY(bytes.NewReader(encodeFloat64s(v)), "again.npy")
			if w, err := decodeFloat64s(b2, "again.npy"); err != nil || !slices.Equal(v, w) {
				t.Fatalf("float64 does not round-trip: %v", err)
			}
		}
	})
}

// featuresGolden is testdata/features_golden.json.
type featuresGolden struct {
	KNNK     int `json:"knn_k"`
	KNNTrain int `json:"knn_train_rows"`
	Sets     map[string]struct {
		JitterK   int `json:"jitter_k"`
		Detectors map[string]struct {
			Values  []float64           `json:"values"`
			Metrics map[string]*float64 `json:"metrics"`
		} `json:"detectors"`
	} `json:"sets"`
}

// readScores returns the value column of a scores CSV.
func readScores(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, r := range rows[1:] {
		v, err := strconv.ParseFloat(r[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestBaselinesMatchGenerator scores testdata/features_small (written by
// vmdls test --features_out from a short MNIST run against omniglot,
// mnist_noise and noise) with --features_in and holds every baseline's
// scores and metrics, per set, to testdata/gen_features_baselines.py's
// scikit-learn and numpy values on the same arrays.
//
// The scores agree to 1e-6 relative: the Mahalanobis covariances here come
// from pass 1's one-pass float64 sums (E[xxᵀ] - m mᵀ), the generator's
// from centred rows, and h's 500 columns are fitted on 560 rows, so their
// conditioning magnifies the sums' rounding (1e-7 measured); the method's
// own Gaussians, behind energy and msp, are fitted the same way. KNN is an
// exact search, held to 1e-12. The metrics, which depend only on the
// order of the scores, agree to 1e-12.
func TestBaselinesMatchGenerator(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "features_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g featuresGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "features_small")
	meta, err := readFeaturesMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The generator reads the subset's rows from the folder; Test draws
	// them again from the seed, which must give the same rows.
	a, err := data.ReadNPYFile(filepath.Join(dir, "knn_train_indices.npy"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := decodeInt64s(a, "knn_train_indices.npy")
	if err != nil {
		t.Fatal(err)
	}
	if got := knnSubset(meta.TrainImages, g.KNNTrain, meta.Seed); !slices.Equal(got, idx) {
		t.Fatalf("the KNN subset of seed %d is not the folder's", meta.Seed)
	}
	cfg := DefaultTestConfig()
	cfg.FeaturesIn, cfg.OutputDir, cfg.Threads = dir, t.TempDir(), 2
	cfg.KNNK, cfg.KNNTrain, cfg.Seed = g.KNNK, g.KNNTrain, meta.Seed
	res, err := Test(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Sets) != 3 {
		t.Fatalf("%d golden sets", len(g.Sets))
	}
	per := res.Results["per_set"].(map[string]any)
	for name, set := range g.Sets {
		if res.Jitter != set.JitterK {
			t.Errorf("jitter k %d, the generator's %d", res.Jitter, set.JitterK)
		}
		bl := per[name].(map[string]any)["baselines"].(map[string]any)
		if len(set.Detectors) != 10 || len(bl) != 10 {
			t.Fatalf("%s: %d golden detectors, %d scored; want 10", name, len(set.Detectors), len(bl))
		}
		for det, want := range set.Detectors {
			tol := 1e-6
			if det == "knn" {
				tol = 1e-12
			}
			got := readScores(t, filepath.Join(cfg.OutputDir, name, "scores-"+det+".csv"))
			near(t, name+" "+det, got, want.Values, tol)
			m := bl[det].(map[string]any)
			for k, w := range want.Metrics {
				v, ok := m[k].(float64)
				switch {
				case w == nil && m[k] != nil, w != nil && !ok:
					t.Errorf("%s %s %s = %v, generator %v", name, det, k, m[k], w)
				case w != nil && math.Abs(v-*w) > 1e-12:
					t.Errorf("%s %s %s = %v, generator %v", name, det, k, v, *w)
				}
			}
		}
	}
}

// near compares with a tolerance relative to max(1, |want|).
func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*math.Max(1, math.Abs(want[i]))) {
			t.Fatalf("%s[%d] = %v, generator %v", what, i, got[i], want[i])
		}
	}
}

// FuzzFeaturesMeta feeds arbitrary features.json files to their reader:
// no panic, and an accepted one names only distinct dataset names and
// usable widths, since they name files and size arrays.
func FuzzFeaturesMeta(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "features_small", "features.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"vmdls-features","version":1,"unknown_sets":["../x"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "features.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := readFeaturesMeta(dir)
		if err != nil {
			return
		}
		for i, n := range m.UnknownSets {
			if !slices.Contains(data.Names, n) || slices.Contains(m.UnknownSets[:i], n) {
				t.Fatalf("accepted set name %q", n)
			}
		}
		for _, w := range m.Widths {
			if w < 1 {
				t.Fatalf("accepted width %d", w)
			}
		}
	})
}
