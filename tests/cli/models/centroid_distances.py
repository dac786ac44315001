"""Invariant test model: quantiles of the distances from each point to the
cloud's centroid. Unchanged by rotations, reflections, translations and
permutations of the points. Usage: centroid_distances.py IN.h5 OUT.h5"""
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    x = f["points"][()]  # [B, N, D]
d = np.linalg.norm(x - x.mean(axis=1, keepdims=True), axis=2)
q = np.quantile(d, np.linspace(0.0, 1.0, 9), axis=1).T  # [B, 9]
with h5py.File(sys.argv[2], "w") as f:
    f["output"] = q
