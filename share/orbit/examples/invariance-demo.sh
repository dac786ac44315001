#!/bin/bash
# Invariance demonstration (issue 6, item 3).
#
# A small PointNet-like network on raw coordinates (a fixed random MLP applied
# to every point, then max-pooled) is not rotation invariant. Behind
# orbit-canonicalize (PCA canonical pose) or frame averaging over the 8 O(3)
# PCA frames, the same network is invariant to float64 round-off; MDS
# coordinates are invariant under rotations, reflections and translations.
#
# Usage: share/orbit/examples/invariance-demo.sh [WORKDIR]
# Needs the orbit tools on PATH (or ORBIT_BIN), the real shapes (ORBIT_DATA,
# default .cache/data; `make data` fetches them) and python3 with numpy and h5py.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
[[ -n ${ORBIT_BIN:-} ]] && export PATH="$ORBIT_BIN:$PATH"
DATA=${ORBIT_DATA:-$ROOT/.cache/data}
PY=${PYTHON:-/usr/bin/python3}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK" && cd "$WORK"
command -v orbit-eval-invariance >/dev/null || { echo "orbit tools not on PATH (set ORBIT_BIN)" >&2; exit 1; }
[[ -d $DATA/meshes ]] || { echo "no shapes in $DATA (run make data)" >&2; exit 1; }

# Eight real shapes, 1024 vertices each, in arbitrary poses.
$PY - "$DATA" <<'PY'
import sys, numpy as np, h5py
def off(p):
    t = open(p).read().split()
    i = 1 if t[0] == 'OFF' else 0
    nv = int(t[i]); i += 3
    return np.array(t[i:i + 3 * nv], float).reshape(nv, 3)
rng = np.random.default_rng(0)
clouds = []
for name in ['bunny00', 'armadillo', 'elephant', 'camel', 'cow', 'ChineseDragon-10kv', 'bunny00', 'armadillo']:
    v = off(f'{sys.argv[1]}/meshes/{name}.off')
    x = v[rng.choice(len(v), 1024, replace=False)]
    x = (x - x.mean(0)) / np.abs(x - x.mean(0)).max()
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    clouds.append(x @ (q * np.sign(np.diag(r))).T + 0.2 * rng.normal(size=3))
with h5py.File('clouds.h5', 'w') as f:
    f['points'] = np.stack(clouds)
PY

# The model under test: per-point MLP 3 -> 64 -> 64 (tanh, fixed random weights), max-pooled to 64 features.
cat > mlp.py <<'PY'
import sys, numpy as np, h5py
rng = np.random.default_rng(42)
w1, b1 = rng.normal(size=(3, 64)), rng.normal(size=64) * 0.1
w2, b2 = rng.normal(size=(64, 64)) / 8, rng.normal(size=64) * 0.1
with h5py.File(sys.argv[1], 'r') as f:
    x = f['points'][()]
h = np.tanh(np.tanh(x @ w1 + b1) @ w2 + b2)
with h5py.File(sys.argv[2], 'w') as f:
    f['output'] = h.max(axis=1)
PY
export PATH="$WORK/pybin:$PATH"; mkdir -p pybin; ln -sf "$PY" pybin/python3

run() {  # run NAME ARGS...: evaluate and keep the JSON summary
  local name=$1; shift
  orbit-eval-invariance clouds.h5 --samples 32 --json -q "$@" > "$name.json"
}
run raw        --group SO3 --model-cmd 'python3 mlp.py {in} {out}' --plot raw_vs_angle.svg
run canon      --group SO3 --model-cmd 'python3 mlp.py {in} {out}' --canonicalize SO3 --plot canon_vs_angle.svg
run canon_se3  --group SE3 --model-cmd 'python3 mlp.py {in} {out}' --canonicalize SE3
run fa_o3      --group O3  --model-cmd 'python3 mlp.py {in} {out}' --frame-average O3
run mds        --group E3+perm --per-point --model-cmd 'orbit-canonicalize {in} --method mds --landmarks 128 -q -o {out}' --model-output /points --no-lie
run mds_raw    --group E3  --model-cmd 'cat {in} > {out}' --model-output /points --no-lie

# The same pipeline by hand: canonicalize, run the model on canonical clouds.
orbit-canonicalize clouds.h5 --group SO3 -q -o canon.h5
python3 mlp.py canon.h5 features.h5

$PY - <<'PY'
import json
rows = [('raw coordinates, SO3', 'raw'), ('orbit-canonicalize SO3, SO3', 'canon'),
        ('orbit-canonicalize SE3, SE3', 'canon_se3'), ('frame averaging O3 (8 frames), O3', 'fa_o3'),
        ('MDS coordinates, E3 + permutations', 'mds'), ('raw points as output, E3', 'mds_raw')]
print(f"{'model, group':42s} {'max abs':>10s} {'mean abs':>10s} {'max rel':>10s}  verdict")
for label, name in rows:
    j = json.load(open(name + '.json'))
    print(f"{label:42s} {j['max_abs_error']:10.2e} {j['mean_abs_error']:10.2e} {j['max_rel_error']:10.2e}  {j['verdict']}")
PY
echo "plots: $WORK/raw_vs_angle.svg $WORK/canon_vs_angle.svg"
