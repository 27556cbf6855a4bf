#!/usr/bin/python3
"""Generate the scikit-learn reference cases for the Go package ovd/metrics.

Run by hand from the repository root with Debian's interpreter and its python3-sklearn:

    /usr/bin/python3 ovd/metrics/testdata/gen_metrics.py

It rewrites ovd/metrics/testdata/metrics_golden.json, beside this script. Tests and CI never run this script;
they read the committed file. The file records the scikit-learn and numpy versions.

Conventions (those of ovd/metrics): value = score, higher = more in-distribution; pred in
0..C-1 (argmax class); label in 0..C-1 for a known image and C for an unknown one. At
threshold t an image is unknown if value < t, else it gets pred.

Each case holds its inputs (values, pred, labels, num_classes, pred_with_unknown) and:
  known_accuracy    accuracy_score over the known images
  macro_f1_plain    f1_score(labels, pred_with_unknown, average='macro', zero_division=0)
  sweep_thresholds  every distinct value, decreasing (the +inf "all unknown" point is
                    implied first and not stored: JSON has no infinity)
  sweep_f1_inf      macro-F1 with everything unknown
  sweep_f1          macro-F1 at each of sweep_thresholds, each by a fresh f1_score call
                    (the brute force the Go sweep must equal)
  best_f1           the largest of those (all unknown included)
  roc_fpr, roc_tpr  roc_curve(labels < C, values, drop_intermediate=False), first point
                    dropped (scikit-learn 1.2 puts max+1 there, Go puts +inf)
  auroc             roc_auc_score(labels < C, values)
  fpr_at_tpr95_id_positive, tnr_at_tpr95, f1_at_tpr95
                    at the first roc_curve point with tpr >= 0.95 (known positive);
                    f1_at_tpr95 is defined without unknown images too
  fpr95_ood_positive
                    roc_curve(labels == C, -values, drop_intermediate=False): fpr at the
                    first point with tpr >= 0.95 (unknown positive)
  cauroc            sklearn.metrics.auc(fpr, ccr), ccr = fraction of the correctly
                    classified known images (pred == label) with value >= t at each
                    roc_curve threshold (the reference's denominator, models/vae.py)
  oscr              the same with ccr = fraction of all known images with pred == label
                    and value >= t (the open-set classification rate)
  aupr_in, aupr_out average_precision_score(labels < C, values) and
                    average_precision_score(labels == C, -values)
  aupr_in_trapezoid, aupr_out_trapezoid
                    auc(recall, precision) of precision_recall_curve on the same two
                    problems (pytorch-ood's and OpenOOD's AUPR)
  detection_error   min over roc_curve points of 0.5*(1 - tpr) + 0.5*fpr
A number that is undefined for the case (no unknown images, ...) is null.
"""
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, auc, average_precision_score, f1_score,
                             precision_recall_curve, roc_auc_score, roc_curve)

warnings.simplefilter("ignore")


def macro_f1(labels, values, pred, C, t):
    y_pred = np.where(values < t, C, pred)
    return float(f1_score(labels, y_pred, average="macro", zero_division=0))


def case(name, values, pred, labels, C, rng):
    values = np.asarray(values, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    known = labels < C
    unknown = ~known
    pwu = pred.copy()
    if len(pwu):
        pwu[rng.random(len(pwu)) < 0.3] = C
    out = {
        "name": name, "num_classes": C,
        "values": values.tolist(), "pred": pred.tolist(), "labels": labels.tolist(),
        "pred_with_unknown": pwu.tolist(),
        "macro_f1_plain": float(f1_score(labels, pwu, average="macro", zero_division=0)),
        "known_accuracy": float(accuracy_score(labels[known], pred[known])) if known.any() else None,
    }
    thr = np.unique(values)[::-1]
    out["sweep_thresholds"] = thr.tolist()
    out["sweep_f1_inf"] = macro_f1(labels, values, pred, C, np.inf)
    out["sweep_f1"] = [macro_f1(labels, values, pred, C, t) for t in thr]
    out["best_f1"] = max([out["sweep_f1_inf"]] + out["sweep_f1"])
    both = known.any() and unknown.any()
    keys = ["roc_fpr", "roc_tpr", "auroc", "fpr_at_tpr95_id_positive", "tnr_at_tpr95",
            "f1_at_tpr95", "fpr95_ood_positive", "cauroc", "oscr", "aupr_in", "aupr_out",
            "aupr_in_trapezoid", "aupr_out_trapezoid", "detection_error"]
    for k in keys:
        out[k] = None
    if known.any():
        out["aupr_in"] = float(average_precision_score(known, values))
        precision, recall, _ = precision_recall_curve(known, values)
        out["aupr_in_trapezoid"] = float(auc(recall, precision))
    if unknown.any():
        out["aupr_out"] = float(average_precision_score(unknown, -values))
        precision, recall, _ = precision_recall_curve(unknown, -values)
        out["aupr_out_trapezoid"] = float(auc(recall, precision))
    if known.any():
        fpr, tpr, th = roc_curve(known, values, drop_intermediate=False)
        th = th.copy()
        th[0] = np.inf
        out["f1_at_tpr95"] = macro_f1(labels, values, pred, C, th[int(np.argmax(tpr >= 0.95))])
    if both:
        out["roc_fpr"] = fpr[1:].tolist()
        out["roc_tpr"] = tpr[1:].tolist()
        out["auroc"] = float(roc_auc_score(known, values))
        i = int(np.argmax(tpr >= 0.95))
        out["fpr_at_tpr95_id_positive"] = float(fpr[i])
        out["tnr_at_tpr95"] = float(1 - fpr[i])
        fo, to, _ = roc_curve(unknown, -values, drop_intermediate=False)
        out["fpr95_ood_positive"] = float(fo[int(np.argmax(to >= 0.95))])
        correct = known & (pred == labels)
        accepted = np.array([np.sum(correct & (values >= t)) for t in th])
        out["oscr"] = float(auc(fpr, accepted / known.sum()))
        if correct.any():
            out["cauroc"] = float(auc(fpr, accepted / correct.sum()))
        out["detection_error"] = float(np.min(0.5 * (1 - tpr) + 0.5 * fpr))
    return out


def noisy_pred(labels, C, acc, rng):
    pred = rng.integers(0, C, size=len(labels))
    keep = (labels < C) & (rng.random(len(labels)) < acc)
    pred[keep] = labels[keep]
    return pred


def scored(labels, C, sep, rng):
    # Known images score higher on average; values are <= 0 like the method's.
    return -np.abs(rng.normal(0, 1, len(labels)) + np.where(labels < C, 0.0, -sep)) - 0.01 * (labels == C)


def main():
    rng = np.random.default_rng(20260527)
    cases = []
    for i, (n, C, frac_unknown, sep, acc) in enumerate([
            (20, 2, 0.5, 1.0, 0.8), (57, 3, 0.3, 2.0, 0.9), (100, 10, 0.5, 1.5, 0.7),
            (200, 5, 0.2, 0.5, 0.95), (300, 10, 0.5, 3.0, 0.99), (150, 1, 0.4, 1.0, 1.0),
            (80, 4, 0.7, 0.2, 0.5), (250, 20, 0.5, 2.0, 0.85)]):
        labels = np.where(rng.random(n) < frac_unknown, C, rng.integers(0, C, n))
        pred = noisy_pred(labels, C, acc, rng)
        cases.append(case(f"random{i}", scored(labels, C, sep, rng), pred, labels, C, rng))
    for i, (n, C, levels) in enumerate([(60, 3, 3), (200, 10, 5), (120, 4, 2), (90, 2, 7)]):
        labels = np.where(rng.random(n) < 0.5, C, rng.integers(0, C, n))
        pred = noisy_pred(labels, C, 0.8, rng)
        values = np.round(scored(labels, C, 1.0, rng) * levels / 3) * 3 / levels
        cases.append(case(f"ties{i}", values, pred, labels, C, rng))
    # Every known image correct, no unknown image.
    labels = rng.integers(0, 5, 40)
    cases.append(case("all_known_correct", -rng.random(40), labels, labels, 5, rng))
    # Every image unknown.
    labels = np.full(30, 3)
    cases.append(case("all_unknown", -rng.random(30), rng.integers(0, 3, 30), labels, 3, rng))
    # All values equal: one threshold.
    labels = np.where(rng.random(25) < 0.5, 2, rng.integers(0, 2, 25))
    cases.append(case("one_value", np.full(25, -1.5), noisy_pred(labels, 2, 0.7, rng), labels, 2, rng))
    # Perfect separation and perfect classification: F1 1, AUROC 1.
    labels = np.concatenate([rng.integers(0, 4, 30), np.full(20, 4)])
    values = np.where(labels < 4, -rng.random(50), -2 - rng.random(50))
    cases.append(case("perfect", values, np.where(labels < 4, labels, 0), labels, 4, rng))
    # Reversed scores: AUROC 0.
    cases.append(case("reversed", -values - 10, np.where(labels < 4, labels, 0), labels, 4, rng))
    # Ten classes of which only 0..2 occur, in truth and prediction: the absent
    # ones must not be averaged in.
    labels = np.where(rng.random(40) < 0.3, 10, rng.integers(0, 3, 40))
    cases.append(case("absent_classes", scored(labels, 10, 1.0, rng), noisy_pred(labels, 3, 0.7, rng),
                      labels, 10, rng))
    # One image of each kind and a single image.
    cases.append(case("two", [-1.0, -2.0], [0, 1], [0, 2], 2, rng))
    cases.append(case("single_known", [-0.5], [1], [1], 3, rng))
    doc = {"generator": "ovd/metrics/testdata/gen_metrics.py", "sklearn_version": sklearn.__version__,
           "numpy_version": np.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_golden.json")
    with open(path, "w") as f:
        json.dump(doc, f, allow_nan=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
