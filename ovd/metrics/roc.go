package metrics

import "math"

// ROC is scikit-learn's roc_curve(labels < C, values, drop_intermediate=False)
// with known images positive: one point per distinct value in decreasing order,
// after a first point (0, 0) at threshold +Inf (scikit-learn 1.3 and later use
// +Inf there too; 1.2 used max+1). FPR is NaN throughout without unknown images
// and TPR without known ones.
func ROC(values []float64, labels []int, numClasses int) (fpr, tpr, thresholds []float64) {
	pts := sweep(values, nil, labels, numClasses)
	fpr = make([]float64, len(pts))
	tpr = make([]float64, len(pts))
	thresholds = make([]float64, len(pts))
	for i, p := range pts {
		fpr[i], tpr[i], thresholds[i] = p.FPR, p.TPR, p.Threshold
	}
	return fpr, tpr, thresholds
}

// trapezoid is the area under the polyline (x[i], y[i]) for x nondecreasing.
func trapezoid(pts []Point, y func(Point) float64) float64 {
	area := 0.0
	for i := 1; i < len(pts); i++ {
		area += (pts[i].FPR - pts[i-1].FPR) * (y(pts[i]) + y(pts[i-1])) / 2
	}
	return area
}

func counted(pts []Point) (known, unknown int) {
	last := pts[len(pts)-1]
	return last.KnownAccepted, last.UnknownAccepted
}

func auroc(pts []Point) float64 {
	if k, u := counted(pts); k == 0 || u == 0 {
		return math.NaN()
	}
	return trapezoid(pts, func(p Point) float64 { return p.TPR })
}

// AUROC is the area under ROC (known positive, score value), equal to
// scikit-learn's roc_auc_score(labels < C, values): a known and an unknown
// image with equal values count one half. NaN unless both kinds are present.
func AUROC(values []float64, labels []int, numClasses int) float64 {
	return auroc(sweep(values, nil, labels, numClasses))
}

// atTPR95 gives the FPR (NaN without unknown images) and the threshold at
// the first point with TPR >= 0.95; both NaN without known images.
func atTPR95(pts []Point) (fpr, threshold float64) {
	i := tpr95Index(pts)
	if i < 0 {
		return math.NaN(), math.NaN()
	}
	return pts[i].FPR, pts[i].Threshold
}

// FPRAtTPR95IDPositive is the paper's convention: known images positive,
// score value, the FPR (fraction of unknown images accepted) at the first
// ROC point, i.e. the largest threshold, whose TPR is at least 0.95.
// NaN unless both kinds are present.
func FPRAtTPR95IDPositive(values []float64, labels []int, numClasses int) float64 {
	fpr, _ := atTPR95(sweep(values, nil, labels, numClasses))
	return fpr
}

// TNRAtTPR95IDPositive is 1 - FPRAtTPR95IDPositive: the fraction of unknown
// images rejected when 95% of the known ones are accepted (paper's convention).
func TNRAtTPR95IDPositive(values []float64, labels []int, numClasses int) float64 {
	return 1 - FPRAtTPR95IDPositive(values, labels, numClasses)
}

func fpr95OOD(pts []Point) float64 {
	k, u := counted(pts)
	if k == 0 || u == 0 {
		return math.NaN()
	}
	// Score -value: thresholds in increasing value. Flagging value <= v_j
	// flags everything not accepted at the next larger threshold, pts[j-1].
	for j := len(pts) - 2; j >= 0; j-- {
		if float64(u-pts[j].UnknownAccepted)/float64(u) >= 0.95 {
			return float64(k-pts[j].KnownAccepted) / float64(k)
		}
	}
	panic("unreachable: flagging every image reaches TPR 1")
}

// FPR95OODPositive is the OpenOOD / pytorch-ood convention: unknown images
// positive, score -value, the fraction of known images flagged as unknown at
// the first ROC point (scikit-learn's order) whose TPR (fraction of unknown
// images flagged) is at least 0.95. NaN unless both kinds are present.
func FPR95OODPositive(values []float64, labels []int, numClasses int) float64 {
	return fpr95OOD(sweep(values, nil, labels, numClasses))
}

func cauroc(pts []Point) float64 {
	k, u := counted(pts)
	correct := pts[len(pts)-1].CorrectAccepted
	if k == 0 || u == 0 || correct == 0 {
		return math.NaN()
	}
	return trapezoid(pts, func(p Point) float64 { return float64(p.CorrectAccepted) / float64(correct) })
}

// CAUROC is the reference's classification-aware AUROC (models/vae.py,
// METHOD.md section 4): the area under the curve of x = FPR (ID positive)
// against y = the fraction of the correctly classified known images that
// are accepted, by trapezoids over the thresholds of Sweep. The reference
// sums the same curve over 100,000 geometrically spaced thresholds, which
// converges to this area (they differ only in how ties between a known and
// an unknown score count: a half here, as in AUROC). It is the AUROC of the
// correctly classified known images against the unknown ones; NaN without
// either kind or without a correct known image.
func CAUROC(values []float64, pred, labels []int, numClasses int) float64 {
	return cauroc(Sweep(values, pred, labels, numClasses))
}

func oscr(pts []Point) float64 {
	if k, u := counted(pts); k == 0 || u == 0 {
		return math.NaN()
	}
	return trapezoid(pts, func(p Point) float64 { return p.CCR })
}

// OSCR is the area under the open-set classification rate curve (Dhamija et
// al. 2018): x = FPR (ID positive) against y = CCR, the fraction of all
// known images that are accepted and correctly classified, by trapezoids
// over the thresholds of Sweep. It is CAUROC scaled by the known accuracy
// when the correct images score like the rest, and at most AUROC; earlier
// versions of this package called it CAUROC.
func OSCR(values []float64, pred, labels []int, numClasses int) float64 {
	return oscr(Sweep(values, pred, labels, numClasses))
}

// averagePrecision is scikit-learn's average_precision_score: the sum over
// thresholds, in decreasing score, of (recall_k - recall_{k-1}) * precision_k,
// with no interpolation. tps(k) and fps(k) give the positives and negatives
// scoring at least the k-th threshold, k = 1..n.
func averagePrecision(n, positives int, tps, fps func(k int) int) float64 {
	if positives == 0 {
		return math.NaN()
	}
	ap, prevTP := 0.0, 0
	for k := 1; k <= n; k++ {
		tp, fp := tps(k), fps(k)
		if tp != prevTP {
			ap += float64(tp-prevTP) / float64(positives) * float64(tp) / float64(tp+fp)
		}
		prevTP = tp
	}
	return ap
}

// prProblem returns the precision-recall problem of the sweep pts for
// averagePrecision and trapezoidPR: its n thresholds, its positives and
// the positives and negatives scoring at least the k-th threshold. Known
// images are positive with score value; with unknownPositive, unknown
// images are, with score -value.
func prProblem(pts []Point, unknownPositive bool) (n, positives int, tps, fps func(k int) int) {
	k, u := counted(pts)
	n = len(pts) - 1
	if !unknownPositive {
		return n, k, func(i int) int { return pts[i].KnownAccepted }, func(i int) int { return pts[i].UnknownAccepted }
	}
	// The i-th largest -value is the i-th smallest value, pts[n+1-i]; images
	// with value <= it are those not accepted at pts[n-i].
	return n, u, func(i int) int { return u - pts[n-i].UnknownAccepted }, func(i int) int { return k - pts[n-i].KnownAccepted }
}

func auprIn(pts []Point) float64  { return averagePrecision(prProblem(pts, false)) }
func auprOut(pts []Point) float64 { return averagePrecision(prProblem(pts, true)) }

// trapezoidPR is the area under the precision-recall curve by trapezoids,
// as pytorch-ood and OpenOOD compute it (scikit-learn's auc(recall,
// precision) over precision_recall_curve): the curve from (recall 0,
// precision 1) through each threshold, in decreasing score, up to the
// first at which every positive is in. tps and fps are as for
// averagePrecision.
func trapezoidPR(n, positives int, tps, fps func(k int) int) float64 {
	if positives == 0 {
		return math.NaN()
	}
	area, r0, p0 := 0.0, 0.0, 1.0
	for k := 1; k <= n; k++ {
		tp, fp := tps(k), fps(k)
		r, p := float64(tp)/float64(positives), float64(tp)/float64(tp+fp)
		area += (r - r0) * (p + p0) / 2
		r0, p0 = r, p
		if tp == positives {
			break
		}
	}
	return area
}

func auprInTrapezoid(pts []Point) float64  { return trapezoidPR(prProblem(pts, false)) }
func auprOutTrapezoid(pts []Point) float64 { return trapezoidPR(prProblem(pts, true)) }

// AUPRIn is scikit-learn's average_precision_score(labels < C, values): known
// images positive, score value. NaN without known images.
func AUPRIn(values []float64, labels []int, numClasses int) float64 {
	return auprIn(sweep(values, nil, labels, numClasses))
}

// AUPROut is scikit-learn's average_precision_score(labels == C, -values):
// unknown images positive, score -value. NaN without unknown images.
func AUPROut(values []float64, labels []int, numClasses int) float64 {
	return auprOut(sweep(values, nil, labels, numClasses))
}

func detectionError(pts []Point) float64 {
	if k, u := counted(pts); k == 0 || u == 0 {
		return math.NaN()
	}
	best := math.Inf(1)
	for _, p := range pts {
		best = math.Min(best, 0.5*(1-p.TPR)+0.5*p.FPR)
	}
	return best
}

// DetectionError is the smallest misclassification probability between known
// and unknown with equal priors, min over the ROC points of
// 0.5*(1-TPR) + 0.5*FPR (ID positive; symmetric in the convention).
// NaN unless both kinds are present.
func DetectionError(values []float64, labels []int, numClasses int) float64 {
	return detectionError(sweep(values, nil, labels, numClasses))
}

// AUPRInTrapezoid is the trapezoid area under the precision-recall curve
// with known images positive and score value (pytorch-ood's and OpenOOD's
// AUPR-IN); AUPRIn is the average precision of the same curve. NaN without
// known images.
func AUPRInTrapezoid(values []float64, labels []int, numClasses int) float64 {
	return auprInTrapezoid(sweep(values, nil, labels, numClasses))
}

// AUPROutTrapezoid is AUPRInTrapezoid with unknown images positive and
// score -value (pytorch-ood's and OpenOOD's AUPR-OUT). NaN without unknown
// images.
func AUPROutTrapezoid(values []float64, labels []int, numClasses int) float64 {
	return auprOutTrapezoid(sweep(values, nil, labels, numClasses))
}
