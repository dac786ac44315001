#!/bin/bash
# orbit-register: the issue's invocations, batches, -j and --shard determinism, errors.
. "$(dirname "$0")/lib.sh"

# Two crops of one bumpy shape; src moved by T (reference -> source) stored in src.h5:/transform,
# as orbit-transform does. Plus a batch of 4 such pairs in pairs.h5.
py '
import numpy as np, h5py
def shape(rng, n):
    u = rng.normal(size=(n, 3)); u /= np.linalg.norm(u, axis=1, keepdims=True)
    r = 1 + 0.25*np.sin(3*u[:,0]+1)*np.cos(2*u[:,1]) + 0.15*u[:,2]**2*u[:,0] + 0.1*u[:,1]
    return u * r[:, None]
def crop(p, keep, rng):
    d = rng.normal(size=3); d /= np.linalg.norm(d); s = (p - p.mean(0)) @ d
    return p[s > np.percentile(s, (1-keep)*100)]
def rot(rng):
    a, b, c = rng.uniform(0, np.pi/4, 3)
    rx = np.array([[1,0,0],[0,np.cos(a),-np.sin(a)],[0,np.sin(a),np.cos(a)]])
    ry = np.array([[np.cos(b),0,np.sin(b)],[0,1,0],[-np.sin(b),0,np.cos(b)]])
    rz = np.array([[np.cos(c),-np.sin(c),0],[np.sin(c),np.cos(c),0],[0,0,1]])
    return rx @ ry @ rz
def pair(seed):
    rng = np.random.default_rng(seed)
    raw = shape(rng, 1600)
    s, r = crop(raw, 0.7, rng)[:1000], crop(raw, 0.7, rng)[:1000]
    T = np.eye(4); T[:3,:3] = rot(rng); T[:3,3] = rng.uniform(-0.5, 0.5, 3)
    s = s @ T[:3,:3].T + T[:3,3]
    s += np.clip(rng.normal(0, 0.005, s.shape), -0.025, 0.025)
    r += np.clip(rng.normal(0, 0.005, r.shape), -0.025, 0.025)
    return rng.permutation(s), rng.permutation(r), T
s, r, T = pair(1)
with h5py.File("src.h5", "w") as f: f["points"] = s; f["transform"] = T
with h5py.File("ref.h5", "w") as f: f["points"] = r
P = [pair(10 + k) for k in range(4)]
with h5py.File("pairs.h5", "w") as f:
    f["src"] = np.array([p[0] for p in P]); f["ref"] = np.array([p[1] for p in P]); f["transform"] = np.array([p[2] for p in P])
    f["bad"] = np.zeros((4, 10, 2))
'

# 1. default method, output file and JSON summary
orbit-register src.h5 ref.h5 -o T.h5 --json >sum.json
py '
import json, h5py, numpy as np
s = json.load(open("sum.json")); assert s["method"] == "auto" and s["pairs"] == 1, s
T = h5py.File("T.h5")["transform"][:]; assert T.shape == (4, 4), T.shape
G = np.linalg.inv(h5py.File("src.h5")["transform"][:])
rre = np.degrees(np.arccos(np.clip((np.trace(G[:3,:3].T @ T[:3,:3]) - 1) / 2, -1, 1)))
assert rre < 2 and np.linalg.norm(T[:3,3] - G[:3,3]) < 0.04, (rre, T, G)
f = h5py.File("T.h5"); assert f.attrs["orbit_kind"] == "transform" and 0.5 < f.attrs["fitness"] <= 1
' || fail "auto did not recover the transform"

# 2. gmm-ot scored against the ground truth as orbit-transform writes it
orbit-register src.h5 ref.h5 --method gmm-ot --ground-truth src.h5:/transform --json >gmm.json
py '
import json; s = json.load(open("gmm.json"))
assert s["rre_deg"]["median"] < 2 and s["rte"]["median"] < 0.04 and s["recall"]["value"] == 1, s
' || fail "gmm-ot: $(cat gmm.json)"
# The other direction convention gives the same errors when the dataset is inverted.
py '
import h5py, numpy as np
with h5py.File("inv.h5", "w") as f: f["transform"] = np.linalg.inv(h5py.File("src.h5")["transform"][:])'
orbit-register src.h5 ref.h5 --method global --ground-truth inv.h5 --ground-truth-direction src-to-ref --json >inv.json
py 'import json; s = json.load(open("inv.json")); assert s["recall"]["value"] == 1, s' || fail "src-to-ref direction"

# 3. a batch, icp, two threads; same bits with one thread and per shard
orbit-register pairs.h5:/src pairs.h5:/ref --method icp -j 2 -o T2.h5
orbit-register pairs.h5:/src pairs.h5:/ref --method icp -j 1 -o T1.h5
orbit-register pairs.h5:/src pairs.h5:/ref -j 2 -o A2.h5 --ground-truth pairs.h5:/transform --json >batch.json
orbit-register pairs.h5:/src pairs.h5:/ref -j 1 -o A1.h5
orbit-register pairs.h5:/src pairs.h5:/ref -j 1 --shard 2/2 -o S2.h5
py '
import h5py, numpy as np, json
a, b = h5py.File("T1.h5"), h5py.File("T2.h5")
assert a["transform"].shape == (4, 4, 4) and np.array_equal(a["transform"][:], b["transform"][:])
for k in ("fitness", "inlier_rmse", "iterations", "seconds"): assert a[k].shape == (4,), k
a, b, s = h5py.File("A1.h5"), h5py.File("A2.h5"), h5py.File("S2.h5")
assert np.array_equal(a["transform"][:], b["transform"][:])
assert np.array_equal(s["transform"][:], a["transform"][2:])
assert (s.attrs["shard_index"], s.attrs["shard_count"], s.attrs["shard_items"], s.attrs["shard_total_items"]) == (2, 2, 2, 4)
assert "shard_index" not in a.attrs and "pair_begin" not in a.attrs
j = json.load(open("batch.json")); assert j["pairs"] == 4 and j["recall"]["value"] == 1.0, j
' || fail "batch determinism, sharding or recall"

# 3b. a batch in three slices, merged out of order, is the file one run writes (the measured seconds aside)
orbit-register pairs.h5:/src pairs.h5:/ref --method icp --ground-truth pairs.h5:/transform -o one.h5
for k in 1 2 3; do
  orbit-register pairs.h5:/src pairs.h5:/ref --method icp --ground-truth pairs.h5:/transform --shard $k/3 -o part$k.h5
done
orbit-merge part3.h5 part1.h5 part2.h5 -o merged.h5
py '
import h5py, numpy as np
a, m = h5py.File("one.h5"), h5py.File("merged.h5")
names = lambda f: sorted(k for k in f.keys())
assert names(a) == names(m), (names(a), names(m))
for k in names(a):
    if k == "seconds": assert m[k].shape == a[k].shape; continue
    assert a[k].dtype == m[k].dtype and np.array_equal(a[k][:], m[k][:]), k
    assert dict(a[k].attrs) == dict(m[k].attrs), k
skip = {"history"}
assert {k: v for k, v in a.attrs.items() if k not in skip} == {k: v for k, v in m.attrs.items() if k not in skip}
assert a["flags"].shape == (4,) and "flags_meaning" in a["flags"].attrs
' || fail "sharded batch registration does not merge into the one-job output"
expect_error 2 orbit-register pairs.h5:/src pairs.h5:/ref --shard 1/3 --correspondences -o x.h5
expect_error 2 orbit-register pairs.h5:/src pairs.h5:/ref --shard 4/3 -o x.h5
expect_error 2 orbit-register pairs.h5:/src pairs.h5:/ref --shard x -o x.h5
grep -q -- "--shard: expected K/N" "$TMP/.err" || fail "the shard error names the option: $(cat "$TMP/.err")"

# 4. streams and correspondences
orbit-register src.h5 ref.h5 --method icp-plane --correspondences -o - | orbit-info - | grep "/correspondences" >/dev/null || fail "correspondences through a stream"
orbit-register src.h5 ref.h5 --correspondences -o C.h5
py '
import h5py; c = h5py.File("C.h5")["correspondences"][:]; assert c.ndim == 2 and c.shape[1] == 2 and len(c) > 300, c.shape'

# 4a. -v shows the progress of a batch over pairs; the default and -q do not
orbit-register pairs.h5:/src pairs.h5:/ref --method icp -j 2 -v -o TV.h5 2>verbose.err
grep -q "orbit-register: pair 4/4" verbose.err || fail "-v shows no progress over pairs: $(cat verbose.err)"
orbit-register pairs.h5:/src pairs.h5:/ref --method icp -j 2 -o TV.h5 2>plain.err
! grep -q "pair 4/4" plain.err || fail "progress without -v: $(cat plain.err)"
py '
import h5py; it = h5py.File("TV.h5")["iterations"][:]
assert (it >= 1).all() and (it <= 60).all(), it' || fail "iterations above --max-iterations"
orbit-register src.h5 ref.h5 --max-iterations 7 -o T7.h5
py 'import h5py; n = h5py.File("T7.h5").attrs["iterations"]; assert 1 <= n <= 7, n' || fail "auto reports more iterations than --max-iterations"

# 4b. the scored hypotheses of every pair: the layout, and the best one is the pose the final ICP refined
orbit-register pairs.h5:/src pairs.h5:/ref --method global --candidates 3 --hypotheses H.h5 -o TG.h5 --ground-truth pairs.h5:/transform
orbit-register src.h5 ref.h5 --method cpd --hypotheses H1.h5 -o T1c.h5
orbit-register pairs.h5:/src pairs.h5:/ref --method global --candidates 3 --hypotheses H0.h5 -o TG0.h5
py 'import h5py, numpy as np; h5py.File("ident.h5", "w")["transform"] = np.tile(np.eye(4), (4, 1, 1))'
orbit-register pairs.h5:/src pairs.h5:/ref --method global --candidates 3 --hypotheses HI.h5 -o TGI.h5 --ground-truth ident.h5:/transform
py '
import h5py, numpy as np
f, t = h5py.File("H.h5"), h5py.File("TG.h5")
H = f["transforms"][:]; n = len(H)
assert f["rotations"].shape == (n, 3, 3) and f["translations"].shape == (n, 3) and f["scores"].shape == (n,) and f["pair"].shape == (n,)
assert f["pair"].dtype == np.int64 and f["scores"].dtype == np.float64 and H.dtype == np.float64
assert np.array_equal(f["rotations"][:], H[:, :3, :3]) and np.array_equal(f["translations"][:], H[:, :3, 3])
assert dict(f.attrs)["method"] == "global" and f.attrs["score"] == "verification" and f.attrs["orbit_kind"] == "hypotheses"
assert f.attrs["source"] == "pairs.h5:/src" and f.attrs["reference"] == "pairs.h5:/ref" and "orbit-register" in f.attrs["history"]
p, s = f["pair"][:], f["scores"][:]
assert list(np.unique(p)) == [0, 1, 2, 3] and np.all(np.diff(p) >= 0)
for b in range(4):
    sb = s[p == b]; assert 1 <= len(sb) <= 6 and np.all(np.diff(sb) <= 0), sb   # up to 3 RANSAC + 3 consistency, best first
    best, T = H[p == b][0], t["transform"][b]
    assert np.linalg.norm(best[:3, :3] - T[:3, :3]) < 0.05 and np.linalg.norm(best[:3, 3] - T[:3, 3]) < 0.02, (b, best, T)
# the verification score of the true pose per pair (a diagnostic: the truth never enters the registration)
ts, tr = f["truth_scores"][:], f["truth_refined_scores"][:]
assert ts.shape == (4,) and tr.shape == (4,) and f.attrs["first_pair"] == 0 and np.all(ts > 0), (ts, tr)
for b in range(4):   # every pair is registered here: the refined truth is the best pose
    assert abs(tr[b] - s[p == b][0]) <= 0.05 * s[p == b][0], (b, tr[b], s[p == b][:3])
h0, t0 = h5py.File("H0.h5"), h5py.File("TG0.h5")
assert "truth_scores" not in h0 and np.array_equal(t0["transform"][:], t["transform"][:]) and np.array_equal(h0["scores"][:], s)
hi = h5py.File("HI.h5")   # a wrong truth (the identity) scores below the best pose
assert np.all(hi["truth_scores"][:] < 0.5 * np.array([s[p == b][0] for b in range(4)])), hi["truth_scores"][:]
g = h5py.File("H1.h5"); one = h5py.File("T1c.h5")
assert g.attrs["score"] == "fitness" and len(g["scores"]) == 1 and g["scores"][0] == one.attrs["fitness"]
assert np.array_equal(g["transforms"][0], one["transform"][:])
' || fail "--hypotheses layout"
expect_error 1 orbit-register src.h5 ref.h5 -o T0.h5 --hypotheses /nonexistent/dir/H.h5
[[ ! -e T0.h5 ]] || fail "an unwritable --hypotheses was found only after the work"
expect_error 2 orbit-register src.h5 ref.h5 --hypotheses - -o -

# 4c. the aligned clouds as one coloured PLY: moved sources and references, the pair of each vertex
orbit-register pairs.h5:/src pairs.h5:/ref --method icp --aligned aligned.ply -o TA.h5
py '
import h5py, numpy as np
raw = open("aligned.ply", "rb").read(); end = raw.index(b"end_header\n") + 11
dt = np.dtype([("x", "<f8"), ("y", "<f8"), ("z", "<f8"), ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("pair", "<i4")])
v = np.frombuffer(raw[end:], dt)
f, t = h5py.File("pairs.h5"), h5py.File("TA.h5")["transform"][:]
S, R = f["src"][:], f["ref"][:]
assert len(v) == S.shape[0] * S.shape[1] + R.shape[0] * R.shape[1], len(v)
xyz = np.stack([v["x"], v["y"], v["z"]], 1); rgb = np.stack([v["red"], v["green"], v["blue"]], 1)
row = 0
for b in range(len(S)):
    moved = S[b] @ t[b][:3, :3].T + t[b][:3, 3]
    n, m = len(S[b]), len(R[b])
    assert np.allclose(xyz[row:row + n], moved, atol=1e-12) and (rgb[row:row + n] == [255, 128, 0]).all()
    assert np.array_equal(xyz[row + n:row + n + m], R[b]) and (rgb[row + n:row + n + m] == [0, 112, 255]).all()
    assert (v["pair"][row:row + n + m] == b).all()
    row += n + m
' || fail "--aligned PLY"
expect_error 2 orbit-register src.h5 ref.h5 --aligned aligned.h5
[[ ! -e aligned.h5 ]] || fail "a refused --aligned left a file"

# 5. errors: one line, the right exit code
expect_error 2 orbit-register src.h5 ref.h5 --method nope
grep -q -- "--method: expected one of auto" "$TMP/.err" || fail "the method error names the option once: $(cat "$TMP/.err")"
expect_error 2 orbit-register src.h5 ref.h5 --max-distance nan
expect_error 2 orbit-register src.h5 ref.h5 --recall-rre inf
expect_error 2 orbit-register src.h5 ref.h5 --max-distance -1
grep -q -- "--max-distance: expected a number >= 0, found -1" "$TMP/.err" || fail "short range message: $(cat "$TMP/.err")"
expect_error 2 orbit-register missing.h5 ref.h5
expect_error 2 orbit-register src.h5 ref.h5 --trim 0
expect_error 2 orbit-register src.h5 ref.h5 --free-space-weight -1
expect_error 1 orbit-register pairs.h5:/bad pairs.h5:/ref
expect_error 1 orbit-register pairs.h5:/src ref.h5
expect_error 1 orbit-register src.h5 ref.h5 --ground-truth pairs.h5:/transform
expect_error 1 orbit-register src.h5 ref.h5:/nothing
py '
import h5py, numpy as np
with h5py.File("two.h5", "w") as f: f["points"] = np.zeros((2, 3))
with h5py.File("line.h5", "w") as f: f["points"] = np.outer(np.arange(20.0), [1, 2, 3])
with h5py.File("nan.h5", "w") as f: p = np.ones((10, 3)); p[2, 1] = np.nan; f["points"] = p'
expect_error 1 orbit-register two.h5 ref.h5
expect_error 1 orbit-register line.h5 ref.h5
expect_error 1 orbit-register nan.h5 ref.h5
grep -q collinear "$TMP/.err" || true
[[ ! -e T3.h5 ]] || fail "a failed run left an output"
expect_error 1 orbit-register line.h5 ref.h5 -o T3.h5
[[ ! -e T3.h5 ]] || fail "a failed run left an output"
echo ok
