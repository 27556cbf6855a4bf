// Package metrics scores an out-of-distribution detector from the numbers of
// pass 2 of the evaluation (METHOD.md section 4), in float64. It depends on
// the standard library only, so it scores any detector's output, not only
// ovd's; ovd/report and the vmdls command build on it. Compute gives every
// metric at once as a Summary (the keys of results.json); the single
// metrics (AUROC, BestMacroF1, FPR95OODPositive, ...), ROC and Sweep are
// there for callers that need one number or the curve.
//
// Every function takes the same inputs:
//
//   - values: value(x) per image; higher means more in-distribution.
//   - pred: the argmax class per image, 0..C-1.
//   - labels: the true label per image, 0..C-1 for a known image and C for an
//     unknown (out-of-distribution) one.
//   - numClasses: C.
//
// The decision rule at threshold t is the method's: an image is unknown if
// value < t, else it gets pred. Thresholds are swept over every distinct value
// exactly (one point per distinct value, ties kept together, as scikit-learn's
// roc_curve with drop_intermediate=False), plus a first point at t = +Inf where
// every image is unknown. Rates name their positive class: "ID positive" means
// known images are the positives and the score is value; "OOD positive" means
// unknown images are the positives and the score is -value.
//
// A metric that is undefined for the input (an ROC with no unknown images, an
// accuracy with no known images) is NaN; Summary writes it to JSON as null.
//
// Inputs of different lengths, labels outside 0..C, pred outside 0..C-1, NaN
// and +Inf values (-Inf is fine) are programming errors and make the functions panic; Validate reports
// them as an error for callers that prefer to check first.
package metrics
