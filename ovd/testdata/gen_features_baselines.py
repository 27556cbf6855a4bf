#!/usr/bin/python3
"""Golden values of vmdls test's baselines on a --features_out folder: features_golden.json.

    /usr/bin/python3 ovd/testdata/gen_features_baselines.py [FOLDER [OUT]]

FOLDER defaults to ovd/testdata/features_small (written by `vmdls test --features_out` from a
short MNIST run; see ovd/testdata/README.md), OUT to features_golden.json beside this script.
Tests never run it; they read the committed output. Needs numpy, scipy and scikit-learn
(Debian's python3-sklearn). Everything is float64 and independent of the Go code: only the
folder's arrays (features, labels, the KNN subset's row indices) are read.

Per unknown set (the known test set followed by that set, labels 0..C-1 and C) it computes
  mahalanobis-<layer>  -min_c (x - m_c)^T P (x - m_c) on each block of F(x) = [tap1, tap2,
                       tap3, h, mu]: m_c the class means of the training rows, P the precision
                       of sklearn's EmpiricalCovariance fitted to the rows minus their class means
  mahalanobis          the sum of the five
  relative_mahalanobis -min_c [d_c(x) - d_0(x)] on h, d_0 under EmpiricalCovariance of all rows
  knn                  -(distance to the k-th nearest of the subset's rows), both unit-normalized
                       (sklearn normalize), NearestNeighbors brute force, on h
  energy, msp          logsumexp and max softmax of l_c(x), the log-density of x under class c's
                       Gaussian on the whole F(x): mean and biased covariance of the class's rows
                       plus k*1e-6*I, k the smallest integer making every class's factorable by
                       numpy's Cholesky, plus 2 (METHOD.md section 4)
and each one's metrics by ovd/metrics/testdata/gen_metrics.py's scikit-learn definitions, with
pred = argmax_c l_c(x) (the method's class) for every baseline.
"""
import json
import os
import sys

import numpy as np
import sklearn
from scipy.special import logsumexp, softmax
from sklearn.covariance import EmpiricalCovariance
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "metrics", "testdata"))
import gen_metrics  # noqa: E402  (the metrics' own scikit-learn definitions)

METRICS = ["auroc", "tnr_at_tpr95", "fpr_at_tpr95_id_positive", "fpr95_ood_positive", "aupr_in", "aupr_out",
           "aupr_in_trapezoid", "aupr_out_trapezoid", "detection_error", "known_accuracy", "cauroc", "oscr",
           "f1_at_tpr95"]


def load(folder, name):
    return np.load(os.path.join(folder, name + ".npy"))


def tied(train, labels, classes):
    means = np.stack([train[labels == c].mean(axis=0) for c in range(classes)])
    return means, EmpiricalCovariance(assume_centered=False).fit(train - means[labels]).precision_


def sq_dists(x, means, p):
    return np.stack([np.einsum('ij,jk,ik->i', x - m, p, x - m) for m in means], axis=1)


def cholesky_ok(a):
    try:
        np.linalg.cholesky(a)
        return True
    except np.linalg.LinAlgError:
        return False


def min_jitter(cov):
    eye = np.eye(len(cov)) * 1e-6
    if cholesky_ok(cov):
        return 0
    lo, hi = 0, 1
    while not cholesky_ok(cov + hi * eye):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cholesky_ok(cov + mid * eye):
            hi = mid
        else:
            lo = mid
    return hi


def class_loglik(train, labels, classes, x):
    covs, means = [], []
    for c in range(classes):
        rows = train[labels == c]
        means.append(rows.mean(axis=0))
        covs.append(np.cov(rows, rowvar=False, bias=True))
    k = max(min_jitter(c) for c in covs) + 2
    d = train.shape[1]
    out = np.empty((len(x), classes))
    for c in range(classes):
        s = covs[c] + k * 1e-6 * np.eye(d)
        l = np.linalg.cholesky(s)
        y = np.linalg.solve(l, (x - means[c]).T)
        logdet = 2 * np.sum(np.log(np.diag(l)))
        out[:, c] = -0.5 * (d * np.log(2 * np.pi) + logdet) - 0.5 * np.sum(y * y, axis=0)
    return out, k


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "features_small")
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "features_golden.json")
    with open(os.path.join(folder, "features.json")) as f:
        meta = json.load(f)
    C, widths = meta["class_num"], meta["widths"]
    bounds = np.cumsum([0] + widths)
    train = load(folder, "train_features").astype(np.float64)
    labels = load(folder, "train_labels")
    knn_idx = load(folder, "knn_train_indices")
    h = slice(bounds[3], bounds[4])
    known = load(folder, "known_test_features").astype(np.float64)
    known_labels = load(folder, "known_test_labels")
    fitted = {}
    for i, name in enumerate(meta["layers"]):
        fitted[name] = tied(train[:, bounds[i]:bounds[i + 1]], labels, C)
    bg = EmpiricalCovariance(assume_centered=False).fit(train[:, h])
    doc = {"generator": "ovd/testdata/gen_features_baselines.py", "sklearn_version": sklearn.__version__,
           "numpy_version": np.__version__, "knn_k": int(sys.argv[3]) if len(sys.argv) > 3 else 10,
           "knn_train_rows": int(len(knn_idx)), "sets": {}}
    k = doc["knn_k"]
    nn = NearestNeighbors(n_neighbors=k, algorithm='brute').fit(normalize(train[knn_idx][:, h]))
    for name in meta["unknown_sets"]:
        unk = load(folder, "unknown_" + name + "_features").astype(np.float64)
        x = np.concatenate([known, unk])
        y = np.concatenate([known_labels, load(folder, "unknown_" + name + "_labels")])
        scores = {}
        total = np.zeros(len(x))
        for i, layer in enumerate(meta["layers"]):
            means, p = fitted[layer]
            s = -sq_dists(x[:, bounds[i]:bounds[i + 1]], means, p).min(axis=1)
            scores["mahalanobis-" + layer] = s
            total += s
        scores["mahalanobis"] = total
        means, p = fitted["h"]
        d0 = np.einsum('ij,jk,ik->i', x[:, h] - bg.location_, bg.precision_, x[:, h] - bg.location_)
        scores["relative_mahalanobis"] = -(sq_dists(x[:, h], means, p) - d0[:, None]).min(axis=1)
        dist, _ = nn.kneighbors(normalize(x[:, h]))
        scores["knn"] = -dist[:, -1]
        ll, jitter = class_loglik(train, labels, C, x)
        scores["energy"] = logsumexp(ll, axis=1)
        scores["msp"] = softmax(ll, axis=1).max(axis=1)
        pred = ll.argmax(axis=1)
        rng = np.random.default_rng(0)  # gen_metrics.case draws a pred_with_unknown it does not use here
        entry = {"jitter_k": int(jitter), "detectors": {}}
        for det, v in scores.items():
            m = gen_metrics.case(det, v, pred, y, C, rng)
            summary = {key: m[key] for key in METRICS}
            summary["macro_f1"] = m["best_f1"]
            entry["detectors"][det] = {"values": v.tolist(), "metrics": summary}
        doc["sets"][name] = entry
    with open(out_path, "w") as f:
        json.dump(doc, f)
    print("wrote", out_path)


if __name__ == "__main__":
    main()
