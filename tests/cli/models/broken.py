"""A model that fails in the ways the evaluator must report.
Usage: broken.py MODE IN.h5 OUT.h5 with MODE crash | nooutput | wrongshape | slow"""
import sys
import time

import h5py

mode, src, dst = sys.argv[1:4]
if mode == "crash":
    print("loading weights...", file=sys.stderr)
    raise ValueError("weights file model.pt not found")
if mode == "slow":
    time.sleep(30)
if mode == "wrongshape":
    with h5py.File(dst, "w") as f:
        f["output"] = [[1.0, 2.0]]
