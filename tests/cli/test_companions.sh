#!/usr/bin/env bash
# What travels with the points. orbit-transform keeps /weights and /features
# (each output point those of the input point it came from) and /labels (per
# point: following the points; per cloud: following the cloud and its copies);
# orbit-canonicalize, orbit-convert and orbit-merge keep /labels; a ModelNet
# FILE:/data brings its /label and /normal. Selections FILE:/dataset[K] and
# [A:B] pick clouds, labels included; tables pick columns and a label column;
# .xyz files with a header row are read.
. "$(dirname "$0")/lib.sh"
py "
import h5py, numpy as np
rng = np.random.default_rng(0)
with h5py.File('mn.h5', 'w') as f:                 # ModelNet40's layout
    f['data'] = rng.normal(size=(8, 64, 3)).astype('f4')
    f['label'] = (np.arange(8) * 5).reshape(8, 1).astype('u1')
    n = rng.normal(size=(8, 64, 3)); f['normal'] = n / np.linalg.norm(n, axis=2, keepdims=True)
with h5py.File('pp.h5', 'w') as f:                 # per-point labels, weights, features
    f['points'] = rng.normal(size=(3, 50, 3)); f['labels'] = np.arange(150).reshape(3, 50)
    f['weights'] = rng.random((3, 50)); f['features'] = rng.normal(size=(3, 50, 2))
with h5py.File('one.h5', 'w') as f:                # one cloud, one label, per-point weights
    f['points'] = rng.normal(size=(40, 3)); f['labels'] = np.array([7]); f['weights'] = rng.random(40)
"
check() { py "
import h5py, numpy as np, sys
def fail(m): sys.exit(m)
$1" || fail "$2"; }

# orbit-transform: per-point companions follow /indices through crop, resampling and shuffle.
orbit-transform pp.h5 --crop 0.6 --resample 45 --shuffle --random-rotation 30 --seed 3 -q -o pp2.h5
check "
a, b = h5py.File('pp.h5'), h5py.File('pp2.h5'); idx = b['indices'][:]
for k in range(3):
    for name in ('labels', 'weights', 'features'):
        if not np.array_equal(b[name][k], a[name][k][idx[k]]): fail(name + ' of cloud %d do not follow /indices' % k)
if b['labels'].dtype != np.int64: fail('labels should stay whole numbers (int64), found %s' % b['labels'].dtype)
" "orbit-transform: per-point companions"
# Ragged output (crops of different sizes): the companions stay aligned with /offsets.
orbit-transform pp.h5 --crop 0.5 --crop-mode viewpoint --copies 2 --seed 4 -q -o rag.h5
check "
a, b = h5py.File('pp.h5'), h5py.File('rag.h5')
off = b['offsets'][:] if 'offsets' in b else None
idx = b['indices'][:].reshape(-1)
lab = b['labels'][:].reshape(-1); w = b['weights'][:].reshape(-1)
bounds = off if off is not None else np.arange(0, idx.size + 1, idx.size // 6)
for item in range(6):
    s, e = bounds[item], bounds[item + 1]
    if not np.array_equal(lab[s:e], a['labels'][item // 2][idx[s:e]]): fail('labels of item %d' % item)
    if not np.array_equal(w[s:e], a['weights'][item // 2][idx[s:e]]): fail('weights of item %d' % item)
" "orbit-transform: companions of a ragged batch"
# One cloud with one label: the label stays a label of the cloud; weights follow the resampling.
orbit-transform one.h5 --resample 100 --seed 5 -q -o one2.h5
check "
a, b = h5py.File('one.h5'), h5py.File('one2.h5')
if b['labels'][:].tolist() != [7]: fail('cloud label: %s' % b['labels'][:])
if not np.array_equal(b['weights'][:], a['weights'][:][b['indices'][:]]): fail('weights after resampling')
" "orbit-transform: one labelled cloud"

# A ModelNet file: FILE:/data brings /label (per cloud, into every copy) and /normal (rotated).
orbit-transform mn.h5:/data --random-rotation uniform --copies 2 --seed 6 -q -o mn2.h5
check "
a, b = h5py.File('mn.h5'), h5py.File('mn2.h5')
if b['labels'].shape != (16, 1) or b['labels'][:, 0].tolist() != [5 * (i // 2) for i in range(16)]: fail('labels %s' % b['labels'][:].ravel())
T = b['transform'][:]
for i in range(16):
    n = a['normal'][i // 2] @ T[i, :3, :3].T
    if not np.allclose(b['normals'][i], n, atol=1e-12): fail('normal of item %d not rotated with its cloud' % i)
" "FILE:/data and its siblings"
orbit-info mn.h5:/data >/dev/null
# Selections: one cloud, a range, open ranges; labels follow.
orbit-transform 'mn.h5:/data[3]' -q -o s3.h5
orbit-convert 'mn.h5:/data[2:5]' -q -o s25.h5
orbit-convert 'mn.h5:/data[6:]' -q -o s6.h5
check "
a = h5py.File('mn.h5')
s3, s25, s6 = h5py.File('s3.h5'), h5py.File('s25.h5'), h5py.File('s6.h5')
if s3['points'].shape != (64, 3) or not np.array_equal(s3['points'][:], a['data'][3]): fail('[3] is not cloud 3')
if s3['labels'][:].ravel().tolist() != [15]: fail('[3] label %s' % s3['labels'][:])
if not np.array_equal(s25['points'][:], a['data'][2:5]) or s25['labels'][:].ravel().tolist() != [10, 15, 20]: fail('[2:5]')
if not np.array_equal(s25['normals'][:], a['normal'][2:5]): fail('[2:5] normals')
if s6['points'].shape != (2, 64, 3): fail('[6:] shape %s' % (s6['points'].shape,))
" "selections"
orbit-canonicalize 'mn.h5:/data[1:3]' -q -o sc.h5
orbit-register 'mn.h5:/data[1]' 'mn.h5:/data[1]' --method icp -q -o sr.h5
expect_error 1 orbit-transform 'mn.h5:/data[8]' -o x.h5
grep -q "holds 8 clouds (0..7)" "$TMP/.err" || fail "out-of-range message: $(cat "$TMP/.err")"
expect_error 2 orbit-transform 'mn.h5:/data[x]' -o x.h5
expect_error 2 orbit-convert 'mn.h5:/data[4:2]' -o x.h5
[[ ! -e x.h5 ]] || fail "a refused selection left x.h5"

# orbit-canonicalize keeps labels (per cloud and per point), also by slices; orbit-merge joins them.
orbit-canonicalize mn.h5:/data --group SO3 -q -o cmn.h5
for k in 1 2 3; do orbit-canonicalize pp.h5 --group SE3 --shard $k/3 -q -o cpp-$k.h5; done
orbit-merge cpp-*.h5 -q -o cpp.h5
orbit-canonicalize pp.h5 --method mds --landmarks 16 -q -o mds.h5
orbit-canonicalize cmn.h5 --inverse -q -o back.h5
check "
if h5py.File('cmn.h5')['labels'][:].ravel().tolist() != [5 * i for i in range(8)]: fail('canonicalize: per-cloud labels')
for f in ('cpp.h5', 'mds.h5'):
    if not np.array_equal(h5py.File(f)['labels'][:], h5py.File('pp.h5')['labels'][:]): fail(f + ': per-point labels')
if not np.array_equal(h5py.File('cpp-2.h5')['labels'][:], h5py.File('pp.h5')['labels'][1:2]): fail('slice 2/3 labels')
if h5py.File('back.h5')['labels'][:].ravel().tolist() != [5 * i for i in range(8)]: fail('inverse: labels')
" "orbit-canonicalize and orbit-merge keep /labels"
# orbit-convert keeps labels; a label shape that fits nothing in an orbit file is an error.
orbit-convert pp.h5 -q -o cpp2.h5
check "
if not np.array_equal(h5py.File('cpp2.h5')['labels'][:], h5py.File('pp.h5')['labels'][:]): fail('convert: labels')
" "orbit-convert keeps /labels"
py "
import h5py, numpy as np
with h5py.File('badlab.h5', 'w') as f: f['points'] = np.zeros((2, 10, 3)); f['labels'] = np.zeros(7)
"
expect_error 1 orbit-convert badlab.h5 -o x.h5

# Tables: columns by index, range and name; a label column into /labels.
printf 'a,b,c,d,kind\n1,2,3,4,0\n5,6,7,8,1\n9,10,11,12,2\n' > t.csv
orbit-convert t.csv --columns 0:3 --label-column kind -q -o t1.h5
orbit-convert t.csv --columns d,-5 -q -o t2.h5
orbit-convert t.csv --label-column -1 -q -o t3.h5
orbit-convert t.csv --columns 1: -q -o t4.csv
check "
t1, t2, t3 = h5py.File('t1.h5'), h5py.File('t2.h5'), h5py.File('t3.h5')
if t1['points'][:].tolist() != [[1, 2, 3], [5, 6, 7], [9, 10, 11]] or t1['labels'][:].tolist() != [0, 1, 2]: fail('0:3 + kind')
if t2['points'][:].tolist() != [[4, 1], [8, 5], [12, 9]]: fail('d,-5')
if t3['points'].shape != (3, 4) or t3['labels'][:].tolist() != [0, 1, 2]: fail('label column -1')
if open('t4.csv').readline().strip() != 'b,c,d,kind': fail('names follow the columns')
" "--columns and --label-column"
expect_error 2 orbit-convert t.csv --columns 0:9 -o x.h5
expect_error 2 orbit-convert t.csv --columns nope -o x.h5
expect_error 2 orbit-convert t.csv --columns 0:3 --label-column 2 -o x.h5
# Headed .xyz: names kept; x y z nx ny nz are points and normals, other names a table.
printf 'x y z nx ny nz\n0 0 0 0 0 1\n1 0 0 0 1 0\n' > h.xyz
printf 'x y z r g b\n0 0 0 1 2 3\n1 0 0 4 5 6\n' > c.xyz
orbit-convert h.xyz -q -o h.h5 && orbit-convert c.xyz --columns 0:3 -q -o c.h5 && orbit-convert c.xyz -q -o c.csv
check "
h, c = h5py.File('h.h5'), h5py.File('c.h5')
if h['points'].shape != (2, 3) or h['normals'][1].tolist() != [0, 1, 0]: fail('headed xyz with normals')
if c['points'][:].tolist() != [[0, 0, 0], [1, 0, 0]]: fail('headed xyz table columns')
if open('c.csv').readline().strip() != 'x,y,z,r,g,b': fail('headed xyz names')
" "headed .xyz"
printf 'x y z\n1 2\n' > bad.xyz
expect_error 1 orbit-convert bad.xyz -o x.h5
grep -q "header on line 1" "$TMP/.err" || fail "headed xyz column count: $(cat "$TMP/.err")"

# The real tables, when the data set is there: breast_cancer.csv is [569,31] with its class last.
if [[ -n ${ORBIT_DATA:-} && -f $ORBIT_DATA/.complete ]]; then
  orbit-convert "$ORBIT_DATA/tables/breast_cancer.csv" --columns 0:30 --label-column 30 -q -o bc.h5
  check "
f = h5py.File('bc.h5')
if f['points'].shape != (569, 30) or sorted(set(f['labels'][:].tolist())) != [0, 1]: fail('breast_cancer: %s' % (f['points'].shape,))
" "breast_cancer.csv columns"
fi
echo "companions: ok"
