package metrics

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

// Summary holds every metric of one scoring of the evaluation set. Rates and
// areas are in [0, 1]; NaN where undefined (see the package doc), written to
// JSON as null and read back from null as NaN. The JSON keys are the tags.
type Summary struct {
	// MacroF1 is the best macro-F1 over C+1 labels over all thresholds
	// (BestMacroF1); BestThreshold is the threshold giving it.
	MacroF1       float64 `json:"macro_f1"`
	BestThreshold float64 `json:"best_threshold"`
	// AUROC: known images positive, score value.
	AUROC float64 `json:"auroc"`
	// TNRAtTPR95 and FPRAtTPR95IDPositive: the paper's convention, known
	// images positive, at the largest threshold whose TPR reaches 0.95;
	// ThresholdAtTPR95 is that threshold and F1AtTPR95 the macro-F1 there.
	TNRAtTPR95           float64 `json:"tnr_at_tpr95"`
	FPRAtTPR95IDPositive float64 `json:"fpr_at_tpr95_id_positive"`
	ThresholdAtTPR95     float64 `json:"threshold_at_tpr95"`
	F1AtTPR95            float64 `json:"f1_at_tpr95"`
	// FPR95OODPositive: the OpenOOD / pytorch-ood convention, unknown images
	// positive with score -value, the fraction of known images flagged when
	// 95% of the unknown ones are.
	FPR95OODPositive float64 `json:"fpr95_ood_positive"`
	// KnownAccuracy: argmax accuracy over the known images, no rejection.
	KnownAccuracy float64 `json:"known_accuracy"`
	// CAUROC (the reference's): area under FPR against the fraction of the
	// correctly classified known images that are accepted. OSCR: the same
	// curve with the fraction of all known images (the open-set
	// classification rate).
	CAUROC float64 `json:"cauroc"`
	OSCR   float64 `json:"oscr"`
	// AUPRIn (known positive, score value) and AUPROut (unknown positive,
	// score -value): average precision as scikit-learn computes it; the
	// Trapezoid variants integrate the same curves by trapezoids, as
	// pytorch-ood and OpenOOD do.
	AUPRIn           float64 `json:"aupr_in"`
	AUPROut          float64 `json:"aupr_out"`
	AUPRInTrapezoid  float64 `json:"aupr_in_trapezoid"`
	AUPROutTrapezoid float64 `json:"aupr_out_trapezoid"`
	// DetectionError: min over thresholds of 0.5*(1-TPR) + 0.5*FPR.
	DetectionError float64 `json:"detection_error"`
	// NumKnown and NumUnknown count the images of each kind.
	NumKnown   int `json:"num_known"`
	NumUnknown int `json:"num_unknown"`
}

// Compute sorts the inputs once and derives every metric of Summary from the
// one sweep (see the package doc for the inputs and conventions). It panics
// on inputs Validate rejects.
func Compute(values []float64, pred, labels []int, numClasses int) Summary {
	return FromSweep(Sweep(values, pred, labels, numClasses), pred, labels, numClasses)
}

// FromSweep is Compute for a caller that already holds the Sweep of the same
// inputs (the report writes the sweep too).
func FromSweep(pts []Point, pred, labels []int, numClasses int) Summary {
	var s Summary
	s.NumKnown, s.NumUnknown = counted(pts)
	s.MacroF1, s.BestThreshold = bestF1(pts)
	s.AUROC = auroc(pts)
	s.FPRAtTPR95IDPositive, s.ThresholdAtTPR95 = atTPR95(pts)
	s.TNRAtTPR95 = 1 - s.FPRAtTPR95IDPositive
	s.F1AtTPR95 = math.NaN()
	if i := tpr95Index(pts); i >= 0 {
		s.F1AtTPR95 = pts[i].MacroF1
	}
	s.FPR95OODPositive = fpr95OOD(pts)
	s.KnownAccuracy = KnownAccuracy(pred, labels, numClasses)
	s.CAUROC = cauroc(pts)
	s.OSCR = oscr(pts)
	s.AUPRIn = auprIn(pts)
	s.AUPROut = auprOut(pts)
	s.AUPRInTrapezoid = auprInTrapezoid(pts)
	s.AUPROutTrapezoid = auprOutTrapezoid(pts)
	s.DetectionError = detectionError(pts)
	return s
}

// Map returns the summary keyed by its JSON keys, with nil for the numbers
// that are NaN or infinite (JSON has no such numbers); the report merges it
// into results.json.
func (s Summary) Map() map[string]any {
	m := make(map[string]any)
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := jsonKey(t.Field(i))
		switch f := v.Field(i); f.Kind() {
		case reflect.Float64:
			if x := f.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				m[key] = nil
			} else {
				m[key] = x
			}
		default:
			m[key] = f.Interface()
		}
	}
	return m
}

func jsonKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// MarshalJSON writes Map, so undefined metrics become null instead of an
// encoding error.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.Map())
}

// UnmarshalJSON reads what MarshalJSON writes; a null or missing number
// becomes NaN.
func (s *Summary) UnmarshalJSON(b []byte) error {
	type plain Summary // without the methods, so no recursion
	var p plain
	v := reflect.ValueOf(&p).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Kind() == reflect.Float64 {
			v.Field(i).SetFloat(math.NaN())
		}
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = Summary(p)
	return nil
}
