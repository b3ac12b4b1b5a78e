#!/usr/bin/env python3
"""Reference for the representation test: numpy's 1-D PCA of two languages' vectors and the Pearson r
of their coordinates, paired by item.

Usage: pca_correlation_reference.py CASES.json OUT.json
CASES.json is a list of {"a": [[...], ...], "b": [[...], ...]} (rows = items, parallel between a and b);
OUT.json receives one r per case.
"""
import json
import sys

import numpy as np


def pair_correlation(a, b):
    # float32 first, as the C++ side receives hidden states.
    a = np.asarray(a, dtype=np.float32).astype(np.float64)
    b = np.asarray(b, dtype=np.float32).astype(np.float64)
    both = np.vstack([a, b])
    centred = both - both.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ vt[0]
    n = a.shape[0]
    return float(np.corrcoef(coordinates[:n], coordinates[n:])[0, 1])


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    with open(sys.argv[2], "w") as f:
        json.dump([pair_correlation(case["a"], case["b"]) for case in cases], f)


if __name__ == "__main__":
    main()
