#!/usr/bin/env bash
# The demo: a real pipeline on real shapes, printing what each step did.
# Run through `make demo` (which builds the tools and fetches the data), or with
# ORBIT_BIN (the tools' folder) and ORBIT_DATA (the data folder) set.
set -euo pipefail
bin=${ORBIT_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}
data=${ORBIT_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/.cache/data}
export PATH="$bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }

step "Sample 2048 points on the surface of the Stanford bunny (a real scan, from Debian's CGAL data)"
orbit-convert "$data/meshes/bunny00.off" --sample 2048 --seed 1 --normalize -o bunny.h5 -q
orbit-info bunny.h5

step "Make a partial, moved, noisy view of it (RPM-Net protocol: 70% crop, rotation up to 45 degrees, noise 0.01)"
orbit-transform bunny.h5 --crop 0.7 --seed 2 --resample 717 --noise 0.01 -o ref.h5 -q
orbit-transform bunny.h5 --random-rotation 45 --random-translation 0.5 --crop 0.7 --noise 0.01 \
  --resample 717 --seed 3 -o src.h5 -q
orbit-info src.h5 | sed 's/^/   /'

step "Register the source view onto the reference (default method: FPFH and Gaussian-mixture/OT hypotheses, verified, then ICP)"
echo "   ground truth: src.h5:/transform, the motion orbit-transform applied (the registration is its inverse)"
orbit-register src.h5 ref.h5 --ground-truth src.h5:/transform -o T.h5 --json > register.json
/usr/bin/python3 - <<'PY'
import json
j = json.load(open("register.json"))
flat = {}
def walk(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict): walk(v, prefix + k + ".")
        elif not isinstance(v, list): flat[prefix + k] = v
walk(j)
for k in sorted(flat):
    if any(s in k for s in ("rre", "rte", "chamfer", "fitness", "recall", "seconds", "method")):
        print(f"   {k:32s} {flat[k]}")
PY

step "Optimal transport: debiased Sinkhorn divergence between the views, before and after registration"
orbit-transform src.h5 --transform T.h5 -o aligned.h5 -q
for pair in "src.h5 ref.h5 before" "aligned.h5 ref.h5 after"; do
  set -- $pair
  orbit-sinkhorn "$1" "$2" --divergence --blur 0.05 --scaling 0.9 --json > ot.json
  /usr/bin/python3 -c "import json,sys; j=json.load(open('ot.json')); print(f'   {sys.argv[1]:6s} divergence {j[\"divergence\"]:.6f}  ({j[\"seconds\"]:.3f} s)')" "$3"
done

step "Canonicalize 16 uniformly rotated copies of the bunny: their canonical forms coincide"
orbit-transform bunny.h5 --copies 16 --random-rotation uniform --seed 6 -o rotated.h5 -q
orbit-canonicalize rotated.h5 --group SO3 -o canon.h5 -q
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
r = h5py.File("rotated.h5")["points"][:]
c = h5py.File("canon.h5")["points"][:]
print(f"   spread of the rotated copies   {np.abs(r - r[0]).max():.3e}")
print(f"   spread of the canonical copies {np.abs(c - c[0]).max():.3e}")
PY

step "Invariance test of a model that is not invariant (it returns the first point), alone and behind canonicalization"
cat > first_point.py <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    x = f["points"][:]
with h5py.File(sys.argv[2], "w") as f:
    f["output"] = x[:, 0, :]
PY
for wrap in "" "--canonicalize SO3"; do
  orbit-eval-invariance rotated.h5 --group SO3 --samples 8 --no-lie --model-cmd "/usr/bin/python3 first_point.py {in} {out}" \
    --output-type invariant $wrap --json -q > inv.json
  /usr/bin/python3 -c "
import json,sys; j=json.load(open('inv.json'))
print(f'   {sys.argv[1] or \"raw model\":22s} max abs error {j[\"max_abs_error\"]:.3e}  verdict: {j[\"verdict\"]}')" "$wrap"
done

step "Normalizing flow: fit a neural spline flow to 20000 points of the bunny's surface, then sample it"
orbit-convert "$data/meshes/bunny00.off" --sample 20000 --seed 7 --normalize -o surface.h5 -q
orbit-train-flow surface.h5 --model nsf --layers 6 --hidden 64 --epochs 30 --seed 1 -o flow.h5 --json -q > flow.json
orbit-sample-flow flow.h5 -n 2000 --seed 2 -o samples.h5 -q
orbit-density flow.h5 surface.h5 -o logp.h5 --json -q > density.json
/usr/bin/python3 - <<'PY'
import json
h = json.load(open("flow.json"))["history"]
print(f"   validation negative log-likelihood: epoch 1 {h['val_loss'][0]:.3f}, epoch {len(h['val_loss'])} {h['val_loss'][-1]:.3f} nats"
      f" ({sum(h['seconds']):.1f} s of training)")
d = json.load(open("density.json"))
print(f"   mean log-density of the surface points: {d['mean_logp']:.3f} +- {d['stderr_logp']:.3f} nats")
PY
echo
echo "Done. Every file above carries its history: orbit-info <file> shows how it was made."
