// Package report writes the results of one evaluation of the detector for
// people, into one directory. It builds on ovd/metrics and the standard
// library (the plots are drawn by its own rasterizer and SVG writer, no plotting library);
// ovd.Test calls Write with the method's run and its ablations. Write(dir,
// runs, meta) produces:
//
//   - results.json: the metrics.Summary of the first run (the full method) as
//     top-level keys (macro_f1, auroc, tnr_at_tpr95, fpr95_ood_positive,
//     known_accuracy, ...; null where undefined), "method" (its name), the
//     summaries of the further runs under "ablations" keyed by run name, a
//     "conventions" object saying which class is positive for each rate, a
//     "files" list of what was written, and every key of meta.
//   - thresholds.csv: one row per threshold of the exact sweep, decreasing,
//     the first at +Inf (everything unknown): threshold, macro_f1, tpr, fpr,
//     ccr (fraction of known images accepted and correctly classified),
//     known_accepted, unknown_accepted. Above MaxRows rows it keeps MaxRows
//     evenly spaced rows plus the first, the last, the best-F1 and the
//     TPR-95% rows; results.json always comes from the full sweep.
//   - roc.csv: fpr, tpr, threshold (known positive), thinned the same way.
//   - scores.csv: one row per image: index, label, value, pred, then (for
//     the first run) the extra per-image columns given to Write; ovd.Test
//     adds the reconstruction distance and weight.
//   - roc.png (ROC and the chance diagonal, AUROC in the title, the TPR-95%
//     operating point marked), f1.png (macro-F1 against threshold, best
//     threshold marked) and hist.png (the distribution of value for known and
//     unknown images, each normalized to its own count), each with an SVG
//     twin (roc.svg, ...) that has real text and the same marks. The
//     threshold axis of f1 and hist runs from the 1st percentile of the known
//     values (or the unknown median if lower) to the largest value; smaller
//     values are drawn at the left edge. Ticks are round numbers (1, 2 or 5
//     times a power of ten apart); axes are named in words.
//   - roc-all.png and roc-all.svg, when there are ablations: every run's ROC
//     curve overlaid, each with its TPR-95% point, and a legend of AUROCs.
//
// A run marked Baseline goes under "baselines" in results.json instead of
// "ablations" (a detector compared with the method, not a part of it).
// WriteSets writes one fit against several unknown sets: with one set,
// Write's files; with several, Write's files of each set, its own
// results.json included, in a sub-folder named after the set, and at the
// top the mean over the sets; either way results.json adds "unknown_sets",
// "per_set" and "mean_over_sets", and results.csv and results.md (a
// Markdown table, percentages) list every (run, set) and the means.
//
// The first run's tables and plots have the plain names above; a further run
// named N writes thresholds-N.csv, roc-N.csv, scores-N.csv and roc-N, f1-N
// and hist-N as PNG and SVG. Each file is written to a temporary file in dir, synced and
// renamed, so a crash leaves either the old file or the new one.
package report
