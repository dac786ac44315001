"""Non-invariant test model: the coordinates of each cloud's first point.
It moves with every rotation and changes under permutations.
Usage: first_point.py IN.h5 OUT.h5"""
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f:
    x = f["points"][()]
with h5py.File(sys.argv[2], "w") as f:
    f["output"] = x[:, 0, :]
