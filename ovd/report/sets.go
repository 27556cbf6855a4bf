package report

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// SetRuns are the runs of one unknown set: every detector's scoring of the
// known test set followed by that set, in the same order of detectors for
// every set.
type SetRuns struct {
	// Name is the unknown set's name; with several sets it names the
	// sub-folder of the set's files, so it follows Run.Name's rules.
	Name string
	Runs []Run
	// Columns go into the first run's scores.csv, as Write's.
	Columns []Column
	// Meta is written into the set's own results.json beside the meta of
	// WriteSets (the set's image counts, say); with one set it joins the
	// top-level results.json.
	Meta map[string]any
}

// MeanKeys are the metrics averaged over the unknown sets under
// "mean_over_sets" (and at the top of results.json with several sets):
// the rates and areas; thresholds and image counts are per set only.
var MeanKeys = []string{"auroc", "tnr_at_tpr95", "fpr_at_tpr95_id_positive", "fpr95_ood_positive", "aupr_in", "aupr_out",
	"aupr_in_trapezoid", "aupr_out_trapezoid", "macro_f1", "f1_at_tpr95", "detection_error", "known_accuracy", "cauroc", "oscr"}

// tableKeys are the columns of results.md, in order, with their headings.
var tableKeys = []struct{ key, head string }{
	{"auroc", "AUROC"}, {"tnr_at_tpr95", "TNR@TPR95 (ID+)"}, {"fpr95_ood_positive", "FPR95 (OOD+)"},
	{"aupr_in", "AUPR-in"}, {"aupr_out", "AUPR-out"}, {"macro_f1", "macro-F1 (best)"},
	{"detection_error", "detection error"}, {"known_accuracy", "known accuracy"},
}

// WriteSets writes the evaluation of one fit against several unknown sets
// into dir. With one set it is Write (today's layout, the set's files at
// the top) plus the keys below. With several, each set's files, its own
// results.json included (what Write would make of that set alone), go to
// the sub-folder dir/<set>, and the top-level results.json holds the mean
// over the sets of the first run's metrics at the top and of the others
// under "ablations" and "baselines". Either way results.json has
// "unknown_sets" (the names in order), "per_set" (each set's summaries,
// keyed by set name), "mean_over_sets" (every run's mean, keyed by run
// name) and meta, and results.csv and results.md are written beside it:
// one row per (run, set) and one per run for the mean.
func WriteSets(dir string, sets []SetRuns, meta map[string]any) (map[string]any, error) {
	if len(sets) == 0 {
		return nil, fmt.Errorf("report: no unknown sets to write into %s", dir)
	}
	if err := checkMeta(meta); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, set := range sets {
		if !runName.MatchString(set.Name) || seen[set.Name] {
			return nil, fmt.Errorf("report: unknown set name %q: want distinct names of letters, digits, '_' or '-'", set.Name)
		}
		seen[set.Name] = true
		if err := checkRuns(set.Runs, set.Columns); err != nil {
			return nil, fmt.Errorf("%w (unknown set %s)", err, set.Name)
		}
		if len(set.Runs) != len(sets[0].Runs) {
			return nil, fmt.Errorf("report: unknown set %s has %d runs, %s has %d", set.Name, len(set.Runs), sets[0].Name, len(sets[0].Runs))
		}
		for i, r := range set.Runs {
			if r.Name != sets[0].Runs[i].Name {
				return nil, fmt.Errorf("report: run %d is %q for %s but %q for %s", i, r.Name, set.Name, sets[0].Runs[i].Name, sets[0].Name)
			}
		}
		if err := checkMeta(set.Meta); err != nil {
			return nil, err
		}
	}
	perSet := map[string]any{}
	var summaries []map[string]map[string]any // per set: run name → summary
	var results map[string]any
	var files []string
	for _, set := range sets {
		sub := dir
		if len(sets) > 1 {
			sub = filepath.Join(dir, set.Name)
		}
		r, err := writeRuns(sub, set.Runs, set.Columns)
		if err != nil {
			return nil, err
		}
		byRun := runSummaries(set.Runs, r)
		summaries = append(summaries, byRun)
		entry := map[string]any{}
		for k, v := range byRun[set.Runs[0].Name] {
			entry[k] = v
		}
		for _, k := range []string{"ablations", "baselines"} {
			if v, ok := r[k]; ok {
				entry[k] = v
			}
		}
		for k, v := range set.Meta {
			entry[k] = v
		}
		perSet[set.Name] = entry
		if len(sets) == 1 {
			results = r
			files = r["files"].([]string)
			for k, v := range set.Meta {
				results[k] = v
			}
			continue
		}
		r["files"] = append(r["files"].([]string), "results.json")
		for _, f := range r["files"].([]string) {
			files = append(files, filepath.ToSlash(filepath.Join(set.Name, f)))
		}
		for k, v := range meta {
			r[k] = v
		}
		for k, v := range set.Meta {
			r[k] = v
		}
		r["unknown_sets"] = []string{set.Name}
		if err := writeJSON(filepath.Join(sub, "results.json"), r); err != nil {
			return nil, err
		}
	}
	runs := sets[0].Runs
	means := map[string]any{}
	for _, r := range runs {
		ms := make([]map[string]any, len(summaries))
		for i, s := range summaries {
			ms[i] = s[r.Name]
		}
		means[r.Name] = meanSummary(ms)
	}
	if len(sets) > 1 {
		results = map[string]any{}
		for k, v := range means[runs[0].Name].(map[string]any) {
			results[k] = v
		}
		ablations, baselines := map[string]any{}, map[string]any{}
		for _, r := range runs[1:] {
			if r.Baseline {
				baselines[r.Name] = means[r.Name]
			} else {
				ablations[r.Name] = means[r.Name]
			}
		}
		results["method"] = runs[0].Name
		results["ablations"] = ablations
		if len(baselines) > 0 {
			results["baselines"] = baselines
		}
		results["conventions"] = Conventions
	}
	var names []string
	for _, s := range sets {
		names = append(names, s.Name)
	}
	results["unknown_sets"] = names
	results["per_set"] = perSet
	results["mean_over_sets"] = means
	results["files"] = append(files, "results.csv", "results.md", "results.json")
	for k, v := range meta {
		results[k] = v
	}
	if err := WriteAtomic(filepath.Join(dir, "results.csv"), resultsCSV(sets, summaries, means)); err != nil {
		return nil, err
	}
	if err := WriteAtomic(filepath.Join(dir, "results.md"), resultsMarkdown(sets, summaries, means)); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "results.json"), results); err != nil {
		return nil, err
	}
	return results, nil
}

// runSummaries picks every run's summary out of what writeRuns returned.
func runSummaries(runs []Run, r map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	top := map[string]any{}
	for k := range (metrics.Summary{}).Map() {
		top[k] = r[k]
	}
	out[runs[0].Name] = top
	for _, group := range []string{"ablations", "baselines"} {
		g, _ := r[group].(map[string]any)
		for name, s := range g {
			out[name] = s.(map[string]any)
		}
	}
	return out
}

// meanSummary averages MeanKeys over the summaries; a metric undefined
// (nil) for any set is undefined in the mean.
func meanSummary(ms []map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range MeanKeys {
		sum := 0.0
		for _, m := range ms {
			v, ok := m[k].(float64)
			if !ok {
				sum = math.NaN()
				break
			}
			sum += v
		}
		if math.IsNaN(sum) {
			out[k] = nil
		} else {
			out[k] = sum / float64(len(ms))
		}
	}
	return out
}

// kind names a run's part in the comparison.
func kind(i int, r Run) string {
	switch {
	case i == 0:
		return "method"
	case r.Baseline:
		return "baseline"
	}
	return "ablation"
}

// csvKeys are results.csv's metric columns: the mean's, then the per-set
// thresholds and counts (empty on the mean rows).
var csvKeys = append(append([]string{}, MeanKeys...), "best_threshold", "threshold_at_tpr95", "num_known", "num_unknown")

func resultsCSV(sets []SetRuns, summaries []map[string]map[string]any, means map[string]any) []byte {
	var b bytes.Buffer
	b.WriteString("detector,kind,set," + strings.Join(csvKeys, ",") + "\n")
	row := func(i int, r Run, set string, m map[string]any) {
		fmt.Fprintf(&b, "%s,%s,%s", r.Name, kind(i, r), set)
		for _, k := range csvKeys {
			b.WriteByte(',')
			switch v := m[k].(type) {
			case float64:
				b.WriteString(fmtFloat(v))
			case int:
				fmt.Fprint(&b, v)
			}
		}
		b.WriteByte('\n')
	}
	for si, set := range sets {
		for i, r := range set.Runs {
			row(i, r, set.Name, summaries[si][r.Name])
		}
	}
	for i, r := range sets[0].Runs {
		row(i, r, "mean", means[r.Name].(map[string]any))
	}
	return b.Bytes()
}

func resultsMarkdown(sets []SetRuns, summaries []map[string]map[string]any, means map[string]any) []byte {
	var b bytes.Buffer
	b.WriteString("| set | detector |")
	sep := "|---|---|"
	for _, k := range tableKeys {
		b.WriteString(" " + k.head + " |")
		sep += "---:|"
	}
	b.WriteString("\n" + sep + "\n")
	row := func(i int, r Run, set string, m map[string]any) {
		name := r.Name
		if r.Label != "" {
			name += " (" + r.Label + ")"
		}
		if i == 0 {
			name = "**" + name + "**"
		}
		fmt.Fprintf(&b, "| %s | %s |", set, name)
		for _, k := range tableKeys {
			if v, ok := m[k.key].(float64); ok {
				fmt.Fprintf(&b, " %.2f |", 100*v)
			} else {
				b.WriteString(" n/a |")
			}
		}
		b.WriteByte('\n')
	}
	for si, set := range sets {
		for i, r := range set.Runs {
			row(i, r, set.Name, summaries[si][r.Name])
		}
	}
	if len(sets) > 1 {
		for i, r := range sets[0].Runs {
			row(i, r, fmt.Sprintf("mean of %d", len(sets)), means[r.Name].(map[string]any))
		}
	}
	b.WriteString("\nPercentages. AUROC, TNR@TPR95 and AUPR-in take the known (in-distribution) images as positive; " +
		"FPR95 and AUPR-out the unknown ones (score = -value); macro-F1 is the best over every threshold of the C+1-label " +
		"macro F1; detection error is min over thresholds of (1 - TPR + FPR) / 2; see \"conventions\" in results.json.\n")
	return b.Bytes()
}
