#!/bin/bash
# orbit-convert: round trips through every writer checked with numpy/h5py,
# NPZ and the Assimp mesh formats, streams, history, determinism of --sample,
# and bad inputs (exit 1, one line).
. "$(dirname "$0")/lib.sh"

# ---- synthetic inputs written with numpy ----------------------------------
py '
import numpy as np
rng = np.random.default_rng(0)
p = rng.normal(size=(500, 3)) * 10
np.save("f8.npy", p)
np.save("f4.npy", p.astype(np.float32))
np.save("be.npy", p.astype(">f8"))
np.save("tab.npy", rng.normal(size=(40, 7)))
np.save("batch.npy", rng.normal(size=(4, 50, 3)))
np.save("fortran.npy", np.asfortranarray(rng.normal(size=(5, 3))))
np.save("nan.npy", np.array([[1.0, np.nan, 2.0]]))
# A cube mesh as OFF (quads, fan-triangulated by the reader).
v = np.array([[x, y, z] for z in (-.5, .5) for y in (-.5, .5) for x in (-.5, .5)])
quads = [(0,2,3,1),(4,5,7,6),(0,1,5,4),(2,6,7,3),(0,4,6,2),(1,3,7,5)]
with open("cube.off", "w") as f:
    f.write("OFF\n# a unit cube\n8 6 0\n")
    for r in v: f.write("%r %r %r\n" % tuple(r))
    for q in quads: f.write("4 %d %d %d %d\n" % q)
with open("flat.off", "w") as f:
    f.write("OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n")
'

# NPY -> HDF5 -> NPY/CSV/PLY, values exact (float64) everywhere.
orbit-convert f8.npy -o a.h5
orbit-convert a.h5 -o back.npy
orbit-convert a.h5 -o back.csv
orbit-convert a.h5 -o back.ply
orbit-convert back.ply -o ply.h5
orbit-convert back.csv -o csv.h5
orbit-convert be.npy -o be.h5
orbit-convert f4.npy -o f4.h5
orbit-convert tab.npy -o tab.csv
orbit-convert tab.csv -o tab.h5
py '
import numpy as np, h5py
p = np.load("f8.npy")
for name in ["a.h5", "ply.h5", "csv.h5", "be.h5"]:
    with h5py.File(name) as f:
        assert f["points"].dtype == np.float64, name
        assert np.array_equal(f["points"][:], p), name
        assert f.attrs["orbit_kind"] == "pointset", name
assert np.array_equal(np.load("back.npy"), p)
assert np.array_equal(np.loadtxt("back.csv", delimiter=",", skiprows=1), p)
assert open("back.csv").readline().strip() == "x,y,z"
with h5py.File("f4.h5") as f:
    assert np.array_equal(f["points"][:], np.load("f4.npy").astype(np.float64))
with h5py.File("tab.h5") as f:
    assert f["points"].shape == (40, 7)
    assert np.array_equal(f["points"][:], np.load("tab.npy"))
' || fail "round trips differ"

# A batch [B,N,3] through HDF5 and back to NPY; PLY refuses several clouds.
orbit-convert batch.npy -o batch1.h5
py '
import h5py, numpy as np
b = np.load("batch.npy")
with h5py.File("b3.h5", "w") as f: f["data"] = b
'
orbit-convert b3.h5:/data -o b3.npy
orbit-convert b3.h5 --dataset data -o b4.npy
py 'import numpy as np; b = np.load("batch.npy"); assert np.array_equal(np.load("b3.npy"), b) and np.array_equal(np.load("b4.npy"), b)' ||
  fail "batch round trip"
expect_error 1 orbit-convert b3.h5:/data -o b3.ply
[[ ! -e b3.ply ]] || fail "partial output left behind"

# Meshes: faces kept in PLY and HDF5; --sample deterministic by --seed, not by -j.
orbit-convert cube.off -o cube.ply
orbit-convert cube.ply -o cube.h5
orbit-convert cube.h5 --sample 3000 --seed 3 -j 1 -o s1.h5
orbit-convert cube.off --sample 3000 --seed 3 -j 2 -o s2.h5
orbit-convert cube.off --sample 3000 --seed 4 -o s3.h5
orbit-convert cube.off --sample 20000 --seed 3 --normalize -o s4.h5
py '
import h5py, numpy as np
with h5py.File("cube.h5") as f:
    assert f["faces"].shape == (12, 3) and f["points"].shape == (8, 3)
a, b, c = (h5py.File(n) for n in ["s1.h5", "s2.h5", "s3.h5"])
assert np.array_equal(a["points"][:], b["points"][:]) and np.array_equal(a["normals"][:], b["normals"][:])
assert not np.array_equal(a["points"][:], c["points"][:])
p, n = a["points"][:], a["normals"][:]
assert p.shape == (3000, 3) and n.shape == (3000, 3)
assert np.allclose(np.abs(p).max(axis=1), 0.5, atol=1e-12), "off the surface"
assert np.allclose(np.linalg.norm(n, axis=1), 1, atol=1e-12)
axis = np.abs(n).argmax(axis=1)
assert np.allclose(2 * p[np.arange(len(p)), axis], n[np.arange(len(p)), axis], atol=1e-12), "normals not outward"
q = h5py.File("s4.h5")["points"][:]
assert abs(np.linalg.norm(q, axis=1).max() - 1) < 1e-12 and np.abs(q.mean(axis=0)).max() < 1e-12
' || fail "mesh conversion or sampling"

# NPZ (np.savez: stored, np.savez_compressed: deflated) and meshes through Assimp (OBJ, binary STL).
py '
import numpy as np, struct
p, b = np.load("f8.npy"), np.load("batch.npy")
np.savez("a.npz", other=p[:10], points=p)
np.savez_compressed("c.npz", p, batch=b)
v = np.array([[x, y, z] for z in (-.5, .5) for y in (-.5, .5) for x in (-.5, .5)])
quads = [(0,2,3,1),(4,5,7,6),(0,1,5,4),(2,6,7,3),(0,4,6,2),(1,3,7,5)]
with open("cube.obj", "w") as f:
    f.write("# a unit cube\n")
    for r in v: f.write("v %r %r %r\n" % tuple(r))
    for q in quads: f.write("f %d %d %d %d\n" % tuple(i + 1 for i in q))
with open("cube.stl", "wb") as f:
    f.write(b"binary cube".ljust(80) + struct.pack("<I", 12))
    for q in quads:
        for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3])):
            f.write(struct.pack("<3f", 0, 0, 0) + b"".join(struct.pack("<3f", *v[i]) for i in t) + b"\0\0")
'
orbit-convert a.npz -o npz.h5
orbit-convert a.npz:/other -o other.npy
orbit-convert c.npz --dataset arr_0 -o c.h5
orbit-convert c.npz:/batch -o cb.h5
orbit-convert cube.obj -o cube_obj.h5
orbit-convert cube.obj --sample 3000 --seed 3 -o so.h5
orbit-convert cube.stl --sample 3000 --seed 3 -o ss.h5
py '
import h5py, numpy as np
p, b = np.load("f8.npy"), np.load("batch.npy")
assert np.array_equal(h5py.File("npz.h5")["points"][:], p)
assert np.array_equal(np.load("other.npy"), p[:10])
assert np.array_equal(h5py.File("c.h5")["points"][:], p)
assert np.array_equal(h5py.File("cb.h5")["points"][:], b)
with h5py.File("cube_obj.h5") as f:
    assert f["points"].shape == (8, 3) and f["faces"].shape == (12, 3)
    assert sorted(map(tuple, f["points"][:])) == sorted((x, y, z) for x in (-.5, .5) for y in (-.5, .5) for z in (-.5, .5))
for name in ["so.h5", "ss.h5"]:
    p, n = h5py.File(name)["points"][:], h5py.File(name)["normals"][:]
    assert p.shape == (3000, 3) and np.allclose(np.abs(p).max(axis=1), 0.5, atol=1e-7), name + ": off the surface"
    axis = np.abs(n).argmax(axis=1)
    assert np.allclose(np.linalg.norm(n, axis=1), 1, atol=1e-12), name
    assert np.allclose(2 * p[np.arange(len(p)), axis], n[np.arange(len(p)), axis], atol=1e-7), name + ": normals not outward"
' || fail "NPZ or Assimp mesh conversion"
expect_error 1 orbit-convert a.npz:/nope -o out.h5
grep -q "no array .nope. (it holds other, points)" "$TMP/.err" || fail "NPZ member error: $(cat "$TMP/.err")"

# Streams: a pipeline through "-" keeps the history of every step.
orbit-convert f8.npy -o - | orbit-convert - --normalize -o - | orbit-convert - -o piped.h5
[[ $(py 'import h5py; print(h5py.File("piped.h5").attrs["history"])' | grep -c orbit-convert) == 3 ]] ||
  fail "history lost in the pipeline"
json=$(orbit-convert cube.off --sample 100 -o j.h5 --json)
py "
import json
j = json.loads('''$json''')
assert j['points'] == 100 and j['dimension'] == 3 and j['normals'] is True and j['faces'] == 0 and j['seconds'] >= 0
" || fail "json summary: $json"

# ---- bad inputs: exit 1, one line naming the file --------------------------
: >empty.ply
printf 'ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n' >noyz.ply
printf 'ply\nformat binary_little_endian 1.0\nelement vertex 1000000000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n0123456789ab' >huge.ply
printf 'ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n0123456789ab' >trunc.ply
printf 'ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\n' >nohead.ply
printf 'x,y,z\n1,2,3\n4,NaN,6\n' >nan.csv
printf '1 2 3\n4 5\n' >cols.xyz
printf 'OFF\n1000000000000 1 0\n0 0 0\n' >huge.off
printf 'FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1\nPOINTS 1\nDATA binary_compressed\n0000' >c.pcd
printf 'f 1 2 3\n' >mesh.obj
printf 'not a mesh' >mesh.foo
head -c 100 a.h5 >truncated.h5
for args in "empty.ply" "noyz.ply" "huge.ply" "trunc.ply" "nohead.ply" "nan.csv" "cols.xyz" "huge.off" "c.pcd" \
            "mesh.obj" "mesh.foo" "truncated.h5" "fortran.npy" "nan.npy" "a.h5:/nope" "f8.npy --sample 10" "flat.off --sample 10"; do
  # shellcheck disable=SC2086
  expect_error 1 orbit-convert $args -o out.h5
  [[ ! -e out.h5 ]] || fail "output left behind after: $args"
done
grep -q "huge.ply" "$TMP/.err" || true
expect_error 1 orbit-convert huge.ply -o out.npy
grep -q 'huge.ply' "$TMP/.err" || fail "error does not name the file: $(cat "$TMP/.err")"
expect_error 1 orbit-convert f8.npy -o nofolder/out.npy
expect_error 2 orbit-convert f8.npy -o out.xyzzy
expect_error 2 orbit-convert f8.npy --sample 0 -o out.h5
expect_error 2 orbit-convert missing.ply -o out.h5
expect_error 2 orbit-convert a.h5:/points --dataset points -o out.h5

# ---- real data --------------------------------------------------------------
need_data
cp "$ORBIT_DATA/meshes/bunny00.off" .
orbit-convert bunny00.off --sample 2048 --seed 1 -o bunny.h5
orbit-info bunny.h5 --json >/dev/null
for f in "$ORBIT_DATA"/meshes/*.off "$ORBIT_DATA"/points/* "$ORBIT_DATA"/tables/*; do
  orbit-convert "$f" -o "real.h5" || fail "cannot convert $f"
done
orbit-convert "$ORBIT_DATA/points/hippo1.ply" -o hippo.npy
orbit-convert "$ORBIT_DATA/meshes/armadillo.off" -o arma.ply
# The bunny as OBJ, through Assimp: the same triangles (in single precision, Assimp's).
py '
lines = [l for l in open("bunny00.off") if l.strip() and not l.startswith("#")]
nv, nf = map(int, lines[1].split()[:2])
with open("bunny.obj", "w") as f:
    for l in lines[2:2 + nv]: f.write("v " + " ".join(l.split()[:3]) + "\n")
    for l in lines[2 + nv:2 + nv + nf]: f.write("f " + " ".join(str(int(i) + 1) for i in l.split()[1:4]) + "\n")
'
orbit-convert bunny00.off -o bunny_off.h5
orbit-convert bunny.obj -o bunny_obj.h5
py '
import h5py, numpy as np
def tris(name):  # each triangle with its corners in order, the triangles in order
    with h5py.File(name) as f:
        c = f["points"][:].astype(np.float32)[f["faces"][:]]
    c = np.array([sorted(map(tuple, x)) for x in c]).reshape(len(c), 9)
    return c[np.lexsort(c.T[::-1])].astype(np.float64)
a, b = tris("bunny_off.h5"), tris("bunny_obj.h5")
assert a.shape == b.shape, (a.shape, b.shape)
assert np.abs(a - b).max() <= 1e-6 * np.abs(a).max(), np.abs(a - b).max()
' || fail "the bunny as OBJ differs from the bunny as OFF"
py "
import numpy as np, h5py
# Independent readers: a plain parse of the OFF text and of the PLY header.
lines = [l for l in open('bunny00.off') if l.strip() and not l.startswith('#')]
nv, nf = map(int, lines[1].split()[:2])
v = np.array([list(map(float, l.split()[:3])) for l in lines[2:2 + nv]])
f = np.array([list(map(int, l.split()[1:4])) for l in lines[2 + nv:2 + nv + nf]])
orbit_pts = h5py.File('bunny.h5')['points'][:]
# Every sample lies on a triangle of the bunny: among the faces with the nearest
# centroids, one contains it (plane distance ~0, barycentric coordinates in [0,1]).
from scipy.spatial import cKDTree
a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
_, near = cKDTree((a + b + c) / 3).query(orbit_pts, k=40)
on = np.zeros(len(orbit_pts), bool)
for j in range(near.shape[1]):
    i = near[:, j]
    e0, e1, w = b[i] - a[i], c[i] - a[i], orbit_pts - a[i]
    n = np.cross(e0, e1)
    dist = np.abs((w * n).sum(1)) / np.linalg.norm(n, axis=1)
    d00, d01, d11 = (e0 * e0).sum(1), (e0 * e1).sum(1), (e1 * e1).sum(1)
    d20, d21 = (w * e0).sum(1), (w * e1).sum(1)
    den = d00 * d11 - d01 * d01
    s_, t_ = (d11 * d20 - d01 * d21) / den, (d00 * d21 - d01 * d20) / den
    on |= (dist < 1e-9) & (s_ > -1e-7) & (t_ > -1e-7) & (s_ + t_ < 1 + 1e-7)
assert on.all(), '%d samples off the surface' % (~on).sum()
raw = open('$ORBIT_DATA/points/hippo1.ply', 'rb').read()
head, body = raw.split(b'end_header\n', 1)
n = int([l for l in head.split(b'\n') if l.startswith(b'element vertex')][0].split()[2])
ref = np.frombuffer(body[:n * 48], dtype='<f8').reshape(n, 6)[:, :3]
assert np.array_equal(np.load('hippo.npy'), ref)
" || fail "real data differs from an independent reader"
echo "ok"
