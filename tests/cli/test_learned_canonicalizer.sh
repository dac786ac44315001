#!/bin/bash
# orbit-train-canonicalizer and orbit-canonicalize --model: a tiny vector-neuron
# model trained by the canonicalization prior in seconds, the loss falling,
# same weights for any -j, canonical copies of rotated clouds that agree, the
# --inverse round trip, streams, shards and merge, degenerate clouds, bad input.
. "$(dirname "$0")/lib.sh"

# Upright training clouds: noisy, rescaled, shifted copies of one asymmetric
# template. Test clouds: three template copies, each followed by a rotated copy
# of itself (test.h5; rotated and translated in test_se3.h5), and a batch with
# one cloud whose points all coincide.
py "
import numpy as np, h5py
rng = np.random.default_rng(4)
n = 48
u = rng.uniform(size=n)
tmpl = np.stack([2 * u * u, 0.8 * rng.normal(size=n) * (1 - 0.5 * u), 0.3 * rng.normal(size=n) + 0.4 * u], 1)
def copy():
    return (tmpl + 0.03 * rng.normal(size=tmpl.shape)) * rng.uniform(0.5, 2) + rng.normal(size=3)
def rot():
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q * np.linalg.det(q)
with h5py.File('train.h5', 'w') as f:
    f['points'] = np.stack([copy() for _ in range(32)])
test, test_se3 = [], []
for _ in range(3):
    x = copy()
    r = rot()
    test += [x, x @ r.T]
    test_se3 += [x, x @ r.T + rng.normal(size=3)]
with h5py.File('test.h5', 'w') as f:
    f['points'] = np.stack(test)
with h5py.File('test_se3.h5', 'w') as f:
    f['points'] = np.stack(test_se3)
with h5py.File('degenerate.h5', 'w') as f:
    f['points'] = np.stack([test[0], np.full((n, 3), 0.7)])
with h5py.File('flat.h5', 'w') as f:
    f['points'] = np.stack([test[0][:, :2]] * 2)
# One larger upright cloud of the same kind [300,3], for the flow recipe.
u = rng.uniform(size=300)
shape = np.stack([2 * u * u, 0.8 * rng.normal(size=300) * (1 - 0.5 * u), 0.3 * rng.normal(size=300) + 0.4 * u], 1)
with h5py.File('shape.h5', 'w') as f:
    f['points'] = shape
"

# 1. Training: progress per epoch, JSON history, the prior loss falls; same weights for -j 1 and -j 2.
orbit-train-canonicalizer train.h5 --group SO3 --seed 1 --epochs 20 --batch 8 --lr 0.01 --hidden 8 -j 1 --json \
  -o canon.h5 >train.json 2>train.log
grep -q "epoch" train.log || fail "no progress lines: $(cat train.log)"
orbit-train-canonicalizer train.h5 --group SO3 --seed 1 --epochs 20 --batch 8 --lr 0.01 --hidden 8 -j 2 -q -o canon2.h5
py "
import json, h5py, numpy as np
s = json.load(open('train.json'))
loss = s['history']['loss']
assert len(loss) == 20 and s['epochs'] == 20 and s['group'] == 'SO3', s
assert loss[-1] < 0.3 * loss[0], loss
assert s['final_angle_deg'] < 20, s
print('prior loss %.4f -> %.4f, mean angle %.1f deg, %.2f s' % (loss[0], loss[-1], s['final_angle_deg'], s['train_s']))
a, b = h5py.File('canon.h5'), h5py.File('canon2.h5')
cfg = json.loads(a['model'].attrs['config'])
assert cfg['format'] == 'orbit-canonicalizer' and cfg['group'] == 'SO3', cfg
w = []
a['model/weights'].visititems(lambda k, v: w.append(k) if isinstance(v, h5py.Dataset) else None)
assert w, 'no weights'
for k in w:
    assert a['model/weights'][k].dtype == np.float32
    assert np.array_equal(a['model/weights'][k][()], b['model/weights'][k][()]), k
"

# 1b. Checkpoints and --resume: a run stopped after 7 epochs (checkpointed every 3) and resumed gives the
# same bits as the uninterrupted run, optimizer moments and history included.
orbit-train-canonicalizer train.h5 --group SO3 --seed 1 --epochs 20 --batch 8 --lr 0.01 --hidden 8 --stop-after 7 \
  --checkpoint-every 3 -q -o half.h5
orbit-train-canonicalizer train.h5 --epochs 20 --batch 8 --lr 0.01 --resume half.h5 -j 2 --json -o resumed.h5 >resumed.json
py "
import json, h5py, numpy as np
a, h, r = h5py.File('canon.h5'), h5py.File('half.h5'), h5py.File('resumed.h5')
assert json.loads(h['model'].attrs['training'])['epoch'] == 7
def tensors(f):
    out = {}
    f['model'].visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    return out
ta, tr = tensors(a), tensors(r)
assert any(k.startswith('optimizer/m') for k in ta) and ta.keys() == tr.keys(), (ta.keys(), tr.keys())
for k in ta:
    assert np.array_equal(ta[k], tr[k]), k
ja, jr = json.loads(a['model'].attrs['training']), json.loads(r['model'].attrs['training'])
assert ja['history'] == jr['history'] and ja['steps'] == jr['steps'] == 80 and jr['epoch'] == 20, (ja, jr)
s = json.load(open('resumed.json'))
assert s['epoch'] == 20 and len(s['history']['loss']) == 20, s
"
expect_error 2 orbit-train-canonicalizer train.h5 --resume half.h5 --hidden 4 -o x.h5
expect_error 2 orbit-train-canonicalizer train.h5 --resume half.h5 --group O3 -o x.h5
expect_error 1 orbit-train-canonicalizer test.h5 --resume half.h5 -o x.h5
# A model written before --prior existed (no "prior" in its training record) was trained with the frame
# form: resuming keeps it, and asking for the other form is a usage error.
py "
import h5py, json
with h5py.File('half.h5', 'r+') as f:
    t = json.loads(f['model'].attrs['training']); del t['prior']; f['model'].attrs['training'] = json.dumps(t)
"
expect_error 2 orbit-train-canonicalizer train.h5 --resume half.h5 --prior vectors -o x.h5

# train_resume_apply NAME METHOD_OPTIONS EXTRA_OPTIONS LOSS_FACTOR METHOD: trains NAME.h5 with -j 1, trains 5 epochs
# and resumes them with -j 2 (EXTRA_OPTIONS given again), canonicalizes test.h5 and inverts it; checks that the
# final loss is below LOSS_FACTOR times the first, the model file names METHOD, the resumed model has the same
# bits, rotated copies agree and the --inverse round trip holds.
train_resume_apply() {
    local name=$1 opts=$2 extra=$3 factor=$4 method=$5
    orbit-train-canonicalizer train.h5 --group SO3 --seed 3 $opts $extra -j 1 --json -o $name.h5 >$name.json
    orbit-train-canonicalizer train.h5 --group SO3 --seed 3 $opts $extra --stop-after 5 -q -o $name-half.h5
    orbit-train-canonicalizer train.h5 --epochs 12 --batch 8 --lr 0.01 $extra --resume $name-half.h5 -j 2 -q -o $name-resumed.h5
    orbit-canonicalize test.h5 --model $name.h5 -q -o $name-canonical.h5
    orbit-canonicalize $name-canonical.h5 --inverse -q -o $name-back.h5
    py "
import json, h5py, numpy as np
name, method = '$name', '$method'
s = json.load(open(name + '.json'))
loss = s['history']['loss']
assert loss[-1] < $factor * loss[0], loss
a, r = h5py.File(name + '.h5'), h5py.File(name + '-resumed.h5')
assert json.loads(a['model'].attrs['config'])['method'] == method
def tensors(f):
    out = {}
    f['model'].visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    return out
ta, tr = tensors(a), tensors(r)
assert ta.keys() == tr.keys() and all(np.array_equal(ta[k], tr[k]) for k in ta)
x = h5py.File(name + '-canonical.h5')['points'][()]
for i in range(0, 6, 2):
    assert np.abs(x[i] - x[i + 1]).max() < 1e-9, np.abs(x[i] - x[i + 1]).max()
b, t = h5py.File(name + '-back.h5')['points'][()], h5py.File('test.h5')['points'][()]
assert np.abs(b - t).max() < 1e-12
print('%s: prior loss %.4f -> %.4f' % (method, loss[0], loss[-1]))
"
}

# 1c. Weighted frames: trained the same way, resumed bit for bit with another -j; rotated copies agree, the
# --inverse round trip holds; reflections are refused.
train_resume_apply wf "--method weighted-frames --grid 6 --mlp-hidden 16 --epochs 12 --batch 8 --lr 0.01" "" 0.5 weighted-frames
expect_error 2 orbit-train-canonicalizer train.h5 --group O3 --method weighted-frames -o x.h5
expect_error 2 orbit-train-canonicalizer train.h5 --resume wf-half.h5 --method vector-neurons -o x.h5

# 1d. PCA with a learned correction, with the pose-preserving augmentations: resumed bit for bit with another -j
# (the augmentations given again), rotated copies agree, the --inverse round trip holds; reflections are refused.
train_resume_apply pc "--method pca-correction --grid 6 --mlp-hidden 16 --epochs 12 --batch 8 --lr 0.01" \
    "--resample --jitter 0.02" 1.0 pca-correction
expect_error 2 orbit-train-canonicalizer train.h5 --group O3 --method pca-correction -o x.h5

# Resumed without them, the augmentations come from the model file (the same bits again); a value that
# differs from the model's is refused.
orbit-train-canonicalizer train.h5 --epochs 12 --batch 8 --lr 0.01 --resume pc-half.h5 -q -o pc-restored.h5
py "
import h5py, numpy as np
def tensors(f):
    out = {}
    f['model'].visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    return out
a, r = tensors(h5py.File('pc.h5')), tensors(h5py.File('pc-restored.h5'))
assert a.keys() == r.keys() and all(np.array_equal(a[k], r[k]) for k in a)
"
expect_error 2 orbit-train-canonicalizer train.h5 --epochs 12 --resume pc-half.h5 --jitter 0.5 -o x.h5
expect_error 2 orbit-train-canonicalizer train.h5 --epochs 12 --resume pc-half.h5 --weight-decay 0.1 -o x.h5

# 1e. Validation: --val holds 8 of the 32 clouds out and the model keeps the epoch with the lowest prior on
# them; --patience ends the run 2 epochs after it; the last epoch's weights travel under /model/last.
orbit-train-canonicalizer train.h5 --group SO3 --seed 3 --method pca-correction --grid 6 --mlp-hidden 16 --epochs 40 \
  --batch 8 --lr 0.05 --val 0.25 --patience 2 -q --json -o pcv.h5 >pcv.json
py "
import json, h5py, numpy as np
s = json.load(open('pcv.json'))
h = s['history']
v = h['val_loss']
assert len(v) == len(h['loss']) == s['epoch'] and len(s['val_clouds']) == 8, s
assert s['best_epoch'] == int(np.argmin(v)) + 1 and s['best_val_loss'] == min(v), s
assert s['epoch'] == min(40, s['best_epoch'] + 2), s
f = h5py.File('pcv.h5')
assert 'last' in f['model'] and json.loads(f['model'].attrs['training'])['val'] == 0.25
"
expect_error 2 orbit-train-canonicalizer train.h5 --epochs 12 --resume pcv.h5 --val 0.5 -o x.h5
expect_error 2 orbit-train-canonicalizer train.h5 --val 0.01 -o x.h5

# 2. Canonicalize with the model: same layout as the PCA path, rotated copies agree, upright stays near upright.
orbit-canonicalize test.h5 --model canon.h5 -o canonical.h5 --json >canon.json
py "
import h5py, numpy as np, json
f = h5py.File('canonical.h5')
x, t = f['points'][()], f['transform'][()]
assert x.shape == (6, 48, 3) and t.shape == (6, 4, 4), (x.shape, t.shape)
assert f.attrs['canon_group'] == 'SO3' and f.attrs['canon_method'] == 'learned'
for k in ('eigenvalues', 'gaps', 'sign_margins', 'scale', 'flags'):
    assert f['canon/' + k].shape[0] == 6, k
assert (f['canon/flags'][()] == 0).all()
for i in range(0, 6, 2):
    assert np.abs(x[i] - x[i + 1]).max() < 1e-9, np.abs(x[i] - x[i + 1]).max()
r = t[:, :3, :3]
assert np.abs(np.einsum('bij,bkj->bik', r, r) - np.eye(3)).max() < 1e-12
assert np.abs(np.linalg.det(r) - 1).max() < 1e-12
# Pure rotations about the origin for SO3: no translation part.
assert np.abs(t[:, :3, 3]).max() == 0 and np.abs(t[:, 3] - [0, 0, 0, 1]).max() == 0
ang = np.degrees(np.arccos(np.clip((np.trace(r[0::2], axis1=1, axis2=2) - 1) / 2, -1, 1)))
assert ang.max() < 30, ang
assert json.load(open('canon.json'))['group'] == 'SO3'
"

# 3. The round trip through --inverse, and through a stream.
orbit-canonicalize canonical.h5 --inverse -o back.h5
cat test.h5 | orbit-canonicalize - --model canon.h5 -o - | orbit-canonicalize - --inverse -o back2.h5
py "
import h5py, numpy as np
a = h5py.File('test.h5')['points'][()]
for name in ('back.h5', 'back2.h5'):
    b = h5py.File(name)['points'][()]
    assert np.abs(a - b).max() < 1e-12, (name, np.abs(a - b).max())
"

# 4. SE3 from the same kind of model: canonical copies are centred; shards merge to the one-run file.
orbit-train-canonicalizer train.h5 --group SE3 --seed 2 --epochs 3 --hidden 4 -q -o canon_se3.h5
orbit-canonicalize test_se3.h5 --model canon_se3.h5 -q -o se3.h5
for k in 1 2 3; do orbit-canonicalize test_se3.h5 --model canon_se3.h5 --shard $k/3 -q -o se3-$k.h5; done
orbit-merge se3-2.h5 se3-3.h5 se3-1.h5 -q -o se3-merged.h5
py "
import h5py, numpy as np
one, merged = h5py.File('se3.h5'), h5py.File('se3-merged.h5')
x = one['points'][()]
assert one.attrs['canon_group'] == 'SE3'
assert np.abs(x.mean(1)).max() < 1e-12
for i in range(0, 6, 2):
    assert np.abs(x[i] - x[i + 1]).max() < 1e-9
for k in ('points', 'transform', 'canon/flags', 'canon/gaps'):
    assert np.array_equal(one[k][()], merged[k][()]), k
"

# 5. SO2 on 2-D point sets (planar vector neurons): rotated copies agree, the inverse round trip.
py "
import numpy as np, h5py
rng = np.random.default_rng(5)
x = h5py.File('train.h5')['points'][()][:, :, :2]
h5py.File('train2d.h5', 'w')['points'] = x
a = 1.3
r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
h5py.File('test2d.h5', 'w')['points'] = np.stack([x[0], x[0] @ r.T])
"
orbit-train-canonicalizer train2d.h5 --group SO2 --seed 1 --epochs 5 --hidden 4 -q -o canon2d.h5
orbit-canonicalize test2d.h5 --model canon2d.h5 -q -o c2d.h5
orbit-canonicalize c2d.h5 --inverse -q -o back2d.h5
py "
import h5py, numpy as np
f = h5py.File('c2d.h5')
x = f['points'][()]
assert f.attrs['canon_group'] == 'SO2' and x.shape == (2, 48, 2) and f['transform'].shape == (2, 4, 4)
assert np.abs(x[0] - x[1]).max() < 1e-9, np.abs(x[0] - x[1]).max()
assert np.abs(h5py.File('back2d.h5')['points'][()] - h5py.File('test2d.h5')['points'][()]).max() < 1e-12
"
expect_error 1 orbit-canonicalize test.h5 --model canon2d.h5 -o x.h5
# The pca-correction angle-bins head: the same weights for -j 1 and 2, rotated copies agree to 1e-9, the head
# is in the model's architecture, and it is refused for SO3, with odd K, and as an architecture change on --resume.
bins="--method pca-correction --head angle-bins:36 --grid 6 --mlp-hidden 16 --epochs 8 --batch 8 --lr 0.01 --resample --jitter 0.02"
orbit-train-canonicalizer train2d.h5 --group SO2 --seed 1 $bins -j 1 -q -o bins1.h5
orbit-train-canonicalizer train2d.h5 --group SO2 --seed 1 $bins -j 2 -q -o bins2.h5
orbit-canonicalize test2d.h5 --model bins1.h5 -q -o cbins.h5
py "
import h5py, json, numpy as np
a, b = h5py.File('bins1.h5'), h5py.File('bins2.h5')
assert json.loads(a['model'].attrs['config'])['architecture']['angle_bins'] == 36
w = []
a['model/weights'].visititems(lambda k, v: w.append(k) if isinstance(v, h5py.Dataset) else None)
assert w and all(np.array_equal(a['model/weights'][k][()], b['model/weights'][k][()]) for k in w)
x = h5py.File('cbins.h5')['points'][()]
assert np.abs(x[0] - x[1]).max() < 1e-9, np.abs(x[0] - x[1]).max()
"
expect_error 2 orbit-train-canonicalizer train.h5 --group SO3 --method pca-correction --head angle-bins -o x.h5
expect_error 2 orbit-train-canonicalizer train2d.h5 --group SO2 --method pca-correction --head angle-bins:35 -o x.h5
expect_error 2 orbit-train-canonicalizer train2d.h5 --epochs 10 --resume bins1.h5 --head vectors -o x.h5

# 6. Degenerate clouds are flagged as in the PCA path (and stop the run with --on-unstable error).
orbit-canonicalize degenerate.h5 --model canon.h5 -q -o deg.h5
py "
import h5py
fl = h5py.File('deg.h5')['canon/flags'][()]
assert fl[0] == 0 and fl[1] & 8, fl
"
expect_error 1 orbit-canonicalize degenerate.h5 --model canon.h5 --on-unstable error -o x.h5

# 6b. The two-step recipe with a flow: canonicalize, train orbit-train-flow on the canonical points, and the
# densities of canonicalized rotated copies equal those of the original to 1e-9 (without canonicalization they do not).
orbit-canonicalize shape.h5 --model canon.h5 -q -o shape_c.h5
orbit-train-flow shape_c.h5 --model realnvp --layers 2 --hidden 16 --epochs 5 --batch 32 --seed 1 -q -o flow.h5
orbit-density flow.h5 shape_c.h5 -q -o lp0.h5
orbit-density flow.h5 shape.h5 -q -o lp_raw0.h5
for s in 3 4; do
  orbit-transform shape.h5 --random-rotation uniform --seed $s -q -o turned$s.h5
  orbit-canonicalize turned$s.h5 --model canon.h5 -q -o turned_c$s.h5
  orbit-density flow.h5 turned_c$s.h5 -q -o lp$s.h5
  orbit-density flow.h5 turned$s.h5 -q -o lp_raw$s.h5
done
py "
import h5py, numpy as np
lp = lambda n: h5py.File(n)['logp'][()]
a = lp('lp0.h5')
assert a.shape == (300,) and np.isfinite(a).all()
for s in (3, 4):
    d = np.abs(lp('lp%d.h5' % s) - a).max()
    assert d < 1e-9, (s, d)
    assert np.abs(lp('lp_raw%d.h5' % s) - lp('lp_raw0.h5')).max() > 1e-2, s
"

# 7. Bad input: one clear line, the right exit code, no output file.
expect_error 2 orbit-canonicalize test.h5 --model canon.h5 --frames all -o x.h5
expect_error 2 orbit-canonicalize test.h5 --model canon.h5 --method mds -o x.h5
expect_error 2 orbit-canonicalize test.h5 --model canon.h5 --group O3 -o x.h5
expect_error 2 orbit-canonicalize test.h5 --model missing.h5 -o x.h5
expect_error 1 orbit-canonicalize test.h5 --model test.h5 -o x.h5
expect_error 1 orbit-canonicalize flat.h5 --model canon.h5 -o x.h5
expect_error 1 orbit-train-canonicalizer train.h5 --group SO2 -o x.h5
expect_error 2 orbit-train-canonicalizer train.h5 --group SO4 -o x.h5
expect_error 2 orbit-train-canonicalizer train.h5 --epochs -1 -o x.h5
expect_error 1 orbit-train-canonicalizer flat.h5 -o x.h5
expect_error 1 orbit-train-canonicalizer degenerate.h5 -o x.h5
[[ ! -e x.h5 ]] || fail "an output was written on error"
echo ok
