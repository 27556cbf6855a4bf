package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// Run is one scoring of the evaluation set (METHOD.md section 4, pass 2).
type Run struct {
	// Name: "vmdls" (the full method), "vmdlsb" (no reconstruction weight),
	// "latent" (mu only), ...; letters, digits, '_' and '-' only, since it
	// names files.
	Name string
	// Values, Pred, Labels and NumClasses are the inputs of metrics.Compute:
	// value(x) (higher = more in-distribution), argmax class 0..C-1, label
	// 0..C-1 for known and C for unknown images, and C.
	Values     []float64
	Pred       []int
	Labels     []int
	NumClasses int
	// Baseline puts the run's summary under "baselines" in results.json
	// instead of "ablations": a detector compared with the method, not a
	// part of it taken away.
	Baseline bool
	// Label says in words what the run is, for the Markdown table
	// (results.md); empty, the table shows the name alone.
	Label string
}

// Column is a per-image quantity written beside the scores in scores.csv,
// such as the reconstruction distance behind the method's weight.
type Column struct {
	Name   string // letters, digits, '_' or '-'
	Values []float64
}

// MaxRows is the most sampled rows thresholds.csv and roc.csv keep.
const MaxRows = 2000

// Conventions is written under "conventions" in results.json.
var Conventions = map[string]string{
	"decision":                 "unknown if value < t, else the argmax class; value higher = more in-distribution",
	"macro_f1":                 "best over every distinct threshold of scikit-learn's macro F1 over the C+1 labels (unknown = C), labels absent from truth and prediction not averaged",
	"auroc":                    "known (in-distribution) positive, score = value",
	"tnr_at_tpr95":             "known positive; 1 - FPR at the largest threshold with TPR >= 0.95 (the paper's convention)",
	"fpr_at_tpr95_id_positive": "known positive; fraction of unknown images accepted at the largest threshold with TPR >= 0.95",
	"f1_at_tpr95":              "macro_f1's definition at that same threshold",
	"fpr95_ood_positive":       "unknown (OOD) positive, score = -value; fraction of known images flagged when 95% of unknown images are flagged (OpenOOD / pytorch-ood convention)",
	"known_accuracy":           "argmax accuracy over the known images, no rejection",
	"cauroc":                   "the reference's: area under FPR (known positive) against the fraction of the correctly classified known images that are accepted",
	"oscr":                     "area under FPR (known positive) against the fraction of all known images that are accepted and correctly classified (open-set classification rate)",
	"aupr_in":                  "average precision (scikit-learn), known positive, score = value",
	"aupr_out":                 "average precision (scikit-learn), unknown positive, score = -value",
	"aupr_in_trapezoid":        "trapezoid area under precision-recall (pytorch-ood, OpenOOD: auc(recall, precision)), known positive, score = value",
	"aupr_out_trapezoid":       "trapezoid area under precision-recall (pytorch-ood, OpenOOD), unknown positive, score = -value",
	"detection_error":          "min over thresholds of 0.5 * (1 - TPR) + 0.5 * FPR",
}

var runName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Write computes the metrics of every run and writes the files described in
// the package doc into dir (created if missing). runs[0] is the full method.
// It returns what results.json holds. meta keys must not collide with the
// metric keys or "ablations", "conventions", "files"; a "method" in meta
// replaces the default, runs[0].Name. columns go into the first run's
// scores.csv, one value per image of that run. Errors name the file, run or column at fault.
func Write(dir string, runs []Run, meta map[string]any, columns ...Column) (map[string]any, error) {
	if err := checkRuns(runs, columns); err != nil {
		return nil, err
	}
	if err := checkMeta(meta); err != nil {
		return nil, err
	}
	results, err := writeRuns(dir, runs, columns)
	if err != nil {
		return nil, err
	}
	results["files"] = append(results["files"].([]string), "results.json")
	for k, v := range meta {
		results[k] = v
	}
	if err := writeJSON(filepath.Join(dir, "results.json"), results); err != nil {
		return nil, err
	}
	return results, nil
}

// checkRuns checks the names and inputs of runs and the extra columns.
func checkRuns(runs []Run, columns []Column) error {
	if len(runs) == 0 {
		return errors.New("report: no runs to write")
	}
	seen := map[string]bool{}
	for i, r := range runs {
		if !runName.MatchString(r.Name) {
			return fmt.Errorf("report: run %d has name %q; want letters, digits, '_' or '-'", i, r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("report: two runs named %q", r.Name)
		}
		seen[r.Name] = true
		if err := metrics.Validate(r.Values, r.Pred, r.Labels, r.NumClasses); err != nil {
			return fmt.Errorf("report: run %q: %w", r.Name, err)
		}
	}
	for _, c := range columns {
		if !runName.MatchString(c.Name) {
			return fmt.Errorf("report: column name %q; want letters, digits, '_' or '-'", c.Name)
		}
		if len(c.Values) != len(runs[0].Values) {
			return fmt.Errorf("report: column %q has %d values for %d images", c.Name, len(c.Values), len(runs[0].Values))
		}
	}
	return nil
}

// reservedKeys are results.json's own keys, which meta must not reuse.
func reservedKeys() map[string]any {
	reserved := metrics.Summary{}.Map()
	for _, k := range []string{"ablations", "baselines", "conventions", "files", "per_set", "mean_over_sets", "unknown_sets"} {
		reserved[k] = nil
	}
	return reserved
}

func checkMeta(meta map[string]any) error {
	reserved := reservedKeys()
	for k := range meta {
		if _, taken := reserved[k]; taken {
			return fmt.Errorf("report: meta key %q collides with a key of results.json", k)
		}
	}
	return nil
}

// writeRuns writes every run's tables and plots into dir and returns
// results.json's content without the meta: the first run's summary at the
// top, the others under "ablations" or "baselines", the conventions and
// the files written.
func writeRuns(dir string, runs []Run, columns []Column) (map[string]any, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: creating %s: %w", dir, err)
	}
	results := map[string]any{}
	ablations := map[string]any{}
	baselines := map[string]any{}
	var files []string
	var rocs []rocRun // every run's curve so far, for roc-all
	for i, r := range runs {
		pts := metrics.Sweep(r.Values, r.Pred, r.Labels, r.NumClasses)
		s := metrics.FromSweep(pts, r.Pred, r.Labels, r.NumClasses)
		suffix := ""
		switch {
		case i == 0:
			for k, v := range s.Map() {
				results[k] = v
			}
		case r.Baseline:
			baselines[r.Name] = s.Map()
			suffix = "-" + r.Name
		default:
			ablations[r.Name] = s.Map()
			suffix = "-" + r.Name
		}
		out := []namedFile{
			{"thresholds" + suffix + ".csv", func() ([]byte, error) { return thresholdsCSV(pts, s), nil }},
			{"roc" + suffix + ".csv", func() ([]byte, error) { return rocCSV(pts, s), nil }},
			{"scores" + suffix + ".csv", func() ([]byte, error) {
				if i == 0 {
					return scoresCSV(r, columns), nil
				}
				return scoresCSV(r, nil), nil
			}},
		}
		figures := []struct {
			name string
			draw func(painter)
		}{
			{"roc" + suffix, func(p painter) { drawROC(p, r.Name, pts, s) }},
			{"f1" + suffix, func(p painter) { drawF1(p, r, pts, s) }},
			{"hist" + suffix, func(p painter) { drawHist(p, r, s) }},
		}
		if i == len(runs)-1 && len(runs) > 1 {
			figures = append(figures, struct {
				name string
				draw func(painter)
			}{"roc-all", func(p painter) { drawROCAll(p, rocs) }})
		}
		rocs = append(rocs, rocRun{r.Name, pts, s})
		for _, fig := range figures {
			out = append(out, figureFiles(fig.name, fig.draw)...)
		}
		for _, o := range out {
			b, err := o.data()
			if err != nil {
				return nil, fmt.Errorf("report: %s: %w", filepath.Join(dir, o.name), err)
			}
			if err := WriteAtomic(filepath.Join(dir, o.name), b); err != nil {
				return nil, err
			}
			files = append(files, o.name)
		}
	}
	results["method"] = runs[0].Name // meta may say it in its own words
	results["ablations"] = ablations
	if len(baselines) > 0 {
		results["baselines"] = baselines
	}
	results["conventions"] = Conventions
	results["files"] = files
	return results, nil
}

// writeJSON writes v as indented JSON, atomically.
func writeJSON(path string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the conventions read "value < t", not "value \u003c t"
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: encoding %s: %w", filepath.Base(path), err)
	}
	return WriteAtomic(path, b.Bytes())
}

// keptRows picks the rows of a sweep of n points the tables keep: all of
// them up to MaxRows, else MaxRows evenly spaced plus the given must-keep
// indices, in order.
func keptRows(n int, must ...int) []int {
	if n <= MaxRows {
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows
	}
	keep := make(map[int]bool, MaxRows+len(must)+2)
	for k := 0; k < MaxRows; k++ {
		keep[k*(n-1)/(MaxRows-1)] = true
	}
	keep[0], keep[n-1] = true, true
	for _, m := range must {
		if m >= 0 && m < n {
			keep[m] = true
		}
	}
	rows := make([]int, 0, len(keep))
	for i := 0; i < n; i++ {
		if keep[i] {
			rows = append(rows, i)
		}
	}
	return rows
}

// specialRows are the sweep indices of the best macro-F1 and of TPR 95%.
func specialRows(pts []metrics.Point, s metrics.Summary) []int {
	var rows []int
	for i, p := range pts {
		if p.Threshold == s.BestThreshold || p.Threshold == s.ThresholdAtTPR95 {
			rows = append(rows, i)
		}
	}
	return rows
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func thresholdsCSV(pts []metrics.Point, s metrics.Summary) []byte {
	var b bytes.Buffer
	b.WriteString("threshold,macro_f1,tpr,fpr,ccr,known_accepted,unknown_accepted\n")
	for _, i := range keptRows(len(pts), specialRows(pts, s)...) {
		p := pts[i]
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%d,%d\n", fmtFloat(p.Threshold), fmtFloat(p.MacroF1),
			fmtFloat(p.TPR), fmtFloat(p.FPR), fmtFloat(p.CCR), p.KnownAccepted, p.UnknownAccepted)
	}
	return b.Bytes()
}

func rocCSV(pts []metrics.Point, s metrics.Summary) []byte {
	var b bytes.Buffer
	b.WriteString("fpr,tpr,threshold\n")
	for _, i := range keptRows(len(pts), specialRows(pts, s)...) {
		p := pts[i]
		fmt.Fprintf(&b, "%s,%s,%s\n", fmtFloat(p.FPR), fmtFloat(p.TPR), fmtFloat(p.Threshold))
	}
	return b.Bytes()
}

// scoresCSV has one row per image of run r: its index, label, value and
// predicted class, then the extra columns.
func scoresCSV(r Run, columns []Column) []byte {
	var b bytes.Buffer
	b.WriteString("index,label,value,pred")
	for _, c := range columns {
		fmt.Fprintf(&b, ",%s", c.Name)
	}
	b.WriteByte('\n')
	for i, label := range r.Labels {
		fmt.Fprintf(&b, "%d,%d,%s,%d", i, label, fmtFloat(r.Values[i]), r.Pred[i])
		for _, c := range columns {
			fmt.Fprintf(&b, ",%s", fmtFloat(c.Values[i]))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// namedFile is a file Write makes: its name and how to make its bytes.
type namedFile struct {
	name string
	data func() ([]byte, error)
}

// figureFiles returns the PNG and the SVG of one figure, both drawn by draw.
func figureFiles(name string, draw func(painter)) []namedFile {
	return []namedFile{
		{name + ".png", func() ([]byte, error) {
			c := newCanvas()
			draw(c)
			return encodePNG(c.img)
		}},
		{name + ".svg", func() ([]byte, error) {
			d := newSVG()
			draw(d)
			return d.bytes(), nil
		}},
	}
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

// WriteAtomic writes data to a temporary file beside path (named
// .BASE.DIGITS.tmp, which ovd clears from an output folder), syncs it and
// renames it over path, so readers never see a half-written file.
func WriteAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("report: writing %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not every file system lets a
	// directory be synced, and the data is already safe, so this is best effort.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
