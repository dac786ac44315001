#!/usr/bin/env bash
# orbit-train-flow, orbit-sample-flow, orbit-density and orbit-flow-map: the
# invocations of the documentation, chaining through files and streams,
# determinism across thread counts, round trips, pictures and bad inputs.
. "$(dirname "$0")/lib.sh"

py '
import numpy as np, h5py
rng = np.random.default_rng(0)
def cb(n):
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - rng.integers(0, 2, n) * 2 + (np.floor(x1) % 2)
    return np.stack([x1, x2], 1) * 2
with h5py.File("data.h5", "w") as f: f["points"] = cb(3000)
with h5py.File("test.h5", "w") as f: f["points"] = cb(1000)
with h5py.File("other.h5", "w") as f: f["table"] = cb(600); f["three"] = rng.normal(size=(600, 3))
bad = cb(600); bad[17, 1] = np.nan
with h5py.File("nan.h5", "w") as f: f["points"] = bad
c = cb(600); c[:, 0] = 1.5
with h5py.File("const.h5", "w") as f: f["points"] = c
np.savetxt("data.csv", cb(600), delimiter=",")
'

# the documented invocations (with fewer epochs)
orbit-train-flow data.h5 --model nsf --layers 8 --hidden 128 --bins 8 --epochs 2 --seed 1 -o model.h5 -q
orbit-train-flow data.h5 --model ot-cfm --hidden 256 --epochs 1 -o cfm.h5 -q
orbit-sample-flow model.h5 -n 10000 --seed 2 -o samples.h5
orbit-density model.h5 test.h5 -o logp.h5 --json > logp.json
py '
import h5py, json, numpy as np
s = h5py.File("samples.h5")["points"][...]
assert s.shape == (10000, 2) and np.isfinite(s).all(), s.shape
f = h5py.File("logp.h5"); lp = f["logp"][...]
j = json.load(open("logp.json"))
assert lp.shape == (1000,) and np.isfinite(lp).all()
assert abs(lp.mean() - j["mean_logp"]) < 1e-9 and abs(f.attrs["mean_logp"] - j["mean_logp"]) < 1e-9
assert abs(j["stderr_logp"] - lp.std(ddof=1) / np.sqrt(1000)) < 1e-9
# twenty steps already beat the best Gaussian fit of the checkerboard (-4.51 nats)
assert j["mean_logp"] > -4.4, j["mean_logp"]
m = h5py.File("model.h5")
assert m.attrs["orbit_kind"] in (b"model", "model")
cfg = json.loads(m["model"].attrs["config"]); assert cfg["kind"] == "nsf" and cfg["architecture"]["bins"] == 8
'

# same seed -> same model and samples, whatever -j; another seed -> other samples
orbit-train-flow data.h5 --model nsf --layers 2 --hidden 32 --epochs 2 --seed 5 -j 1 -o a.h5 -q
orbit-train-flow data.h5 --model nsf --layers 2 --hidden 32 --epochs 2 --seed 5 -j 2 -o b.h5 -q
orbit-sample-flow a.h5 -n 9000 --seed 3 -j 1 -o sa.h5
orbit-sample-flow b.h5 -n 9000 --seed 3 -j 2 -o sb.h5
orbit-sample-flow b.h5 -n 9000 --seed 4 -o sc.h5
py '
import h5py, numpy as np
a, b = h5py.File("a.h5"), h5py.File("b.h5")
for k in a["model/weights"]:
    assert (a["model/weights"][k][...] == b["model/weights"][k][...]).all(), k
x, y, z = (h5py.File(f)["points"][...] for f in ("sa.h5", "sb.h5", "sc.h5"))
assert (x == y).all() and not (x == z).all()
'

# data -> latent -> data round trip in float32, through a stream
orbit-flow-map model.h5 test.h5 -o - | orbit-flow-map model.h5 - --inverse -o back.h5
py '
import h5py, numpy as np
x = h5py.File("test.h5")["points"][...]; y = h5py.File("back.h5")["points"][...]
err = np.abs(x - y).max(); assert err < 1e-4, err   # data units (std about 2.3): 1e-5 relative
'

# CSV and FILE:/dataset inputs, resume, early stopping, pictures, CFM density
orbit-train-flow data.csv --model realnvp --layers 2 --hidden 16 --epochs 1 --batch 64 -o csv.h5 -q
orbit-train-flow other.h5:/table --model nsf --layers 2 --hidden 16 --epochs 4 --batch 64 --stop-after 2 -o part.h5 -q
orbit-train-flow other.h5:/table --resume part.h5 --epochs 4 --batch 64 -o resumed.h5 -q
orbit-train-flow other.h5:/table --model nsf --layers 2 --hidden 16 --epochs 4 --batch 64 -o full.h5 -q
py '
import h5py, json
r, f = h5py.File("resumed.h5"), h5py.File("full.h5")
for k in f["model/weights"]:
    assert (r["model/weights"][k][...] == f["model/weights"][k][...]).all(), k
assert json.loads(r["model"].attrs["training"])["epoch"] == 4
'
orbit-train-flow data.h5 --model nsf --layers 2 --hidden 16 --epochs 2 --plot dens.png --plot-loss loss.svg -o p.h5 -q
[[ -s dens.png && -s dens-samples.png && -s loss.svg ]] || fail "pictures missing"
orbit-sample-flow cfm.h5 -n 500 --ode euler --steps 10 --plot s.svg -o cs.h5
[[ -s s.svg ]] || fail "sample picture missing"
orbit-density cfm.h5 test.h5 --json > cfm.json
py 'import json, math; j = json.load(open("cfm.json")); assert math.isfinite(j["mean_logp"]) and j["mean_logp"] > -6, j'

# conditional flows: integer labels one-hot, class-conditional sampling, densities with a context
py '
import numpy as np, h5py
rng = np.random.default_rng(3)
for name, n in (("digits.h5", 2000), ("dtest.h5", 400)):
    y = rng.integers(0, 4, n)
    x = np.stack([np.cos(y * np.pi / 2), np.sin(y * np.pi / 2)], 1) * 3 + rng.normal(size=(n, 2)) * 0.3
    with h5py.File(name, "w") as f: f["points"] = x; f["labels"] = y
'
orbit-train-flow digits.h5 --model nsf --context digits.h5:/labels --layers 4 --hidden 32 --epochs 20 --seed 1 -o cond.h5 -q
orbit-density cond.h5 dtest.h5 --context dtest.h5:/labels -o clogp.h5
orbit-density cond.h5 dtest.h5 --context digits.h5:/labels 2>/dev/null && fail "context rows must match the data rows"
orbit-sample-flow cond.h5 -n 300 --context-value 3 --seed 1 -o s3.h5
orbit-train-flow digits.h5 --model cfm --context digits.h5:/labels --hidden 32 --epochs 30 --lr 3e-3 -o ccfm.h5 -q
orbit-sample-flow ccfm.h5 -n 300 --context-value 1 --ode rk4 --steps 10 -o c1.h5
py '
import h5py, json, numpy as np
m = json.loads(h5py.File("cond.h5")["model"].attrs["config"])
assert m["context"]["encoding"] == "onehot" and m["context"]["classes"] == [0, 1, 2, 3], m["context"]
lp = h5py.File("clogp.h5")["logp"][...]; assert lp.shape == (400,) and lp.mean() > -2.5, lp.mean()
s = h5py.File("s3.h5")["points"][...]; assert s.shape == (300, 2)
near = np.mean(np.linalg.norm(s - [0, -3], axis=1) < 1)       # class 3 sits at angle 270 degrees
assert near > 0.7, near
c = h5py.File("c1.h5")["points"][...]
near = np.mean(np.linalg.norm(c - [0, 3], axis=1) < 1)
assert near > 0.5, near
'

# Riemannian flow matching: the invocations of the documentation, with fewer epochs
py '
import numpy as np, h5py
rng = np.random.default_rng(5)
def unit(v): return v / np.linalg.norm(v, axis=-1, keepdims=True)
c = unit(rng.normal(size=(3, 3)))
for name, n in (("normals.h5", 1200), ("held-out.h5", 300)):
    with h5py.File(name, "w") as f: f["points"] = unit(c[rng.integers(0, 3, n)] + 0.2 * rng.normal(size=(n, 3)))
def rot(q):
    x, y, z, w = (unit(q)).T
    return np.stack([1-2*(y*y+z*z), 2*(x*y-z*w), 2*(x*z+y*w), 2*(x*y+z*w), 1-2*(x*x+z*z), 2*(y*z-x*w),
                     2*(x*z-y*w), 2*(y*z+x*w), 1-2*(x*x+y*y)], 1).reshape(-1, 3, 3)
q = np.array([[0, 0, 0, 1.0], [0, 0, 1, 0]])   # identity and a half turn about z (a two-fold symmetry)
with h5py.File("rotations.h5", "w") as f: f["points"] = rot(q[rng.integers(0, 2, 1000)] + 0.1 * rng.normal(size=(1000, 4)))
with h5py.File("notunit.h5", "w") as f: f["points"] = 1.5 * c
'
orbit-train-flow normals.h5 --manifold sphere --hidden 64 --epochs 40 --batch 64 --lr 3e-3 -o sphere.h5 -q
orbit-train-flow rotations.h5 --manifold so3 --hidden 64 --epochs 100 --batch 64 --lr 3e-3 -o so3.h5 -q
orbit-sample-flow so3.h5 -n 2000 --seed 2 -o samples.h5
orbit-sample-flow so3.h5 -n 50 --seed 2 --quaternions -o quats.h5
orbit-density sphere.h5 held-out.h5 -o slogp.h5
orbit-density so3.h5 quats.h5 --json > q.json
orbit-density so3.h5 samples.h5 --ode rk4 --steps 20 --json > r.json
orbit-sample-flow sphere.h5 -n 500 --ode rk4 --steps 16 -o ssph.h5
# a von Mises-Fisher base fitted by EM (K chosen on held-out training rows) with the geodesic minibatch coupling, -j 1 and 2
orbit-train-flow normals.h5 --manifold sphere --base vmf --coupling exact --hidden 16 --epochs 3 --batch 64 --seed 4 -j 1 -o svmf.h5 -q
orbit-train-flow normals.h5 --manifold sphere --base vmf --coupling exact --hidden 16 --epochs 3 --batch 64 --seed 4 -j 2 -o svmf2.h5 -q
orbit-density svmf.h5 held-out.h5 --json > vl.json
# likelihood selection: evaluated at epochs 0, 2, 4 and 5; the kept model is the best of them
orbit-train-flow normals.h5 --manifold sphere --base vmf:4 --hidden 16 --epochs 5 --batch 64 --seed 4 --select-every 2 --json -o ssel.h5 -q > ssel.json
py '
import h5py, json
rep = json.load(open("ssel.json"))["report"]
h = json.loads(h5py.File("ssel.h5")["/model"].attrs["training"])["history"]
assert h["select_epoch"] == [0, 2, 4, 5], h["select_epoch"]
assert abs(rep["best_val_log_likelihood"] - max(h["val_log_likelihood"])) < 1e-12, rep
'
orbit-density svmf2.h5 held-out.h5 --json > vl2.json
orbit-sample-flow svmf.h5 -n 300 --ode rk4 --steps 16 -o svs.h5
py '
import h5py, json, numpy as np
R = h5py.File("samples.h5")["points"][...]
assert R.shape == (2000, 3, 3), R.shape
assert np.abs(np.einsum("nji,njk->nik", R, R) - np.eye(3)).max() < 1e-9 and np.abs(np.linalg.det(R) - 1).max() < 1e-9
q = h5py.File("quats.h5")["points"][...]
assert q.shape == (50, 4) and np.abs(np.linalg.norm(q, axis=1) - 1).max() < 1e-12 and (q[:, 3] >= 0).all()
# the samples sit near the two modes (rotation angle about 0 or pi about z)
ang = np.degrees(np.arccos(np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1)))
zz = R[:, 2, 2]
near = np.mean((ang < 40) | ((ang > 140) & (zz > 0.8)))
assert near > 0.8 and min(np.mean(ang < 40), np.mean(ang > 140)) > 0.3, near
s = h5py.File("ssph.h5")["points"][...]; assert np.abs(np.linalg.norm(s, axis=1) - 1).max() < 1e-9
lp = h5py.File("slogp.h5")["logp"][...]
assert lp.shape == (300,) and lp.mean() > -np.log(4 * np.pi) + 0.3, lp.mean()   # better than uniform on S^2
assert json.load(open("r.json"))["mean_logp"] > 0.3   # Haar probability measure: uniform is 0
a = json.loads(h5py.File("svmf.h5")["model"].attrs["config"])["architecture"]
assert a["base"] == "vmf" and a["coupling"] == "exact" and len(a["base_mixture"]["weight"]) >= 2, a
assert json.load(open("vl.json")) == json.load(open("vl2.json"))   # the same bits (of every log-density statistic) for any -j
assert json.load(open("vl.json"))["mean_logp"] > -np.log(4 * np.pi) + 0.3   # the base alone already beats uniform
s = h5py.File("svs.h5")["points"][...]; assert np.abs(np.linalg.norm(s, axis=1) - 1).max() < 1e-9
'

# an interpolant on a tiny restoration problem: points of a circle from shifted, noisy copies
py '
import numpy as np, h5py
rng = np.random.default_rng(5)
a = rng.random(1500) * 2 * np.pi
ref = np.stack([np.cos(a), np.sin(a)], 1)
with h5py.File("pairs.h5", "w") as f:
    f["ref"] = ref; f["src"] = ref + [0.4, 0.0] + 0.03 * rng.normal(size=ref.shape); f["short"] = ref[:100]
'
orbit-train-flow --model interpolant --source pairs.h5:/src --target pairs.h5:/ref --hidden 32 --epochs 40 --lr 3e-3 --seed 3 -o interp.h5 -q
orbit-train-flow pairs.h5:/ref --model interpolant --base gaussian --source pairs.h5:/src --hidden 16 --epochs 1 -o interp-g.h5 -q
orbit-flow-map interp.h5 pairs.h5:/src --ode euler --steps 4 --seed 2 -j 1 -o mapped.h5
orbit-flow-map interp.h5 pairs.h5:/src --ode euler --steps 4 --seed 2 -j 2 -o mapped2.h5
orbit-sample-flow interp.h5 --context pairs.h5:/src --ode euler --steps 4 --seed 2 -o sampled.h5
orbit-density interp.h5 pairs.h5:/ref --context pairs.h5:/src --json > il.json
py '
import h5py, json, numpy as np
m = h5py.File("mapped.h5")["points"][...]
assert (m == h5py.File("mapped2.h5")["points"][...]).all() and (m == h5py.File("sampled.h5")["points"][...]).all()
f = h5py.File("pairs.h5"); src, ref = f["src"][...], f["ref"][...]
err_in, err_out = np.linalg.norm(src - ref, axis=1).mean(), np.linalg.norm(m - ref, axis=1).mean()
assert err_out < 0.3 * err_in, (err_out, err_in)   # the mapped points are nearer their clean originals
assert np.isfinite(json.load(open("il.json"))["mean_logp"])
'
expect_error 2 orbit-train-flow --model interpolant --target pairs.h5:/ref -o x.h5
expect_error 2 orbit-train-flow data.h5 --base gaussian -o x.h5
expect_error 2 orbit-train-flow --model interpolant --source pairs.h5:/src -o x.h5
expect_error 1 orbit-train-flow --model interpolant --source pairs.h5:/short --target pairs.h5:/ref -o x.h5
expect_error 1 orbit-sample-flow interp.h5 -n 10 -o x.h5
expect_error 2 orbit-flow-map interp.h5 pairs.h5:/src --context pairs.h5:/src -o x.h5

# pose distributions: hypotheses in orbit-register's layout, two poses a half turn apart and clutter
py '
import numpy as np, h5py
rng = np.random.default_rng(2)
def rot(w):
    th = np.linalg.norm(w); K = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]]) / th
    return np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K
A = rot(np.array([0.3, -0.5, 0.8])); B = A @ rot(np.array([0, 0, np.pi]))
R = [P @ rot(rng.normal(size=3) * 0.05) for P in [A] * 10 + [B] * 10] + [rot(rng.normal(size=3) * 2) for _ in range(6)]
s = np.r_[0.8 + 0.1 * rng.random(20), 0.05 * rng.random(6)]
H = len(R); T = np.tile(np.eye(4), (H, 1, 1)); T[:, :3, :3] = R
with h5py.File("hyps.h5", "w") as f:
    f["rotations"] = np.array(R); f["translations"] = np.zeros((H, 3)); f["transforms"] = T
    f["scores"] = s; f["pair"] = np.zeros(H, dtype=np.int64); f["negative"] = -s
np.save("poses.npy", np.array([A, B]))
'
orbit-train-flow hyps.h5:/rotations --manifold so3 --weights hyps.h5:/scores --resample 2000 --hidden 64 --epochs 30 --lr 3e-3 --seed 1 -o pose.h5 -q
orbit-sample-flow pose.h5 -n 1000 --seed 2 --modes modes.h5 --json -o poses.h5 > modes.json
py '
import h5py, json, numpy as np
P = np.load("poses.npy"); f = h5py.File("modes.h5"); M = f["rotations"][...]; mass = f["mass"][...]
j = json.load(open("modes.json"))["modes"]
assert len(j) == len(M) and abs(mass.sum() - 1) < 1e-9 and np.isfinite(f["logp"][...]).all()
ang = lambda a, b: np.degrees(np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1)))
for p in P:   # both poses are among the two heaviest modes
    assert min(ang(p, m) for m in M[:2]) < 5, [ang(p, m) for m in M[:4]]
assert min(mass[:2]) > 0.3, mass[:4]
'
expect_error 1 orbit-train-flow hyps.h5:/rotations --manifold so3 --weights hyps.h5:/negative -o x.h5
expect_error 1 orbit-train-flow hyps.h5:/rotations --manifold so3 --weights hyps.h5:/pair -o x.h5
expect_error 2 orbit-train-flow hyps.h5:/rotations --manifold so3 --resample 100 -o x.h5
expect_error 2 orbit-sample-flow sphere.h5 -n 10 --modes m.h5 -o x.h5
expect_error 2 orbit-sample-flow pose.h5 -n 10 --bandwidth 5 -o x.h5

# bad inputs: exit 1 (data) or 2 (usage) with one line
expect_error 1 orbit-train-flow nan.h5 --epochs 1 -o x.h5
expect_error 1 orbit-train-flow const.h5 --epochs 1 -o x.h5
expect_error 1 orbit-train-flow other.h5:/table --batch 1000 --epochs 1 -o x.h5
expect_error 1 orbit-density model.h5 other.h5:/three
expect_error 1 orbit-flow-map model.h5 other.h5:/three -o x.h5
expect_error 1 orbit-sample-flow data.h5 -n 10 -o x.h5
expect_error 1 orbit-train-flow other.h5:/nothing --epochs 1 -o x.h5
expect_error 2 orbit-train-flow data.h5 --model glow -o x.h5
expect_error 2 orbit-train-flow data.h5 --model cfm --bins 4 -o x.h5
expect_error 2 orbit-sample-flow model.h5 -n 0 -o x.h5
expect_error 2 orbit-sample-flow model.h5 --plot x.jpg -o x.h5
expect_error 2 orbit-density model.h5 test.h5 --plot p.jpg -o x.h5
expect_error 2 orbit-density model.h5 test.h5 --plot nofolder/p.png -o x.h5
expect_error 2 orbit-density so3.h5 quats.h5 --plot p.png -o x.h5
expect_error 2 orbit-train-flow data.h5 --epochs 1 --plot-loss l.jpg -o x.h5
expect_error 2 orbit-train-flow normals.h5 --model nsf --manifold sphere -o x.h5
expect_error 2 orbit-train-flow normals.h5 --manifold sphere --bins 4 -o x.h5
expect_error 2 orbit-train-flow digits.h5 --model ot-cfm --context digits.h5:/labels -o x.h5
expect_error 1 orbit-train-flow notunit.h5 --manifold sphere -o x.h5
expect_error 1 orbit-train-flow normals.h5 --manifold so3 -o x.h5
expect_error 2 orbit-train-flow normals.h5 --manifold sphere --base vmf:x -o x.h5
expect_error 2 orbit-train-flow normals.h5 --manifold sphere --base source -o x.h5
expect_error 2 orbit-train-flow normals.h5 --manifold sphere --coupling sinkhorn -o x.h5
expect_error 2 orbit-train-flow normals.h5 --manifold sphere --select-every 2 --val 0 -o x.h5
expect_error 2 orbit-train-flow normals.h5 --model nsf --select-every 2 -o x.h5
expect_error 2 orbit-train-flow normals.h5 --manifold sphere --epochs 6 --resume ssel.h5 -q -o x.h5
expect_error 2 orbit-train-flow normals.h5 --model nsf --base vmf -o x.h5
expect_error 1 orbit-train-flow digits.h5 --context dtest.h5:/labels -o x.h5
expect_error 1 orbit-density cond.h5 dtest.h5 -o x.h5
expect_error 1 orbit-density model.h5 dtest.h5 --context dtest.h5:/labels -o x.h5
expect_error 1 orbit-sample-flow cond.h5 -n 5 --context-value 42 -o x.h5
expect_error 2 orbit-sample-flow cond.h5 -n 5 --context-value 1,x -o x.h5
expect_error 2 orbit-sample-flow model.h5 -n 5 --quaternions -o x.h5
[[ ! -e x.h5 && ! -e l.jpg ]] || fail "a failed run left an output"
echo ok
