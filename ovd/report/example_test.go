package report_test

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/vmdls-go/vmdls/ovd/report"
)

// Write scores each run and leaves results.json, the CSV tables and the
// plots in dir; the returned map is what results.json holds.
func ExampleWrite() {
	dir, err := os.MkdirTemp("", "report-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	run := report.Run{
		Name:       "vmdls",
		Values:     []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.4, 0.2, 0.1, 0.05},
		Pred:       []int{0, 0, 1, 0, 0, 1, 1, 0, 1, 0},
		Labels:     []int{0, 0, 1, 1, 0, 1, 2, 2, 2, 2},
		NumClasses: 2,
	}
	latent := run
	latent.Name = "latent"
	latent.Values = []float64{0.9, 0.2, 0.7, 0.6, 0.5, 0.3, 0.4, 0.8, 0.1, 0.05}

	res, err := report.Write(dir, []report.Run{run, latent}, map[string]any{"known_dataset": "toy"})
	if err != nil {
		panic(err)
	}
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k)
	}
	fmt.Println("method:", res["method"], "auroc:", res["auroc"])

	entries, err := os.ReadDir(dir)
	if err != nil {
		panic(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	fmt.Println(strings.Join(names, " "))
	// Output:
	// ablations
	// aupr_in
	// aupr_in_trapezoid
	// aupr_out
	// aupr_out_trapezoid
	// auroc
	// best_threshold
	// cauroc
	// conventions
	// detection_error
	// f1_at_tpr95
	// files
	// fpr95_ood_positive
	// fpr_at_tpr95_id_positive
	// known_accuracy
	// known_dataset
	// macro_f1
	// method
	// num_known
	// num_unknown
	// oscr
	// threshold_at_tpr95
	// tnr_at_tpr95
	// method: vmdls auroc: 0.9583333333333334
	// f1-latent.png f1-latent.svg f1.png f1.svg hist-latent.png hist-latent.svg hist.png hist.svg results.json roc-all.png roc-all.svg roc-latent.csv roc-latent.png roc-latent.svg roc.csv roc.png roc.svg scores-latent.csv scores.csv thresholds-latent.csv thresholds.csv
}
