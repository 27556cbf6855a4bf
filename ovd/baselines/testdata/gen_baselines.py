"""Golden values of the baseline detectors: baselines_golden.json.

    /usr/bin/python3 ovd/baselines/testdata/gen_baselines.py

Needs numpy and scikit-learn (Debian's python3-sklearn). For a few random feature sets (some
with correlated, rank-deficient columns) it writes the training and query features, the labels
and, computed in float64:
  mahalanobis        -min_c (x - m_c)^T P (x - m_c), m_c the class means, P the precision of
                     sklearn's EmpiricalCovariance fitted to the rows minus their class means
                     (Lee et al. 2018, tied covariance)
  layers             the same per layer of the given widths, and their sum
  relative           -min_c [(x - m_c)^T P (x - m_c) - (x - m_0)^T P_0 (x - m_0)], m_0 and P_0
                     from EmpiricalCovariance on all training rows (Ren et al. 2021)
  knn_k              -(distance to the k-th nearest training row), both scaled to unit length
                     (sklearn.preprocessing.normalize), by NearestNeighbors brute force
  energy, msp        logsumexp and max softmax of a random log-likelihood matrix (scipy)
"""
import json
import os

import numpy as np
import sklearn
from scipy.special import logsumexp, softmax
from sklearn.covariance import EmpiricalCovariance
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize


def mahalanobis(train, labels, classes, x):
    means = np.stack([train[labels == c].mean(axis=0) for c in range(classes)])
    cov = EmpiricalCovariance(assume_centered=False).fit(train - means[labels])
    p = cov.precision_
    d = np.stack([np.einsum('ij,jk,ik->i', x - m, p, x - m) for m in means], axis=1)
    return d


def case(name, rng, n, q, dims, classes, rank_deficient):
    d = sum(dims)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    centres = rng.normal(0, 2, (classes, d))
    train = centres[labels] + rng.normal(0, 1, (n, d))
    x = np.concatenate([centres[rng.integers(0, classes, q // 2)] + rng.normal(0, 1, (q // 2, d)),
                        rng.normal(0, 4, (q - q // 2, d))])
    if rank_deficient:
        # The last column repeats the first, as densenet's ensemble repeats h.
        train[:, -1] = train[:, 0]
        x[:, -1] = x[:, 0]
    out = {"name": name, "classes": classes, "widths": dims,
           "train": train.ravel().tolist(), "train_rows": n, "labels": labels.tolist(),
           "x": x.ravel().tolist(), "x_rows": q, "cols": d}
    out["mahalanobis"] = (-mahalanobis(train, labels, classes, x).min(axis=1)).tolist()
    layers, lo = [], 0
    for w in dims:
        layers.append((-mahalanobis(train[:, lo:lo + w], labels, classes, x[:, lo:lo + w]).min(axis=1)).tolist())
        lo += w
    out["layers"] = layers
    out["layers_sum"] = np.sum(np.array(layers), axis=0).tolist()
    bg = EmpiricalCovariance(assume_centered=False).fit(train)
    d0 = np.einsum('ij,jk,ik->i', x - bg.location_, bg.precision_, x - bg.location_)
    out["relative"] = (-(mahalanobis(train, labels, classes, x) - d0[:, None]).min(axis=1)).tolist()
    tn, xn = normalize(train), normalize(x)
    out["knn"] = {}
    for k in (1, 5, 50):
        if k <= n:
            dist, _ = NearestNeighbors(n_neighbors=k, algorithm='brute').fit(tn).kneighbors(xn)
            out["knn"][str(k)] = (-dist[:, -1]).tolist()
    ll = rng.normal(-50, 20, (q, classes))
    out["loglik"] = ll.ravel().tolist()
    out["energy"] = logsumexp(ll, axis=1).tolist()
    out["msp"] = softmax(ll, axis=1).max(axis=1).tolist()
    return out


def main():
    rng = np.random.default_rng(19)
    cases = [case("small", rng, 120, 40, [3, 5], 4, False),
             case("deficient", rng, 300, 60, [6, 4, 7], 5, True),
             case("wide", rng, 400, 50, [40, 24], 10, False)]
    doc = {"generator": "ovd/baselines/testdata/gen_baselines.py", "sklearn_version": sklearn.__version__,
           "numpy_version": np.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baselines_golden.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    print("wrote", len(cases), "cases to", path)


if __name__ == "__main__":
    main()
