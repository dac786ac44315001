#!/bin/bash
# orbit-canonicalize on real shapes: the issue's invocations, invariance to 1e-9,
# frames, inverse round trips, streams, shards, MDS, degenerate clouds, bad input.
. "$(dirname "$0")/lib.sh"
need_data

# Six clouds of 1024 vertices: three real shapes, each posed twice. Pair (2s, 2s+1):
# the second copy is the first under a rotation (SO3 file), a rigid motion (SE3 file)
# or a rotation times a reflection (O3 file).
for m in bunny00 armadillo elephant; do orbit-convert "$ORBIT_DATA/meshes/$m.off" -q -o $m.h5; done
py "
import numpy as np, h5py
off = lambda name: h5py.File(name + '.h5')['points'][:]  # the vertices, through orbit-convert's OFF reader
rng = np.random.default_rng(7)
def rot():
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q * np.linalg.det(q)
out = {'SO3': [], 'SE3': [], 'O3': []}
for name in ['bunny00', 'armadillo', 'elephant']:
    v = off(name)
    x = v[rng.choice(len(v), 1024, replace=False)]
    x = x / np.abs(x - x.mean(0)).max()
    x = x @ rot().T + rng.normal(size=3)
    r = rot(); t = rng.normal(size=3)
    out['SO3'] += [x, x @ r.T]
    out['SE3'] += [x, x @ r.T + t]
    out['O3'] += [x, -(x @ r.T)]
for k, v in out.items():
    with h5py.File('clouds_' + k + '.h5', 'w') as f:
        f['points'] = np.stack(v)
"
cp clouds_SO3.h5 clouds.h5

# 1. The canonical pose under SO3.
orbit-canonicalize clouds.h5 --group SO3 -o canon.h5
py "
import h5py, numpy as np
f = h5py.File('canon.h5')
p, t = f['points'][()], f['transform'][()]
assert p.shape == (6, 1024, 3) and t.shape == (6, 4, 4), (p.shape, t.shape)
assert f.attrs['orbit_kind'] == 'pointset'
assert (f['canon/flags'][()] == 0).all(), f['canon/flags'][()]
for s in range(3):
    e = np.abs(p[2 * s] - p[2 * s + 1]).max()
    assert e < 1e-9, ('SO3 pair', s, e)
    print('SO3 invariance error shape', s, e)
x = h5py.File('clouds.h5')['points'][()]
R = t[:, :3, :3]
assert np.allclose(np.einsum('bij,bkj->bik', R, R), np.eye(3), atol=1e-12)
assert np.allclose(np.linalg.det(R), 1, atol=1e-12)
assert np.allclose(t[:, :3, 3], 0)  # SO3 does not translate
assert np.abs(np.einsum('bij,bnj->bni', R, x) - p).max() < 1e-12
"

# SE3 and E3 (with a reflected copy for E3/O3), and the JSON summary.
orbit-canonicalize clouds_SE3.h5 --group SE3 -o se3.h5 --json > se3.json
orbit-canonicalize clouds_O3.h5 --group E3 -o e3.h5
py "
import h5py, numpy as np, json
j = json.load(open('se3.json'))
assert j['clouds'] == 6 and j['unstable'] == 0 and j['group'] == 'SE3' and j['min_eigen_gap'] > 0.01, j
for name in ['se3.h5', 'e3.h5']:
    p = h5py.File(name)['points'][()]
    for s in range(3):
        e = np.abs(p[2 * s] - p[2 * s + 1]).max()
        assert e < 1e-9, (name, s, e)
        print(name, 'invariance error shape', s, e)
"

# 2. All frames for O3 frame averaging.
orbit-canonicalize clouds_O3.h5 --group O3 --frames all -o frames.h5
py "
import h5py, numpy as np
f = h5py.File('frames.h5')
p, fr = f['points'][()], f['frames'][()]
assert p.shape == (6, 8, 1024, 3) and fr.shape == (6, 8, 4, 4), (p.shape, fr.shape)
assert f.attrs['orbit_kind'] == 'frames'
x = h5py.File('clouds_O3.h5')['points'][()]
moved = np.einsum('bfij,bnj->bfni', fr[:, :, :3, :3], x)
assert np.abs(moved - p).max() < 1e-12
# Frame averaging: a function that is not invariant (squared first point), averaged over the frames, is.
fa = (p[:, :, 0, :] ** 2).mean(axis=1)
raw = x[:, 0, :] ** 2
for s in range(3):
    e, r = np.abs(fa[2 * s] - fa[2 * s + 1]).max(), np.abs(raw[2 * s] - raw[2 * s + 1]).max()
    assert e < 1e-9 and r > 1e-3, (s, e, r)
    print('frame average error shape', s, e, 'raw', r)
"

# 3. Back to the original frames.
orbit-canonicalize canon.h5 --inverse -o back.h5
py "
import h5py, numpy as np
a = h5py.File('clouds.h5')['points'][()]; b = h5py.File('back.h5')['points'][()]
e = np.abs(a - b).max(); assert e < 1e-12, e; print('inverse round trip', e)
"
# Frames back too ([B,F,N,3] through [B,F,4,4]), and a model output in the canonical frame.
orbit-canonicalize frames.h5 --inverse -o frames_back.h5
py "
import h5py, numpy as np
a = h5py.File('clouds_O3.h5')['points'][()]; b = h5py.File('frames_back.h5')['points'][()]
assert b.shape == (6, 8, 1024, 3) and np.abs(b - a[:, None]).max() < 1e-12
with h5py.File('pred.h5', 'w') as f:
    f['pred'] = np.tile([1.0, 0.0, 0.0], (6, 1))
"
orbit-canonicalize pred.h5 --inverse --transforms canon.h5 --dataset /pred --as vectors -o pred_back.h5
py "
import h5py, numpy as np
t = h5py.File('canon.h5')['transform'][()]; v = h5py.File('pred_back.h5')['pred'][()]
assert np.abs(v - t[:, 0, :3]).max() < 1e-12  # R e_x = first principal axis = first row of R^T
"

# Streams and shards.
cat clouds_SE3.h5 | orbit-canonicalize - --group SE3 --scale -o - | orbit-canonicalize - --inverse -o back2.h5
py "
import h5py, numpy as np
a = h5py.File('clouds_SE3.h5')['points'][()]; b = h5py.File('back2.h5')['points'][()]
assert np.abs(a - b).max() < 1e-12
"
# Shards, merged with orbit-merge, give the file one run writes: the dense fast path,
# all frames, MDS, and ragged clouds with normals (five clouds: slices of 1, 2 and 2).
py "
import h5py, numpy as np
x = h5py.File('clouds_SE3.h5')['points'][()]
sizes = [300, 1024, 500, 800, 650]
pts = np.concatenate([x[i][:n] for i, n in enumerate(sizes)])
nrm = np.random.default_rng(3).normal(size=pts.shape)
with h5py.File('clouds_ragged.h5', 'w') as f:
    f['points'] = pts
    f['normals'] = nrm / np.linalg.norm(nrm, axis=1, keepdims=True)
    f['offsets'] = np.cumsum([0] + sizes)
"
shard_merge() {  # NAME ARGS...: one run, three shards, merged in a shuffled order
  local name=$1; shift
  orbit-canonicalize "$@" -q -o "$name.h5"
  for k in 1 2 3; do orbit-canonicalize "$@" --shard $k/3 -q -o "$name-$k.h5"; done
  orbit-merge "$name-3.h5" "$name-1.h5" "$name-2.h5" -q -o "$name-merged.h5"
}
shard_merge sh_se3 clouds_SE3.h5 --group SE3 --scale
shard_merge sh_frames clouds_O3.h5 --group O3 --frames all
shard_merge sh_mds clouds_O3.h5 --method mds --landmarks 128
shard_merge sh_ragged clouds_ragged.h5 --group SO3
py "
import h5py, numpy as np
def datasets(f):
    out = []
    f.visititems(lambda k, v: out.append(k) if isinstance(v, h5py.Dataset) else None)
    return out
stamped = {'history', 'orbit_version'}
for name, items in [('sh_se3', [2, 2, 2]), ('sh_frames', [2, 2, 2]), ('sh_mds', [2, 2, 2]), ('sh_ragged', [1, 2, 2])]:
    one, merged = h5py.File(name + '.h5'), h5py.File(name + '-merged.h5')
    for k in (1, 2, 3):
        at = dict(h5py.File(name + '-' + str(k) + '.h5').attrs)
        got = [at.get(n) for n in ('shard_index', 'shard_count', 'shard_items', 'shard_total_items')]
        assert got == [k, 3, items[k - 1], sum(items)], (name, k, got)
        assert 'shard' not in at and 'shard_offset' not in at, (name, k, sorted(at))
    assert datasets(one) == datasets(merged), (name, datasets(one), datasets(merged))
    for d in datasets(one):
        a, b = one[d][()], merged[d][()]
        assert a.shape == b.shape and a.dtype == b.dtype, (name, d, a.shape, b.shape, a.dtype, b.dtype)
        e = np.abs(a.astype(float) - b.astype(float)).max()
        assert e <= 1e-12, (name, d, e)
        assert dict(one[d].attrs) == dict(merged[d].attrs), (name, d)
    assert dict(one['canon'].attrs) == dict(merged['canon'].attrs) != {}, name
    ra = {k: v for k, v in one.attrs.items() if k not in stamped}
    rb = {k: v for k, v in merged.attrs.items() if k not in stamped}
    assert ra == rb, (name, ra, rb)
    print(name, 'shards merged:', len(datasets(one)), 'datasets equal')
a, b = h5py.File('sh_se3.h5'), h5py.File('sh_se3-2.h5')
assert b['points'].shape == (2, 1024, 3) and np.array_equal(a['transform'][2:4], b['transform'][()])
"
# Slices of different runs do not belong together, even with the same datasets.
orbit-canonicalize clouds_SE3.h5 --group SO3 --scale --shard 2/3 -q -o sh_so3-2.h5
expect_error 1 orbit-merge sh_se3-1.h5 sh_so3-2.h5 sh_se3-3.h5 -o bad.h5
grep -q canon_group "$TMP/.err" || fail "merge of different groups does not name the attribute: $(cat "$TMP/.err")"
expect_error 1 orbit-merge sh_se3-1.h5 sh_frames-2.h5 sh_se3-3.h5 -o bad.h5
[[ ! -e bad.h5 ]] || fail "a failed merge left an output"
# Same bits with one and two threads.
orbit-canonicalize clouds_SE3.h5 --group SE3 -j 1 -o t1.h5
orbit-canonicalize clouds_SE3.h5 --group SE3 -j 2 -o t2.h5
py "
import h5py, numpy as np
assert np.array_equal(h5py.File('t1.h5')['points'][()], h5py.File('t2.h5')['points'][()])
"

# MDS coordinates: invariant under rotations and reflections, an isometry of each cloud.
orbit-canonicalize clouds_O3.h5 --method mds --landmarks 128 -o mds.h5
py "
import h5py, numpy as np
p = h5py.File('mds.h5')['points'][()]; x = h5py.File('clouds_O3.h5')['points'][()]
for s in range(3):
    e = np.abs(p[2 * s] - p[2 * s + 1]).max(); assert e < 1e-9, (s, e)
    print('MDS invariance error shape', s, e)
d = lambda a: np.linalg.norm(a[:, None] - a[None], axis=2)
assert np.abs(d(p[0][:200]) - d(x[0][:200])).max() < 1e-9
"
expect_error 1 orbit-canonicalize mds.h5 --inverse -o x.h5

# Degenerate clouds are flagged (sphere, square plane), never a crash.
py "
import numpy as np, h5py
n = 400; i = np.arange(n) + 0.5
z = 1 - 2 * i / n; r = np.sqrt(1 - z * z); a = np.pi * (3 - 5 ** 0.5) * i
sphere = np.stack([r * np.cos(a), r * np.sin(a), z], 1)
g = np.stack(np.meshgrid(np.arange(20), np.arange(20)), -1).reshape(-1, 2)
plane = np.c_[g, np.zeros(len(g))].astype(float)
with h5py.File('degenerate.h5', 'w') as f:
    f['points'] = np.stack([sphere, plane])
"
orbit-canonicalize degenerate.h5 --group SO3 -o deg.h5 --json > deg.json 2> deg.err
grep -q "unstable canonical form" deg.err || fail "no warning for degenerate clouds"
py "
import h5py, json
j = json.load(open('deg.json')); assert j['unstable'] == 2 and j['flag_counts']['eigen_gap'] == 2, j
assert (h5py.File('deg.h5')['canon/flags'][()] & 1).all()
"
expect_error 1 orbit-canonicalize degenerate.h5 --on-unstable error -o x.h5
grep -q "cloud 0" "$TMP/.err" || fail "unstable error does not name the cloud"

# Bad input: one line, exit 1 (data) or 2 (usage), no output left behind.
py "
import numpy as np, h5py
with h5py.File('nan.h5', 'w') as f:
    a = np.ones((2, 10, 3)); a[1, 3, 2] = np.nan; f['points'] = a
with h5py.File('four.h5', 'w') as f:
    f['points'] = np.random.rand(2, 10, 4)
"
expect_error 1 orbit-canonicalize nan.h5 -o x.h5
expect_error 1 orbit-canonicalize four.h5 -o x.h5
expect_error 1 orbit-canonicalize clouds.h5:/nothing -o x.h5
expect_error 2 orbit-canonicalize clouds.h5 --group SU2 -o x.h5
expect_error 2 orbit-canonicalize missing.h5 -o x.h5
expect_error 2 orbit-canonicalize clouds.h5 --axis 0,0,0 --group SO2 -o x.h5
expect_error 2 orbit-canonicalize canon.h5 --inverse --shard 1/2 -o x.h5
expect_error 2 orbit-canonicalize clouds.h5 --shard 4/3 -o x.h5
expect_error 1 orbit-canonicalize canon.h5 --inverse --dataset /transform --as points -o x.h5
[[ ! -e x.h5 ]] || fail "a failed run left x.h5 behind"
echo "ok"
