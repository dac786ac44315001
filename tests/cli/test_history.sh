#!/usr/bin/env bash
# History survives a pipeline through stdin: orbit-register writes the source
# stream's history lines before its own (it kept only its own line before).
. "$(dirname "$0")/lib.sh"
py '
import numpy as np, h5py
with h5py.File("cloud.h5", "w") as f:
    f["points"] = np.random.default_rng(4).normal(size=(400, 3)) * [3, 2, 1]
'
orbit-transform cloud.h5 --rotate 10,0,0 -q -o - | orbit-transform - --translate 0.1,0,0 -q -o - \
  | orbit-register - cloud.h5 --method icp -q -o T.h5 > /dev/null
py '
import h5py
h = h5py.File("T.h5").attrs["history"].splitlines()
assert len(h) == 3, h
assert "orbit-transform cloud.h5 --rotate" in h[0] and "orbit-transform - --translate" in h[1] and "orbit-register -" in h[2], h
'
echo "history kept through stdin"
