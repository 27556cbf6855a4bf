package metrics_test

import (
	"encoding/json"
	"fmt"

	"github.com/vmdls-go/vmdls/ovd/metrics"
)

// Two known classes (labels 0 and 1) and unknown images (label 2 = C). Six
// known images, one misclassified, and four unknown ones, one of which
// scores above the lowest known value.
func ExampleCompute() {
	values := []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.4, 0.2, 0.1, 0.05}
	pred := []int{0, 0, 1, 0, 0, 1, 1, 0, 1, 0}
	labels := []int{0, 0, 1, 1, 0, 1, 2, 2, 2, 2}

	s := metrics.Compute(values, pred, labels, 2)
	fmt.Printf("AUROC %.4f (23 of 24 known/unknown pairs in order)\n", s.AUROC)
	fmt.Printf("known accuracy %.4f\n", s.KnownAccuracy)
	fmt.Printf("best macro-F1 %.4f at threshold %g\n", s.MacroF1, s.BestThreshold)
	fmt.Printf("TNR at TPR 95%% %.2f\n", s.TNRAtTPR95)
	fmt.Println(s.NumKnown, "known,", s.NumUnknown, "unknown")
	// Output:
	// AUROC 0.9583 (23 of 24 known/unknown pairs in order)
	// known accuracy 0.8333
	// best macro-F1 0.7937 at threshold 0.3
	// TNR at TPR 95% 0.75
	// 6 known, 4 unknown
}

// A metric that the input cannot define is NaN and becomes null in JSON:
// with no unknown images there is no ROC.
func ExampleSummary_MarshalJSON() {
	s := metrics.Compute([]float64{0.9, 0.8}, []int{0, 1}, []int{0, 1}, 2)
	b, err := json.Marshal(map[string]any{"auroc": s.Map()["auroc"], "known_accuracy": s.KnownAccuracy})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output:
	// {"auroc":null,"known_accuracy":1}
}
