#!/usr/bin/python3
"""How well the reconstruction weight alone separates known from unknown images.

Usage: /usr/bin/python3 scripts/recon_weight_auroc.py TEST_OUTPUT_DIR

Reads scores.csv (the weighted run, with its recon_distance column) and scores-vmdlsb.csv that
`vmdls test --ae_features` writes, and prints the AUROC (known positive) of -r alone, the medians
and 90th percentiles of r per set, and the AUROC of the weighted and unweighted scores
recomputed from the files. Needs Debian's python3-sklearn. docs/results.md quotes its output.
"""
import csv
import statistics
import sys

from sklearn.metrics import roc_auc_score


def main(d, num_classes=10):
    rows = list(csv.DictReader(open(d + "/scores.csv")))
    known = [int(r["label"]) < num_classes for r in rows]
    r = [float(x["recon_distance"]) for x in rows]
    print("AUROC of -r alone (known positive): %.4f" % roc_auc_score(known, [-v for v in r]))
    rk = sorted(v for v, k in zip(r, known) if k)
    ru = sorted(v for v, k in zip(r, known) if not k)
    print("r median known %.5g unknown %.5g; 90th percentile known %.5g unknown %.5g"
          % (statistics.median(rk), statistics.median(ru), rk[int(0.9 * len(rk))], ru[int(0.9 * len(ru))]))
    b = list(csv.DictReader(open(d + "/scores-vmdlsb.csv")))
    print("AUROC unweighted (scores-vmdlsb.csv): %.4f" % roc_auc_score(known, [float(x["value"]) for x in b]))
    print("AUROC weighted (scores.csv): %.4f" % roc_auc_score(known, [float(x["value"]) for x in rows]))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
