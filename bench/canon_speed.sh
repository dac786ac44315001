#!/bin/bash
# Speed of PCA canonicalization against the time to read the same clouds from HDF5.
# Target (issue 6): canonicalizing B=10000 clouds of N=2048 points takes at most 2x
# the time of reading them. Also runs a NumPy peer (batched eigh) on the same data.
# Usage: bench/canon_speed.sh [BUILD_DIR] [B] [N]      (needs ~3 GB of memory and disk)
set -euo pipefail
BUILD=${1:-build}
B=${2:-10000}
N=${3:-2048}
BIN=$(cd "$BUILD/bin" && pwd)
PY=/usr/bin/python3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
$PY - "$B" "$N" <<'PY'
import sys, numpy as np, h5py
b, n = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.normal(size=(b, n, 3)) * np.array([3.0, 2.0, 1.0]) + rng.normal(size=(b, 1, 3))
x += 0.3 * x ** 2 / 3  # skewed, so every cloud has a well-defined canonical pose
with h5py.File('clouds.h5', 'w') as f:
    f['points'] = x
PY
cat clouds.h5 > /dev/null  # warm the page cache: both sides read from memory
for threads in 1 0; do
  "$BIN/orbit-canonicalize" clouds.h5 --group SO3 -j $threads -q --json -o canon.h5 > orbit_$threads.json
done
/usr/bin/time -f "%e" -o wall.txt "$BIN/orbit-canonicalize" clouds.h5 --group SO3 -q --json -o canon.h5 > orbit.json
$PY - <<'PY'
import json, time, h5py, numpy as np
t = time.perf_counter()
with h5py.File('clouds.h5') as f:
    x = f['points'][()]
read_py = time.perf_counter() - t
# NumPy peer: the same PCA canonical pose (centroid, covariance, eigh, third-moment signs).
t = time.perf_counter()
c = x.mean(axis=1, keepdims=True)
xc = x - c
cov = np.einsum('bni,bnj->bij', xc, xc) / x.shape[1]
w, v = np.linalg.eigh(cov)
v = v[:, :, ::-1]
v[:, :, 2] *= np.sign(np.linalg.det(v))[:, None]
y = np.einsum('bni,bij->bnj', xc, v)
s = np.sign((y ** 3).mean(axis=1))
s[:, 2] = s[:, 0] * s[:, 1]
canon = np.einsum('bni,bij->bnj', x, v * s[:, None, :])
peer = time.perf_counter() - t
ref = h5py.File('canon.h5')['points'][()]
agree = np.abs(ref - canon).max()
o1, o = json.load(open('orbit_1.json')), json.load(open('orbit.json'))
wall = float(open('wall.txt').read().split()[-1])
b, n = x.shape[:2]
print(f"clouds {b} x {n} points, float64 ({x.nbytes / 1e6:.0f} MB)")
print(f"orbit read (HDF5 -> clouds)      {o['read_s']:.3f} s")
print(f"orbit canonicalize, 1 thread     {o1['canon_s']:.3f} s   ratio to read {o1['canon_s'] / o['read_s']:.2f}")
print(f"orbit canonicalize, all threads  {o['canon_s']:.3f} s   ratio to read {o['canon_s'] / o['read_s']:.2f}  (target <= 2)")
print(f"orbit write                      {o['write_s']:.3f} s")
print(f"orbit-canonicalize end to end    {wall:.3f} s   ratio to h5py read {wall / read_py:.2f}")
print(f"h5py read                        {read_py:.3f} s")
print(f"numpy peer canonicalize          {peer:.3f} s   orbit speed-up {peer / o['canon_s']:.1f}x (1 thread {peer / o1['canon_s']:.1f}x)")
print(f"max |orbit - numpy| canonical coordinates {agree:.2e}")
PY
