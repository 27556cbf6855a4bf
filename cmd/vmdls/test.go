package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// runTestCmd is `vmdls test`, the reference's test.py: fit the class
// Gaussians on the training set with the model of --checkpoint_path, score
// the known test set and the unknown set, write the metrics.
func runTestCmd(args []string, stdout, stderr io.Writer) error {
	o, err := prepare("test", args, stdout, stderr)
	if err != nil || o == nil {
		return err
	}
	s, err := start(o, stderr, "stopping the evaluation")
	if err != nil {
		return err
	}
	res, err := method.Test(s.ctx, o.cfg, s.prog.observe)
	if err == nil {
		s.prog.endLine()
		printTestResults(stdout, res)
	}
	return s.finish(stdout, err)
}

// metricOrder puts the paper's headline metrics first; the rest follow in
// name order.
var metricOrder = []string{"auroc", "macro_f1", "known_accuracy", "tnr_at_tpr95", "fpr95_ood_positive", "cauroc",
	"aupr_in", "aupr_out", "detection_error"}

// printTestResults prints results.json's metrics: with several unknown
// sets a table per set and one of their mean, else the one set's table.
func printTestResults(w io.Writer, res map[string]any) {
	sets, _ := res["unknown_sets"].([]string)
	per, _ := res["per_set"].(map[string]any)
	if len(sets) > 1 && per != nil {
		for _, name := range sets {
			if m, ok := per[name].(map[string]any); ok {
				fmt.Fprintf(w, "unknown set %s:\n", name)
				m["method"] = res["method"]
				metricsTable(w, m)
				fmt.Fprintln(w)
			}
		}
		fmt.Fprintf(w, "mean over the %d unknown sets:\n", len(sets))
	}
	metricsTable(w, res)
}

// metricsTable prints results.json's metrics: one row per metric, one
// column for the method and one per ablation; then, when there are
// baselines, baselinesTable.
func metricsTable(w io.Writer, res map[string]any) {
	if len(res) == 0 {
		return
	}
	names := []string{fmt.Sprint(res["method"])}
	runs := []map[string]any{res}
	if abl, ok := res["ablations"].(map[string]any); ok {
		var keys []string
		for k := range abl {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if m, ok := abl[k].(map[string]any); ok {
				names = append(names, k)
				runs = append(runs, m)
			}
		}
	}
	var keys []string
	known := metrics.Summary{}.Map()
	for _, k := range metricOrder {
		if _, ok := known[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k, v := range known {
		if contains(metricOrder, k) {
			continue
		}
		if _, ok := v.(float64); ok {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	keys = append(keys, rest...)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "metric\t%s\n", strings.Join(names, "\t"))
	for _, k := range keys {
		row := []string{k}
		for _, r := range runs {
			switch v := r[k].(type) {
			case float64:
				row = append(row, fmt.Sprintf("%.4f", v))
			case nil:
				row = append(row, "n/a")
			default:
				row = append(row, fmt.Sprint(v))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	baselinesTable(w, names, runs, res)
}

// comparisonKeys are the columns of baselinesTable, with headings short
// enough for the widest detector's row to fit 80 columns.
var comparisonKeys = []struct{ key, head string }{
	{"auroc", "AUROC"}, {"tnr_at_tpr95", "TNR95"}, {"fpr95_ood_positive", "FPR95"}, {"aupr_in", "AUPRin"},
	{"aupr_out", "AUPRout"}, {"macro_f1", "F1"}, {"detection_error", "DetErr"},
}

// baselinesTable prints one row per detector, the method's and the
// ablations' (names, runs) first, then the baselines in name order, with
// the headline metrics; results.csv and results.md have them all.
func baselinesTable(w io.Writer, names []string, runs []map[string]any, res map[string]any) {
	bl, ok := res["baselines"].(map[string]any)
	if !ok || len(bl) == 0 {
		return
	}
	var keys []string
	for k := range bl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m, ok := bl[k].(map[string]any); ok {
			names = append(names, k)
			runs = append(runs, m)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"detector"}
	for _, c := range comparisonKeys {
		head = append(head, c.head)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for i, r := range runs {
		row := []string{names[i]}
		for _, c := range comparisonKeys {
			if v, ok := r[c.key].(float64); ok {
				row = append(row, fmt.Sprintf("%.4f", v))
			} else {
				row = append(row, "n/a")
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}
