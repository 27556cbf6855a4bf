package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// setRuns is a set's method, ablation and baseline runs.
func setRuns(name string, seed uint64) SetRuns {
	b := synthRun("knn", 90, 3, 0.5, seed+1)
	b.Baseline, b.Label = true, "baseline: KNN"
	return SetRuns{Name: name, Runs: []Run{synthRun("vmdls", 90, 3, 1, seed), synthRun("latent", 90, 3, 0.2, seed+2), b},
		Meta: map[string]any{"images": map[string]int{"unknown": 30}}}
}

// TestWriteSets checks the layout of several sets (a sub-folder each with
// Write's files, the mean at the top), the mean of the metrics, the rows
// of results.csv and results.md, and that one set keeps Write's layout.
func TestWriteSets(t *testing.T) {
	dir := t.TempDir()
	sets := []SetRuns{setRuns("noise", 1), setRuns("omniglot", 5)}
	res, err := WriteSets(dir, sets, map[string]any{"seed": 3})
	if err != nil {
		t.Fatal(err)
	}
	var aurocs []float64
	for _, s := range sets {
		want := metrics.Compute(s.Runs[0].Values, s.Runs[0].Pred, s.Runs[0].Labels, 3).AUROC
		sub := readJSON(t, filepath.Join(dir, s.Name, "results.json"))
		if sub["auroc"] != want || sub["seed"] != 3.0 {
			t.Errorf("%s/results.json: auroc %v seed %v, want %v and 3", s.Name, sub["auroc"], sub["seed"], want)
		}
		bl := sub["baselines"].(map[string]any)["knn"].(map[string]any)
		if bl["auroc"] != metrics.Compute(s.Runs[2].Values, s.Runs[2].Pred, s.Runs[2].Labels, 3).AUROC {
			t.Errorf("%s: baseline knn %v", s.Name, bl["auroc"])
		}
		if _, err := os.Stat(filepath.Join(dir, s.Name, "roc-knn.csv")); err != nil {
			t.Error(err)
		}
		aurocs = append(aurocs, want)
	}
	if want := (aurocs[0] + aurocs[1]) / 2; res["auroc"] != want {
		t.Errorf("mean auroc %v, want %v", res["auroc"], want)
	}
	if _, ok := res["baselines"].(map[string]any)["knn"]; !ok {
		t.Errorf("no mean of the baseline: %v", res["baselines"])
	}
	rows := readCSV(t, filepath.Join(dir, "results.csv"))
	if len(rows) != 1+3*2+3 || rows[0][0] != "detector" || rows[len(rows)-1][2] != "mean" || rows[3][1] != "baseline" {
		t.Errorf("results.csv rows %v", rows)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(md), "| knn (baseline: KNN) |"); n != 3 {
		t.Errorf("results.md has %d knn rows, want 3:\n%s", n, md)
	}

	one := t.TempDir()
	res, err = WriteSets(one, sets[:1], nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(one, "roc.csv")); err != nil || res["auroc"] != aurocs[0] || res["images"] == nil {
		t.Errorf("one set: roc.csv %v, auroc %v, images %v", err, res["auroc"], res["images"])
	}
}

// TestWriteSetsRefuses checks the refusals: no set, a repeated or bad set
// name, sets whose runs differ.
func TestWriteSetsRefuses(t *testing.T) {
	a, b := setRuns("noise", 1), setRuns("noise", 2)
	c := setRuns("other", 3)
	c.Runs = c.Runs[:2]
	bad := setRuns("../up", 4)
	for _, tc := range []struct {
		sets []SetRuns
		want string
	}{
		{nil, "no unknown sets"},
		{[]SetRuns{a, b}, `unknown set name "noise"`},
		{[]SetRuns{a, c}, "unknown set other has 2 runs"},
		{[]SetRuns{bad}, `unknown set name "../up"`},
	} {
		if _, err := WriteSets(t.TempDir(), tc.sets, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
}

func readJSON(t *testing.T, path string) map[string]any {
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
