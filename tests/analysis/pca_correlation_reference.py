#!/usr/bin/env python3
"""Reference for the representation test: numpy's 1-D PCA of two languages' vectors and the Pearson r
of their coordinates, paired by item.

Also the study's measure (knowledge_finding.ipynb): one 1-D PCA fitted to several languages' vectors
stacked, each language's rows projected onto it, and np.corrcoef of two languages' coordinates.

Usage: pca_correlation_reference.py CASES.json OUT.json
CASES.json is a list of cases, each either {"a": [[...], ...], "b": [[...], ...]} (rows = items,
parallel between a and b): a per-pair fit, or {"languages": [[[...], ...], ...], "fit": [indices],
"pairs": [[i, j], ...]}: a joint fit. OUT.json receives per case one r, or the list of the pairs' r.
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


def joint_correlations(languages, fit, pairs):
    vectors = [np.asarray(v, dtype=np.float32).astype(np.float64) for v in languages]
    stacked = np.vstack([vectors[i] for i in fit])
    mean = stacked.mean(axis=0)
    _, _, vt = np.linalg.svd(stacked - mean, full_matrices=False)
    coordinates = [(v - mean) @ vt[0] for v in vectors]
    return [float(np.corrcoef(coordinates[i], coordinates[j])[0, 1]) for i, j in pairs]


def run_case(case):
    if "languages" in case:
        return joint_correlations(case["languages"], case["fit"], case["pairs"])
    return pair_correlation(case["a"], case["b"])


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    with open(sys.argv[2], "w") as f:
        json.dump([run_case(case) for case in cases], f)


if __name__ == "__main__":
    main()
