"""Per-point attributions for orbit-eval-invariance --output-type explanation:
each point's squared distance to the centroid (invariant explanations), or its
height with `height` (attributions that do not follow rotations)."""
import sys

import h5py
import numpy as np

mode = sys.argv[1]
with h5py.File(sys.argv[2]) as f:
    x = f["points"][:]
if mode == "distance":
    e = ((x - x.mean(axis=1, keepdims=True)) ** 2).sum(axis=2)
else:
    e = x[:, :, 2] + 3.0
with h5py.File(sys.argv[3], "w") as f:
    f["output"] = e
