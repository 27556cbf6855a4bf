package metrics

import (
	"fmt"
	"math"
	"sort"
)

// Validate reports the first reason the inputs are unusable, or nil. pred may
// be nil for the functions that do not use it.
func Validate(values []float64, pred, labels []int, numClasses int) error {
	if numClasses < 1 {
		return fmt.Errorf("metrics: numClasses %d < 1", numClasses)
	}
	if len(labels) != len(values) {
		return fmt.Errorf("metrics: %d values but %d labels", len(values), len(labels))
	}
	if pred != nil && len(pred) != len(values) {
		return fmt.Errorf("metrics: %d values but %d predictions", len(values), len(pred))
	}
	for i, v := range values {
		if math.IsNaN(v) {
			return fmt.Errorf("metrics: value %d is NaN", i)
		}
		if math.IsInf(v, 1) {
			// The sweep's first threshold, +Inf, must reject every image.
			return fmt.Errorf("metrics: value %d is +Inf", i)
		}
	}
	for i, y := range labels {
		if y < 0 || y > numClasses {
			return fmt.Errorf("metrics: label %d of image %d outside 0..%d", y, i, numClasses)
		}
	}
	for i, p := range pred {
		if p < 0 || p >= numClasses {
			return fmt.Errorf("metrics: prediction %d of image %d outside 0..%d", p, i, numClasses-1)
		}
	}
	return nil
}

func mustValidate(values []float64, pred, labels []int, numClasses int) {
	if err := Validate(values, pred, labels, numClasses); err != nil {
		panic(err)
	}
}

// KnownAccuracy is the fraction of known images (label < C) whose pred equals
// their label, with no rejection; NaN when there is no known image.
func KnownAccuracy(pred, labels []int, numClasses int) float64 {
	if len(pred) != len(labels) {
		panic(fmt.Sprintf("metrics: %d predictions but %d labels", len(pred), len(labels)))
	}
	known, correct := 0, 0
	for i, y := range labels {
		if y < numClasses {
			known++
			if pred[i] == y {
				correct++
			}
		}
	}
	if known == 0 {
		return math.NaN()
	}
	return float64(correct) / float64(known)
}

// MacroF1 is scikit-learn's f1_score(labels, pred, average='macro',
// zero_division=0) over the C+1 labels 0..C: the mean of the per-label F1
// 2TP/(2TP+FP+FN) over the labels that occur in labels or in pred (a label
// absent from both is not averaged in, as scikit-learn only averages over
// unique_labels(y_true, y_pred)). Here pred may contain C ("unknown").
// NaN for empty input.
func MacroF1(pred, labels []int, numClasses int) float64 {
	if len(pred) != len(labels) {
		panic(fmt.Sprintf("metrics: %d predictions but %d labels", len(pred), len(labels)))
	}
	c := newCounts(numClasses)
	for i, y := range labels {
		p := pred[i]
		if p < 0 || p > numClasses || y < 0 || y > numClasses {
			panic(fmt.Sprintf("metrics: image %d: label %d or prediction %d outside 0..%d", i, y, p, numClasses))
		}
		c.add(p, y)
	}
	return c.macroF1()
}

// counts holds per-label true positives, false positives and false negatives
// over the C+1 labels.
type counts struct{ tp, fp, fn []int }

func newCounts(numClasses int) counts {
	return counts{make([]int, numClasses+1), make([]int, numClasses+1), make([]int, numClasses+1)}
}

// add counts one image predicted p with true label y.
func (c counts) add(p, y int) {
	if p == y {
		c.tp[y]++
		return
	}
	c.fp[p]++
	c.fn[y]++
}

// remove undoes add(p, y).
func (c counts) remove(p, y int) {
	if p == y {
		c.tp[y]--
		return
	}
	c.fp[p]--
	c.fn[y]--
}

// macroF1 recomputes the mean from the counts rather than keeping a running
// sum, so the sweep gives bit-for-bit the value of a fresh count.
func (c counts) macroF1() float64 {
	sum, n := 0.0, 0
	for k := range c.tp {
		d := 2*c.tp[k] + c.fp[k] + c.fn[k]
		if d == 0 {
			continue // label in neither y_true nor y_pred
		}
		n++
		sum += float64(2*c.tp[k]) / float64(d)
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Point is the state of the decision rule at one threshold.
type Point struct {
	// Threshold t: images with value >= t are accepted (get pred), the others
	// are unknown. +Inf for the first point, where every image is unknown.
	Threshold float64
	// KnownAccepted, UnknownAccepted and CorrectAccepted count the known
	// images accepted, the unknown images accepted, and the known images
	// accepted whose pred equals their label.
	KnownAccepted, UnknownAccepted, CorrectAccepted int
	// TPR and FPR are the ID-positive rates: KnownAccepted / known images and
	// UnknownAccepted / unknown images (NaN when the denominator is 0).
	TPR, FPR float64
	// CCR (correct classification rate) is CorrectAccepted / known images, the
	// y of the CAUROC curve (also called the OSCR curve).
	CCR float64
	// MacroF1 is MacroF1 of the decisions at this threshold over C+1 labels.
	MacroF1 float64
}

// Sweep evaluates the decision rule at +Inf and then at every distinct value
// in decreasing order; the last point (t = the smallest value) accepts every
// image. It sorts once and moves each image from "unknown" to its pred as t
// passes its value, updating per-label counts, so it costs
// O(N log N + D*C) for D distinct values.
func Sweep(values []float64, pred, labels []int, numClasses int) []Point {
	if pred == nil {
		panic("metrics: Sweep needs predictions")
	}
	return sweep(values, pred, labels, numClasses)
}

// sweep is Sweep, and with pred == nil only the known/unknown counts (the ROC):
// CorrectAccepted and CCR stay 0 and MacroF1 is NaN.
func sweep(values []float64, pred, labels []int, numClasses int) []Point {
	mustValidate(values, pred, labels, numClasses)
	order := sortedDesc(values)
	known := 0
	c := newCounts(numClasses)
	for _, y := range labels {
		if y < numClasses {
			known++
		}
		if pred != nil {
			c.add(numClasses, y)
		}
	}
	unknown := len(labels) - known
	pts := make([]Point, 0, len(values)+1)
	var ka, ua, ca int
	emit := func(t float64) {
		p := Point{
			Threshold: t, KnownAccepted: ka, UnknownAccepted: ua, CorrectAccepted: ca,
			TPR: ratio(ka, known), FPR: ratio(ua, unknown), MacroF1: math.NaN(),
		}
		if pred != nil {
			p.CCR, p.MacroF1 = ratio(ca, known), c.macroF1()
		}
		pts = append(pts, p)
	}
	emit(math.Inf(1))
	for start := 0; start < len(order); {
		v := values[order[start]]
		end := start
		for end < len(order) && values[order[end]] == v {
			i := order[end]
			y := labels[i]
			p := 0 // without predictions every image counts as accepted
			if pred != nil {
				p = pred[i]
				c.remove(numClasses, y)
				c.add(p, y)
			}
			if y < numClasses {
				ka++
				if pred != nil && p == y {
					ca++
				}
			} else {
				ua++
			}
			end++
		}
		emit(v)
		start = end
	}
	return pts
}

// sortedDesc returns the indices of values ordered by decreasing value.
func sortedDesc(values []float64) []int {
	order := make([]int, len(values))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return values[order[a]] > values[order[b]] })
	return order
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// BestMacroF1 is the largest macro-F1 over C+1 labels over all thresholds of
// Sweep, and the threshold giving it (the largest such threshold when several
// tie exactly). The threshold is +Inf when rejecting everything is best.
func BestMacroF1(values []float64, pred, labels []int, numClasses int) (f1, threshold float64) {
	return bestF1(Sweep(values, pred, labels, numClasses))
}

func bestF1(pts []Point) (f1, threshold float64) {
	best := 0
	for i, p := range pts {
		if p.MacroF1 > pts[best].MacroF1 || (math.IsNaN(pts[best].MacroF1) && !math.IsNaN(p.MacroF1)) {
			best = i
		}
	}
	return pts[best].MacroF1, pts[best].Threshold
}

// tpr95Index is the first point (the largest threshold) whose ID-positive TPR
// reaches 0.95, or -1 without known images.
func tpr95Index(pts []Point) int {
	for i, p := range pts {
		if p.TPR >= 0.95 {
			return i
		}
	}
	return -1
}

// F1AtTPR95 is the macro-F1 over C+1 labels at the largest threshold where the
// ID-positive TPR (fraction of known images accepted) first reaches 0.95.
func F1AtTPR95(values []float64, pred, labels []int, numClasses int) float64 {
	pts := Sweep(values, pred, labels, numClasses)
	if i := tpr95Index(pts); i >= 0 {
		return pts[i].MacroF1
	}
	return math.NaN()
}
