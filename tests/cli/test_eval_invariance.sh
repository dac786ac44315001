#!/bin/bash
# orbit-eval-invariance with external Python models: an invariant one and a
# non-invariant one classified correctly, wrappers, reports, failing commands.
MODELS="$(cd "$(dirname "$0")" && pwd)/models"
. "$(dirname "$0")/lib.sh"
need_data
# The model commands call python3: make it the one with numpy and h5py.
mkdir -p pybin && ln -sf /usr/bin/python3 pybin/python3 && export PATH="$TMP/pybin:$PATH"

for m in bunny00 armadillo elephant cow; do orbit-convert "$ORBIT_DATA/meshes/$m.off" -q -o $m.h5; done
py "
import numpy as np, h5py
off = lambda name: h5py.File(name + '.h5')['points'][:]  # the vertices, through orbit-convert's OFF reader
rng = np.random.default_rng(3)
clouds = []
for name in ['bunny00', 'armadillo', 'elephant', 'cow']:
    v = off(name)
    x = v[rng.choice(len(v), 512, replace=False)]
    clouds.append(x / np.abs(x - x.mean(0)).max())
with h5py.File('clouds.h5', 'w') as f:
    f['points'] = np.stack(clouds)
"

# The issue's invocation, with an invariant model (centroid-distance quantiles).
cp "$MODELS/centroid_distances.py" model.py
orbit-eval-invariance clouds.h5 --group SO3 --samples 32 --model-cmd 'python3 model.py {in} {out}' --output-type invariant --json > inv.json
py "
import json
j = json.load(open('inv.json'))
print('invariant model: max abs', j['max_abs_error'], 'max rel', j['max_rel_error'], 'NV', j['normalized_variance'])
assert j['verdict'] == 'invariant' and j['passed'] and j['max_abs_error'] < 1e-9, j
assert j['elements'] == 32 and j['clouds'] == 4 and j['output_shape'] == [9]
assert set(j['lie_derivative']) == {'rotate_x', 'rotate_y', 'rotate_z'}
assert all(v['max'] < 1e-6 for v in j['lie_derivative'].values())
assert j['normalized_variance'] < 1e-12
"

# The same invocation with a model that is not invariant (the first point).
cp "$MODELS/first_point.py" model.py
orbit-eval-invariance clouds.h5 --group SO3 --samples 32 --model-cmd 'python3 model.py {in} {out}' --output-type invariant --json -o report.h5 --plot err.svg > fp.json
py "
import json, h5py
j = json.load(open('fp.json'))
print('first point: max abs', j['max_abs_error'], 'NV', j['normalized_variance'])
assert j['verdict'] == 'not invariant' and not j['passed'] and j['max_abs_error'] > 0.1, j
assert j['normalized_variance'] > 0.05
f = h5py.File('report.h5')
assert f.attrs['orbit_kind'] == 'report'
assert f['errors/abs_max'].shape == (4, 32) and f['elements/transform'].shape == (32, 4, 4)
assert f['per_element/abs_max'].shape == (32,) and f['lie/rotate_z'].shape == (4,)
assert json.loads(f.attrs['summary'])['verdict'] == 'not invariant'
"
grep -q "<svg" err.svg || fail "no SVG plot"
expect_error 1 orbit-eval-invariance clouds.h5 --samples 4 --model-cmd 'python3 model.py {in} {out}' --require

# Declared equivariant, the first point is exactly equivariant under rotations and translations ...
orbit-eval-invariance clouds.h5 --group SE3 --samples 8 --model-cmd 'python3 model.py {in} {out}' --output-type points --json > eq.json
# ... but not under permutations.
orbit-eval-invariance clouds.h5 --group SE3+perm --samples 8 --model-cmd 'python3 model.py {in} {out}' --output-type points --json > eqp.json
# Behind canonicalization or frame averaging, it becomes invariant.
orbit-eval-invariance clouds.h5 --group SO3 --samples 16 --model-cmd 'python3 model.py {in} {out}' --canonicalize SO3 --json > canon.json
orbit-eval-invariance clouds.h5 --group O3 --samples 16 --model-cmd 'python3 model.py {in} {out}' --frame-average O3 --output-type points --json > fa.json
py "
import json
eq, eqp, c, fa = (json.load(open(n)) for n in ['eq.json', 'eqp.json', 'canon.json', 'fa.json'])
assert eq['verdict'] == 'equivariant' and eq['max_abs_error'] < 1e-12, eq
assert eqp['verdict'] == 'not equivariant', eqp
print('canonicalized first point: max abs', c['max_abs_error'], '; frame-averaged (points):', fa['max_abs_error'])
assert c['verdict'] == 'invariant' and c['max_abs_error'] < 1e-9, c
assert fa['verdict'] == 'equivariant' and fa['max_abs_error'] < 1e-9, fa
"

# Finite groups exhaustively; labels; streams (no {in}/{out}); orbit's own tool as the model.
orbit-eval-invariance clouds.h5 --group C4 --exhaustive --axis y --model-cmd 'python3 model.py {in} {out}' --output-type labels --json > c4.json
orbit-eval-invariance clouds.h5 --group E3+perm --samples 6 --batch-size 10 --model-cmd "python3 $MODELS/centroid_distances.py /dev/stdin /dev/stdout" --json > stream.json
orbit-eval-invariance clouds.h5 --group E3 --samples 6 --model-cmd 'orbit-canonicalize {in} --method mds --landmarks 64 -q -o {out}' --model-output /points --json > mds.json
py "
import json
c4, s, m = (json.load(open(n)) for n in ['c4.json', 'stream.json', 'mds.json'])
assert c4['elements'] == 4 and 0 <= c4['consistency'] < 1, c4
assert s['verdict'] == 'invariant' and s['model_calls'] > 1, s
print('MDS coordinates under E3: max abs', m['max_abs_error'])
assert m['verdict'] == 'invariant' and m['max_abs_error'] < 1e-9, m
"

# Same seed, same numbers; another seed, other elements.
orbit-eval-invariance clouds.h5 --samples 4 --seed 5 --no-lie --model-cmd 'python3 model.py {in} {out}' --json > s1.json
orbit-eval-invariance clouds.h5 --samples 4 --seed 5 --no-lie --model-cmd 'python3 model.py {in} {out}' --json > s2.json
orbit-eval-invariance clouds.h5 --samples 4 --seed 6 --no-lie --model-cmd 'python3 model.py {in} {out}' --json > s3.json
py "
import json
a, b, c = (json.load(open(n)) for n in ['s1.json', 's2.json', 's3.json'])
assert a['max_abs_error'] == b['max_abs_error'] and a['max_abs_error'] != c['max_abs_error']
"

# Failing model commands: one line naming the failure, with the command's last stderr line.
B="python3 $MODELS/broken.py"
expect_error 1 orbit-eval-invariance clouds.h5 --samples 2 --model-cmd "$B crash {in} {out}"
grep -q "exit status 1: .* :: ValueError: weights file model.pt not found" "$TMP/.err" || fail "crash not reported: $(cat "$TMP/.err")"
expect_error 1 orbit-eval-invariance clouds.h5 --samples 2 --model-cmd "$B nooutput {in} {out}"
grep -q "wrote no output" "$TMP/.err" || fail "missing output not reported"
expect_error 1 orbit-eval-invariance clouds.h5 --samples 2 --model-cmd "$B wrongshape {in} {out}"
grep -q "has shape \[1,2\]" "$TMP/.err" || fail "wrong shape not reported"
expect_error 1 orbit-eval-invariance clouds.h5 --samples 2 --timeout 1 --model-cmd "$B slow {in} {out}"
grep -q "timed out after 1 s" "$TMP/.err" || fail "timeout not reported"
expect_error 1 orbit-eval-invariance clouds.h5 --samples 2 --model-cmd "no-such-program {in} {out}"
grep -q "exit status 127" "$TMP/.err" || fail "missing program not reported"

# Explanations: per-point attributions that follow the points, and ones that do not.
orbit-eval-invariance clouds.h5 --group SE3+perm --samples 6 --output-type explanation \
  --model-cmd "python3 $MODELS/saliency.py distance {in} {out}" --json -o expl.h5 > expl.json
orbit-eval-invariance clouds.h5 --group SO3 --samples 6 --output-type explanation \
  --model-cmd "python3 $MODELS/saliency.py height {in} {out}" --json > height.json || true
py "
import json, h5py
a, b = json.load(open('expl.json')), json.load(open('height.json'))
assert a['passed'] and a['verdict'] == 'invariant', a['verdict']
assert abs(a['explanation_equivariance'] - 1) < 1e-9, a['explanation_equivariance']
assert a['explanation_invariance'] < 0.99, a['explanation_invariance']   # permuted points: raw cosines drop
assert not b['passed'] and b['explanation_equivariance'] < 0.99, b
assert h5py.File('expl.h5')['explanation/equivariance'].shape == (4, 6)
"

# Usage errors.
expect_error 2 orbit-eval-invariance clouds.h5 --group SO3 --exhaustive --model-cmd 'true'
expect_error 2 orbit-eval-invariance clouds.h5 --group SU3 --model-cmd 'true'
expect_error 2 orbit-eval-invariance clouds.h5 --output-type banana --model-cmd 'true'
expect_error 2 orbit-eval-invariance clouds.h5 --canonicalize SO3 --frame-average O3 --model-cmd 'true'
expect_error 2 orbit-eval-invariance clouds.h5 --model-cmd 'true' --plot err.jpg
expect_error 2 orbit-eval-invariance clouds.h5
echo "ok"
