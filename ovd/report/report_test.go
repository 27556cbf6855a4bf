package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// synthRun makes n images of c classes, a third of them unknown, whose
// values separate known from unknown by sep (larger = easier).
func synthRun(name string, n, c int, sep float64, seed uint64) Run {
	r := rand.New(rand.NewPCG(seed, 1))
	run := Run{Name: name, NumClasses: c, Values: make([]float64, n), Pred: make([]int, n), Labels: make([]int, n)}
	for i := range n {
		y := r.IntN(c)
		if i%3 == 0 {
			y = c
		}
		run.Labels[i] = y
		run.Pred[i] = r.IntN(c)
		if y < c && r.Float64() < 0.9 {
			run.Pred[i] = y
		}
		v := -math.Abs(r.NormFloat64()) * 10
		if y == c {
			v -= sep * 10 * (1 + r.ExpFloat64())
		}
		run.Values[i] = v
	}
	return run
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if img.Bounds() != image.Rect(0, 0, plotW, plotH) {
		t.Fatalf("%s is %v, want %dx%d", path, img.Bounds(), plotW, plotH)
	}
	return img
}

func isWhite(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r == 0xffff && g == 0xffff && b == 0xffff
}

// inkNear reports whether a pixel within 1 of (x, y) is not background.
func inkNear(img image.Image, x, y float64) bool {
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			if !isWhite(img.At(int(math.Round(x))+dx, int(math.Round(y))+dy)) {
				return true
			}
		}
	}
	return false
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out") // Write creates it
	runs := []Run{
		synthRun("vmdls", 3000, 10, 2, 1), // more sweep points than MaxRows: thinned tables
		synthRun("vmdlsb", 600, 10, 0.5, 2),
		synthRun("latent", 50, 10, 0.2, 3),
	}
	meta := map[string]any{"seed": 7, "enc_type": "mnist-conv", "timings": map[string]float64{"fit_s": 1.5}, "method": "vmdls (full)"}
	recon := make([]float64, len(runs[0].Values))
	for i := range recon {
		recon[i] = float64(i) / 8
	}
	res, err := Write(dir, runs, meta, Column{Name: "recon_distance", Values: recon})
	if err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	keys := []string{"macro_f1", "auroc", "tnr_at_tpr95", "fpr95_ood_positive", "known_accuracy",
		"fpr_at_tpr95_id_positive", "f1_at_tpr95", "cauroc", "aupr_in", "aupr_out", "detection_error"}
	checkKeys := func(where string, m map[string]any, want metrics.Summary) {
		t.Helper()
		wm := want.Map()
		for _, k := range keys {
			v, ok := m[k].(float64)
			if !ok || v < 0 || v > 1 {
				t.Errorf("%s: %s = %v, want a number in [0, 1]", where, k, m[k])
			}
			if v != wm[k] {
				t.Errorf("%s: %s = %v, metrics.Compute gives %v", where, k, v, wm[k])
			}
		}
	}
	full := metrics.Compute(runs[0].Values, runs[0].Pred, runs[0].Labels, 10)
	checkKeys("top level", got, full)
	if full.AUROC < 0.9 {
		t.Fatalf("synthetic full run has AUROC %v; the plot checks below need a good detector", full.AUROC)
	}
	abl, _ := got["ablations"].(map[string]any)
	for _, r := range runs[1:] {
		m, _ := abl[r.Name].(map[string]any)
		checkKeys("ablations."+r.Name, m, metrics.Compute(r.Values, r.Pred, r.Labels, r.NumClasses))
	}
	if len(abl) != 2 {
		t.Errorf("ablations = %v, want vmdlsb and latent", abl)
	}
	if got["seed"] != 7.0 || got["enc_type"] != "mnist-conv" || got["method"] != "vmdls (full)" {
		t.Errorf("meta or method missing: seed %v enc_type %v method %v", got["seed"], got["enc_type"], got["method"])
	}
	if c, _ := got["conventions"].(map[string]any); c["fpr95_ood_positive"] == nil || c["tnr_at_tpr95"] == nil {
		t.Errorf("conventions = %v", got["conventions"])
	}
	if res["macro_f1"] != full.MacroF1 {
		t.Errorf("returned macro_f1 %v, want %v", res["macro_f1"], full.MacroF1)
	}

	// Every file listed exists; no temporary file is left behind.
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
	want := []string{"results.json", "scores.csv", "scores-vmdlsb.csv", "scores-latent.csv", "roc-all.png", "roc-all.svg"}
	for _, suffix := range []string{"", "-vmdlsb", "-latent"} {
		want = append(want, "thresholds"+suffix+".csv", "roc"+suffix+".csv")
		for _, fig := range []string{"roc", "f1", "hist"} {
			want = append(want, fig+suffix+".png", fig+suffix+".svg")
		}
	}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s missing; have %v", f, names)
		}
	}
	if len(names) != len(want) {
		t.Errorf("wrote %d files, want %d: %v", len(names), len(want), names)
	}

	// Per-image scores: every image once, with the extra column on the
	// first run's file only.
	for i, r := range runs {
		name, header := "scores-"+r.Name+".csv", "index,label,value,pred"
		if i == 0 {
			name, header = "scores.csv", header+",recon_distance"
		}
		rows := readCSV(t, filepath.Join(dir, name))
		if strings.Join(rows[0], ",") != header || len(rows) != len(r.Values)+1 {
			t.Fatalf("%s: header %v and %d rows; want %s and %d", name, rows[0], len(rows), header, len(r.Values)+1)
		}
		k := len(r.Values) - 1
		want := []string{strconv.Itoa(k), strconv.Itoa(r.Labels[k]), strconv.FormatFloat(r.Values[k], 'g', -1, 64), strconv.Itoa(r.Pred[k])}
		if i == 0 {
			want = append(want, strconv.FormatFloat(recon[k], 'g', -1, 64))
		}
		if got := rows[len(rows)-1]; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: last row %v, want %v", name, got, want)
		}
	}
	if _, err := Write(t.TempDir(), runs, nil, Column{Name: "short", Values: recon[1:]}); err == nil || !strings.Contains(err.Error(), "short") {
		t.Errorf("a column of the wrong length: error %v, want one naming it", err)
	}

	// Tables: the small run keeps every sweep point, the large one is thinned
	// but keeps its ends and its best threshold.
	small := metrics.Sweep(runs[2].Values, runs[2].Pred, runs[2].Labels, 10)
	rows := readCSV(t, filepath.Join(dir, "thresholds-latent.csv"))
	if strings.Join(rows[0], ",") != "threshold,macro_f1,tpr,fpr,ccr,known_accepted,unknown_accepted" {
		t.Errorf("thresholds header %v", rows[0])
	}
	if len(rows)-1 != len(small) {
		t.Errorf("thresholds-latent.csv has %d rows, want %d", len(rows)-1, len(small))
	}
	if rows[1][0] != "+Inf" {
		t.Errorf("first threshold %q, want +Inf", rows[1][0])
	}
	rows = readCSV(t, filepath.Join(dir, "thresholds.csv"))
	if n := len(rows) - 1; n < MaxRows || n > MaxRows+4 {
		t.Errorf("thresholds.csv has %d rows, want about %d", n, MaxRows)
	}
	foundBest := false
	for _, r := range rows[1:] {
		th, _ := strconv.ParseFloat(r[0], 64)
		f1, _ := strconv.ParseFloat(r[1], 64)
		if th == full.BestThreshold && f1 == full.MacroF1 {
			foundBest = true
		}
	}
	if !foundBest {
		t.Errorf("thresholds.csv lost the best row (%v at %v)", full.MacroF1, full.BestThreshold)
	}
	roc := readCSV(t, filepath.Join(dir, "roc.csv"))
	if strings.Join(roc[0], ",") != "fpr,tpr,threshold" || len(roc) != len(rows) {
		t.Errorf("roc.csv header %v, %d rows; want fpr,tpr,threshold and %d rows", roc[0], len(roc), len(rows))
	}
	if last := roc[len(roc)-1]; last[0] != "1" || last[1] != "1" {
		t.Errorf("roc.csv ends at %v, want (1, 1)", last)
	}

	// ROC plot: ink along the curve, background well below the diagonal.
	img := readPNG(t, filepath.Join(dir, "roc.png"))
	f := frame{0, 1, 0, 1}
	pts := metrics.Sweep(runs[0].Values, runs[0].Pred, runs[0].Labels, 10)
	for i := 0; i < len(pts); i += len(pts) / 50 {
		if !inkNear(img, f.px(pts[i].FPR), f.py(pts[i].TPR)) {
			t.Fatalf("roc.png: no ink at ROC point %d (%v, %v)", i, pts[i].FPR, pts[i].TPR)
		}
	}
	for _, p := range pts {
		if p.FPR > 0.5 {
			if r, g, b, _ := img.At(int(math.Round(f.px(p.FPR))), int(math.Round(f.py(p.TPR)))).RGBA(); !(b > r && b > g) {
				t.Errorf("roc.png: the curve at (%v, %v) is not blue (%x %x %x)", p.FPR, p.TPR, r, g, b)
			}
			break
		}
	}
	if !isWhite(img.At(int(f.px(0.9)), int(f.py(0.1)))) {
		t.Error("roc.png: ink at (0.9, 0.1), where neither the curve nor the diagonal passes")
	}

	// F1 plot: ink at the best point.
	img = readPNG(t, filepath.Join(dir, "f1.png"))
	lo, hi := valueRange(runs[0].Values, runs[0].Labels, 10)
	ff := frame{lo, hi, 0, 1}
	if !inkNear(img, ff.px(full.BestThreshold), ff.py(full.MacroF1)) {
		t.Errorf("f1.png: no ink at the best point")
	}

	// Histogram: both colours present.
	img = readPNG(t, filepath.Join(dir, "hist.png"))
	var blueish, orangeish int
	bounds := img.Bounds()
	for y := marginT; y < plotH-marginB; y++ {
		for x := marginL + 1; x < bounds.Max.X-marginR; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if b > r+0x2000 && b > g {
				blueish++
			}
			if r > b+0x4000 && r > g {
				orangeish++
			}
		}
	}
	if blueish < 500 || orangeish < 500 {
		t.Errorf("hist.png: %d blue and %d orange pixels; want both kinds drawn", blueish, orangeish)
	}
}

func TestWriteErrors(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := synthRun("vmdls", 30, 3, 1, 4)
	bad := filepath.Join(file, "sub")
	if _, err := Write(bad, []Run{good}, nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("writing under a file: err %v, want one naming %s", err, bad)
	}
	if err := WriteAtomic(filepath.Join(file, "x.csv"), []byte("a")); err == nil || !strings.Contains(err.Error(), filepath.Join(file, "x.csv")) {
		t.Errorf("WriteAtomic under a file: err %v, want one naming the path", err)
	}
	dup := good
	broken := good
	broken.Name = "latent"
	broken.Labels = broken.Labels[:10]
	for _, c := range []struct {
		name string
		runs []Run
		meta map[string]any
		want string
	}{
		{"no runs", nil, nil, "no runs"},
		{"bad name", []Run{{Name: "a/b"}}, nil, "a/b"},
		{"duplicate", []Run{good, dup}, nil, "two runs"},
		{"invalid run", []Run{good, broken}, nil, "latent"},
		{"meta collision", []Run{good}, map[string]any{"auroc": 1}, "auroc"},
		{"meta reserved", []Run{good}, map[string]any{"ablations": 1}, "ablations"},
	} {
		out := filepath.Join(tmp, strings.ReplaceAll(c.name, " ", "_"))
		if _, err := Write(out, c.runs, c.meta); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one mentioning %q", c.name, err, c.want)
		}
		if _, err := os.Stat(filepath.Join(out, "results.json")); err == nil {
			t.Errorf("%s: results.json written despite the error", c.name)
		}
	}
}

// TestUndefinedMetrics: without unknown images the ROC metrics are null in
// results.json and the files are still written.
func TestUndefinedMetrics(t *testing.T) {
	dir := t.TempDir()
	r := Run{Name: "vmdls", NumClasses: 2, Values: []float64{-1, -2, -3}, Pred: []int{0, 1, 1}, Labels: []int{0, 1, 0}}
	res, err := Write(dir, []Run{r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res["auroc"] != nil || res["known_accuracy"] != 2.0/3 {
		t.Errorf("auroc %v (want nil), known_accuracy %v (want 2/3)", res["auroc"], res["known_accuracy"])
	}
	readPNG(t, filepath.Join(dir, "roc.png"))
	readPNG(t, filepath.Join(dir, "hist.png"))

	// One value for all, and -Inf values: the plots still get a usable range.
	same := Run{Name: "same", NumClasses: 2, Values: []float64{-4, -4, -4}, Pred: []int{0, 1, 1}, Labels: []int{0, 2, 1}}
	inf := Run{Name: "inf", NumClasses: 2, Values: []float64{-1, math.Inf(-1), -2}, Pred: []int{0, 1, 1}, Labels: []int{0, 2, 1}}
	for _, r := range []Run{same, inf} {
		lo, hi := valueRange(r.Values, r.Labels, r.NumClasses)
		if !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			t.Errorf("%s: value range [%v, %v]", r.Name, lo, hi)
		}
	}
	res, err = Write(dir, []Run{same, inf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res["auroc"] != 0.5 {
		t.Errorf("all values equal: auroc %v, want 0.5", res["auroc"])
	}
	readPNG(t, filepath.Join(dir, "hist-inf.png"))
}

func TestKeptRows(t *testing.T) {
	rows := keptRows(10000, 1234, 9998)
	if len(rows) < MaxRows || len(rows) > MaxRows+2 || rows[0] != 0 || rows[len(rows)-1] != 9999 {
		t.Fatalf("keptRows(10000) kept %d rows from %d to %d", len(rows), rows[0], rows[len(rows)-1])
	}
	has := map[int]bool{}
	for i, r := range rows {
		if i > 0 && r <= rows[i-1] {
			t.Fatalf("rows not increasing at %d", i)
		}
		has[r] = true
	}
	if !has[1234] || !has[9998] {
		t.Error("must-keep rows dropped")
	}
	if got := keptRows(5); len(got) != 5 {
		t.Errorf("keptRows(5) = %v", got)
	}
}

func TestGlyphs(t *testing.T) {
	for r, g := range glyphs {
		for _, row := range g {
			if len(row) != 5 || strings.Trim(row, "#.") != "" {
				t.Errorf("glyph %q has row %q; want 5 of '#' or '.'", r, row)
			}
		}
	}
	for _, r := range "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-+=()<>" {
		if _, ok := glyphs[r]; !ok {
			t.Errorf("no glyph for %q", r)
		}
	}
}

// BenchmarkWrite: the three runs of an evaluation at the MNIST size.
func BenchmarkWrite(b *testing.B) {
	runs := []Run{synthRun("vmdls", 20000, 10, 2, 1), synthRun("vmdlsb", 20000, 10, 1, 2), synthRun("latent", 20000, 10, 0.5, 3)}
	dir := b.TempDir()
	for b.Loop() {
		if _, err := Write(dir, runs, nil); err != nil {
			b.Fatal(err)
		}
	}
}
