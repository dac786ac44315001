#!/usr/bin/env bash
# orbit-sinkhorn: the issue's invocations, agreement with POT, batches, streams and bad input.
. "$(dirname "$0")/lib.sh"

py '
import h5py, numpy as np
r = np.random.default_rng(3)
x = r.random((300, 3)); y = r.random((250, 3)) + 0.1
with h5py.File("x.h5", "w") as f: f["points"] = x
with h5py.File("y.h5", "w") as f: f["points"] = y
C = ((x[:40, None, :] - y[None, :30, :]) ** 2).sum(-1)
with h5py.File("C.h5", "w") as f: f["cost"] = C
with h5py.File("a.h5", "w") as f: f["w"] = np.full(40, 1 / 40)
with h5py.File("b.h5", "w") as f: f["w"] = np.full(30, 1 / 30)
with h5py.File("batch_x.h5", "w") as f: f["points"] = r.random((3, 50, 2))
with h5py.File("batch_y.h5", "w") as f: f["points"] = r.random((3, 40, 2))
with h5py.File("sx.h5", "w") as f: f["points"] = r.random((30, 2))
with h5py.File("sy.h5", "w") as f: f["points"] = r.random((30, 2))
'

# ---- the invocations of the issue, exactly as written ----------------------
orbit-sinkhorn x.h5 y.h5 --eps 0.01 --tol 1e-6 -o ot.h5 --json > s1.json
orbit-sinkhorn x.h5 y.h5 --eps 0.01 --plan sparse -o ot.h5
orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.05 --scaling 0.9 --json > s3.json
orbit-sinkhorn --cost C.h5:/cost --a a.h5:/w --b b.h5:/w --eps 0.1 --reach 1.0 -o ot4.h5
py '
import json, h5py, numpy as np
s = json.load(open("s1.json"))
assert s["converged"] and s["marginal_error"] <= 1e-6, s
for k in ("cost", "primal", "dual", "iterations", "marginal_error", "seconds"): assert k in s, k
assert abs(s["primal"] - s["dual"]) < 1e-5 * abs(s["dual"]), s
with h5py.File("ot.h5") as f:
    assert f.attrs["orbit_kind"] == "plan"
    n, m = f["f"].shape[0], f["g"].shape[0]
    assert (n, m) == (300, 250)
    assert f["plan"].attrs["format"] == "csr"
    data, ind, ptr = f["plan/data"][()], f["plan/indices"][()], f["plan/indptr"][()]
    assert ptr.shape == (301,) and ptr[-1] == data.size == ind.size
    P = np.zeros((n, m))
    for i in range(n): P[i, ind[ptr[i]:ptr[i+1]]] = data[ptr[i]:ptr[i+1]]
    # the sparse plan drops only entries below 1e-12: both marginals meet the
    # default tolerance (1e-6 in L1; over-relaxation leaves neither exact)
    assert abs(P.sum(0) - 1 / m).sum() < 1e-6 + m * n * 1e-12, abs(P.sum(0) - 1/m).sum()
    assert abs(P.sum(1) - 1 / n).sum() < 1e-6 + m * n * 1e-12, abs(P.sum(1) - 1/n).sum()
d = json.load(open("s3.json"))
assert d["converged"] and d["divergence"] > 0, d
with h5py.File("ot4.h5") as f:
    assert f["f"].shape == (40,) and f["g"].shape == (30,)
    assert f.attrs["converged"] == 1
'

# identical inputs: the divergence is exactly zero
orbit-sinkhorn x.h5 x.h5 --divergence --blur 0.05 --json > s0.json
py 'import json; d = json.load(open("s0.json")); assert d["divergence"] == 0.0, d'

# ---- agreement with POT (skipped when POT is missing) -----------------------
if /usr/bin/python3 -c 'import ot' 2>/dev/null; then
  py '
import numpy as np, h5py
r = np.random.default_rng(1)
x = r.random((120, 3)); y = r.random((100, 3))
a = r.random(120) + 0.5; a /= a.sum(); b = r.random(100) + 0.5; b /= b.sum()
for nm, p, w in (("px", x, a), ("py", y, b)):
    with h5py.File(nm + ".h5", "w") as f: f["points"] = p; f["weights"] = w
M = ((x[:, None] - y[None]) ** 2).sum(-1)
eps = 0.01
with h5py.File("M.h5", "w") as f: f["cost"] = M; f["cost_ab"] = M + eps * (np.log(a)[:, None] + np.log(b)[None, :])
with h5py.File("w.h5", "w") as f: f["a"] = a; f["b"] = b
'
  orbit-sinkhorn px.h5 py.h5 --eps 0.01 --tol 1e-13 --norm l2 --max-iter 100000 --plan dense -o bal.h5 -q
  # POT leaves the entropy without a reference measure: shifting the cost by eps*(log a + log b) maps one onto the other.
  orbit-sinkhorn --cost M.h5:/cost_ab --a w.h5:/a --b w.h5:/b --eps 0.01 --rho 0.5 --tol 1e-13 --max-iter 100000 --plan dense -o unb.h5 -q
  orbit-sinkhorn --cost M.h5:/cost --a w.h5:/a --b w.h5:/b --eps 0.05 --mass 0.6 --tol 1e-12 --max-iter 100000 --plan dense -o par.h5 -q
  py '
import numpy as np, h5py, ot
with h5py.File("M.h5") as f: M = f["cost"][()]
with h5py.File("w.h5") as f: a = f["a"][()]; b = f["b"][()]
eps = 0.01
P, log = ot.sinkhorn(a, b, M, eps, method="sinkhorn_log", numItermax=100000, stopThr=1e-13, log=True)
with h5py.File("bal.h5") as f: Q = f["plan"][()]; fo = f["f"][()]; go = f["g"][()]
assert np.abs(P - Q).max() / P.max() < 1e-6, np.abs(P - Q).max() / P.max()
fp = eps * log["log_u"] - eps * np.log(a); gp = eps * log["log_v"] - eps * np.log(b); k = np.mean(fo - fp)
assert np.abs(fo - fp - k).max() / np.abs(fo).max() < 1e-6
assert np.abs(go - gp + k).max() / np.abs(go).max() < 1e-6
Pu = ot.sinkhorn_unbalanced(a, b, M, eps, 0.5, numItermax=100000, stopThr=1e-14)
with h5py.File("unb.h5") as f: Qu = f["plan"][()]
assert np.abs(Pu - Qu).max() / Pu.max() < 1e-6, np.abs(Pu - Qu).max() / Pu.max()
Pp = ot.partial.entropic_partial_wasserstein(a, b, M, 0.05, 0.6, numItermax=20000)
with h5py.File("par.h5") as f: Qp = f["plan"][()]
assert np.abs(Pp - Qp).max() / Pp.max() < 1e-6, np.abs(Pp - Qp).max() / Pp.max()
'
else
  echo "note: POT not found, comparisons with POT skipped"
fi

# ---- exact transport, sliced, batches, streams, warm start -------------------
orbit-sinkhorn sx.h5 sy.h5 --exact --plan dense -o ex.h5 --json > ex.json
py '
import json, h5py, numpy as np
from scipy.optimize import linear_sum_assignment
with h5py.File("sx.h5") as f: x = f["points"][()]
with h5py.File("sy.h5") as f: y = f["points"][()]
C = ((x[:, None] - y[None]) ** 2).sum(-1)
r, c = linear_sum_assignment(C)
e = json.load(open("ex.json"))
assert abs(e["cost"] - C[r, c].sum() / 30) < 1e-12, (e, C[r, c].sum() / 30)
with h5py.File("ex.h5") as f: P = f["plan"][()]
assert abs(P.sum(1) - 1 / 30).max() < 1e-12
'
orbit-sinkhorn x.h5 y.h5 --sliced 100 --seed 4 --json > sl.json
orbit-sinkhorn x.h5 y.h5 --sliced 100 --seed 4 -j 1 --json > sl1.json
py '
import json
a, b = json.load(open("sl.json")), json.load(open("sl1.json"))
assert a["sliced"] == b["sliced"] and a["sliced"] > 0, (a, b)
'
orbit-sinkhorn batch_x.h5 batch_y.h5 --eps 0.02 -o batch.h5 --json > batch.json
py '
import json, h5py
s = json.load(open("batch.json"))
assert s["problems"] == 3 and all(r["converged"] for r in s["results"])
with h5py.File("batch.h5") as f:
    assert list(f["f_offsets"][()]) == [0, 50, 100, 150] and f["cost"].shape == (3,)
'
# batched plans: one per problem under /plan/K, each the plan of that problem solved alone
orbit-sinkhorn batch_x.h5 batch_y.h5 --eps 0.02 --tol 1e-9 --plan dense -o bplan.h5 -q
orbit-sinkhorn batch_x.h5 batch_y.h5 --eps 0.02 --tol 1e-9 --plan sparse -o bsparse.h5 -q
py '
import h5py, numpy as np
with h5py.File("batch_x.h5") as fx, h5py.File("batch_y.h5") as fy, h5py.File("bplan.h5") as fp, \
     h5py.File("bsparse.h5") as fs:
    X, Y = fx["points"][()], fy["points"][()]
    assert sorted(fp["plan"].keys()) == ["0", "1", "2"]
    for k in range(3):
        P = fp["plan"][str(k)][()]
        assert P.shape == (X.shape[1], Y.shape[1])
        assert abs(P.sum(1) - 1 / X.shape[1]).sum() < 1e-8 and abs(P.sum(0) - 1 / Y.shape[1]).sum() < 1e-8
        g = fs["plan"][str(k)]
        Q = np.zeros_like(P)
        ptr, ind, dat = g["indptr"][()], g["indices"][()], g["data"][()]
        for i in range(P.shape[0]): Q[i, ind[ptr[i]:ptr[i + 1]]] = dat[ptr[i]:ptr[i + 1]]
        assert np.abs(P - Q).max() <= 1e-12, np.abs(P - Q).max()
    # the plans differ between problems (each belongs to its own pair)
    assert np.abs(fp["plan/0"][()] - fp["plan/1"][()]).max() > 1e-3
'
cat x.h5 | orbit-sinkhorn - y.h5 --eps 0.01 -o - -q > streamed.h5
orbit-sinkhorn x.h5 y.h5 --eps 0.01 --warm ot.h5 --json > warm.json
py '
import json, h5py, numpy as np
with h5py.File("streamed.h5") as f: assert f["f"].shape == (300,)
assert json.load(open("warm.json"))["iterations"] <= 3
'

# ---- float32 inputs at eps = 1e-4 of the cost scale stay finite ----------------
py '
import h5py, numpy as np
r = np.random.default_rng(9)
with h5py.File("x32.h5", "w") as f: f["points"] = r.random((200, 3)).astype("f4")
with h5py.File("y32.h5", "w") as f: f["points"] = r.random((200, 3)).astype("f4")
'
orbit-sinkhorn x32.h5 y32.h5 --eps 3e-4 --max-iter 300 --allow-unconverged -o o32.h5 --json > o32.json
py '
import json, h5py, numpy as np
s = json.load(open("o32.json"))
assert s["finite"] and np.isfinite(s["cost"]), s
with h5py.File("o32.h5") as f: assert np.isfinite(f["f"][()]).all() and np.isfinite(f["g"][()]).all()
'

# ---- honesty: no convergence, numerical trouble ------------------------------
expect_error 1 orbit-sinkhorn x.h5 y.h5 --eps 0.001 --max-iter 5 -o nc.h5
[[ ! -e nc.h5 ]] || fail "an unconverged run left an output"
grep -q "did not converge" "$TMP/.err" || fail "unclear message: $(cat "$TMP/.err")"
orbit-sinkhorn x.h5 y.h5 --eps 0.001 --max-iter 5 --allow-unconverged -o nc.h5 -q
[[ -e nc.h5 ]] || fail "--allow-unconverged did not write the output"

# ---- bad input: exit 1 (data) or 2 (usage), one line ------------------------
py '
import h5py, numpy as np
r = np.random.default_rng(0)
with h5py.File("neg.h5", "w") as f: f["points"] = r.random((10, 3)); f["weights"] = -np.ones(10)
with h5py.File("zero.h5", "w") as f: f["points"] = r.random((10, 3)); f["weights"] = np.zeros(10)
p = r.random((10, 3)); p[3, 1] = np.nan
with h5py.File("nan.h5", "w") as f: f["points"] = p
with h5py.File("d2.h5", "w") as f: f["points"] = r.random((10, 2))
with h5py.File("empty.h5", "w") as f: f["points"] = np.zeros((0, 3))
with h5py.File("mass.h5", "w") as f: f["points"] = r.random((10, 3)); f["weights"] = np.full(10, 0.5)
with h5py.File("Cbad.h5", "w") as f: f["cost"] = np.ones(5)
'
expect_error 1 orbit-sinkhorn neg.h5 y.h5
expect_error 1 orbit-sinkhorn zero.h5 y.h5
expect_error 1 orbit-sinkhorn nan.h5 y.h5
expect_error 1 orbit-sinkhorn d2.h5 y.h5
expect_error 1 orbit-sinkhorn empty.h5 y.h5
expect_error 1 orbit-sinkhorn mass.h5 y.h5
expect_error 1 orbit-sinkhorn --cost Cbad.h5:/cost
expect_error 1 orbit-sinkhorn --cost C.h5:/nothing
expect_error 2 orbit-sinkhorn x.h5
expect_error 2 orbit-sinkhorn x.h5 y.h5 --cost C.h5:/cost
expect_error 2 orbit-sinkhorn x.h5 y.h5 --p 3
expect_error 2 orbit-sinkhorn x.h5 y.h5 --scaling 1.5
expect_error 2 orbit-sinkhorn x.h5 y.h5 --plan dense
expect_error 2 orbit-sinkhorn x.h5 y.h5 --divergence --mass 0.5

# ---- bad option values: exit 2 before any work, the message names the option --
for bad in "--eps 0" "--eps -1" "--eps nan" "--tol 0" "--tol nan" "--mass 2" "--mass 0" "--rho nan" "--rho 0" \
           "--rho-a -1" "--rho-b nan" "--reach nan" "--blur nan" "--blur 0" "--sliced 0" "--eps-start nan" \
           "--scaling 0" "--max-iter 0" "--check-every 0" "--overrelax 2" "--memory-budget 0" "--threshold nan" "--topk -1"; do
  # shellcheck disable=SC2086
  expect_error 2 orbit-sinkhorn x.h5 y.h5 $bad -o never.h5
  opt=${bad%% *}
  grep -q -- "$opt" "$TMP/.err" || fail "the message for '$bad' does not name $opt: $(cat "$TMP/.err")"
  [[ ! -e never.h5 ]] || fail "'$bad' left an output"
done
expect_error 2 orbit-sinkhorn --cost C.h5:/cost --a b.h5:/w
grep -q -- "--a" "$TMP/.err" || fail "wrong-length weights: $(cat "$TMP/.err")"
expect_error 2 orbit-sinkhorn --cost C.h5:/cost --b a.h5:/w
expect_error 2 orbit-sinkhorn x.h5 y.h5 --mass 0.5 --sliced 10
expect_error 2 orbit-sinkhorn x.h5 y.h5 --divergence-of cost
expect_error 2 orbit-sinkhorn x.h5 y.h5 --grad
expect_error 2 orbit-sinkhorn x.h5 y.h5 --sliced 10 --grad -o g.h5

# ---- zero weights carry no mass, in every problem type ---------------------------
py '
import h5py, numpy as np
r = np.random.default_rng(5)
x = r.random((30, 2)); y = r.random((25, 2))
C = ((x[:, None] - y[None]) ** 2).sum(-1)
a = r.random(30) + 0.5; a[[0, 7]] = 0; a /= a.sum()
b = r.random(25) + 0.5; b[[3]] = 0; b /= b.sum()
with h5py.File("Cz.h5", "w") as f: f["C"] = C
with h5py.File("wz.h5", "w") as f: f["a"] = a; f["b"] = b
with h5py.File("xz.h5", "w") as f: f["points"] = x; f["weights"] = a
with h5py.File("yz.h5", "w") as f: f["points"] = y; f["weights"] = b
'
orbit-sinkhorn --cost Cz.h5:/C --a wz.h5:/a --b wz.h5:/b --eps 0.05 --rho 1 --plan dense -o u.h5 -q
orbit-sinkhorn --cost Cz.h5:/C --a wz.h5:/a --b wz.h5:/b --eps 0.05 --rho-a 1 --plan dense -o ua.h5 -q
orbit-sinkhorn --cost Cz.h5:/C --a wz.h5:/a --b wz.h5:/b --eps 0.05 --rho-b 1 --plan dense -o ub.h5 -q
orbit-sinkhorn --cost Cz.h5:/C --a wz.h5:/a --b wz.h5:/b --eps 0.05 --mass 0.5 --plan dense -o pz.h5 -q
orbit-sinkhorn xz.h5 yz.h5 --eps 0.05 --reach 1 --plan dense -o uz.h5 -q
orbit-sinkhorn xz.h5 yz.h5 --eps 0.05 --mass 0.5 --plan dense -o pz2.h5 -q
orbit-sinkhorn xz.h5 yz.h5 --divergence --blur 0.2 --reach 1 -o dz.h5 -q
orbit-sinkhorn --cost Cz.h5:/C --a wz.h5:/a --b wz.h5:/b --exact --plan dense -o ez.h5 -q
py '
import h5py, numpy as np
for name in ("u", "ua", "ub", "pz", "uz", "pz2", "ez"):
    with h5py.File(name + ".h5") as f:
        P = f["plan"][()]
        assert f.attrs["finite"] == 1 and np.isfinite(f.attrs["primal"]), name
        assert np.abs(P[[0, 7], :]).max() == 0 and np.abs(P[:, 3]).max() == 0, name
        assert np.isfinite(P).all() and P.sum() > 0.4, name
with h5py.File("pz.h5") as f: assert abs(f["plan"][()].sum() - 0.5) < 1e-6
'

# ---- +inf costs are forbidden pairs (Sinkhorn, partial, exact) ----------------------
py '
import h5py, numpy as np
r = np.random.default_rng(6)
C = r.random((20, 15)); C[2, :10] = np.inf; C[:5, 4] = np.inf
with h5py.File("Cinf.h5", "w") as f: f["C"] = C
C2 = C.copy(); C2[6, :] = np.inf
with h5py.File("Crow.h5", "w") as f: f["C"] = C2
'
orbit-sinkhorn --cost Cinf.h5:/C --eps 0.05 --plan dense -o fi.h5 -q
orbit-sinkhorn --cost Cinf.h5:/C --exact --plan dense -o fe.h5 -q
orbit-sinkhorn --cost Cinf.h5:/C --eps 0.05 --mass 0.5 --plan dense -o fp.h5 -q
py '
import h5py, numpy as np
with h5py.File("Cinf.h5") as f: C = f["C"][()]
for name in ("fi", "fe", "fp"):
    with h5py.File(name + ".h5") as f:
        P = f["plan"][()]; cost = f.attrs["cost"]
    assert np.isfinite(cost) and np.isfinite(P).all(), name
    assert P[np.isinf(C)].max() == 0, name
    assert abs(cost - (P[P > 0] * C[P > 0]).sum()) < 1e-9, name
'
expect_error 1 orbit-sinkhorn --cost Crow.h5:/C --eps 0.05
grep -q "row 6" "$TMP/.err" || fail "unclear message for a forbidden row: $(cat "$TMP/.err")"
expect_error 1 orbit-sinkhorn --cost Crow.h5:/C --exact

# ---- --exact writes optimal dual potentials (POT check_duality_gap) ----------------
orbit-sinkhorn --cost C.h5:/cost --a a.h5:/w --b b.h5:/w --exact --plan dense -o e.h5 -q
py '
import h5py, numpy as np
with h5py.File("C.h5") as f: C = f["cost"][()]
with h5py.File("e.h5") as f: P = f["plan"][()]; u = f["f"][()]; v = f["g"][()]; cost = f.attrs["cost"]
a = np.full(40, 1 / 40); b = np.full(30, 1 / 30)
assert abs(a @ u + b @ v - cost) < 1e-10 * max(1, abs(cost))
R = C - u[:, None] - v[None, :]
assert R.min() > -1e-10 and np.abs(R[P > 0]).max() < 1e-10
assert abs(a @ u - b @ v) < 1e-12   # centered as POT does
'

# ---- the divergence: GeomLoss (entropic) and POT (cost) variants, explicit costs --------
py '
import h5py, numpy as np
with h5py.File("sx.h5") as f: x = f["points"][()]
with h5py.File("sy.h5") as f: y = f["points"][()]
sq = lambda p, q: ((p[:, None] - q[None]) ** 2).sum(-1)
with h5py.File("C3.h5", "w") as f: f["xy"] = sq(x, y); f["xx"] = sq(x, x); f["yy"] = sq(y, y)
'
orbit-sinkhorn sx.h5 sy.h5 --divergence --eps 0.05 --tol 1e-10 --json > de.json
orbit-sinkhorn --cost C3.h5:/xy --cost-xx C3.h5:/xx --cost-yy C3.h5:/yy --divergence --eps 0.05 --tol 1e-10 --json > dc.json
orbit-sinkhorn sx.h5 sy.h5 --divergence --divergence-of cost --eps 0.05 --tol 1e-10 --json > dp.json
py '
import json
e, c, p = (json.load(open(n)) for n in ("de.json", "dc.json", "dp.json"))
assert abs(e["divergence"] - c["divergence"]) < 1e-9 * abs(e["divergence"]), (e, c)
assert p["divergence"] > 0 and abs(p["divergence"] - e["divergence"]) > 1e-6, (p, e)
'
expect_error 2 orbit-sinkhorn --cost C3.h5:/xy --cost-xx C3.h5:/xx --divergence

# ---- gradients: the divergence invocation of the docs, checked by finite differences ---
orbit-sinkhorn sx.h5:/points sy.h5:/points --divergence --blur 0.1 --tol 1e-12 --max-iter 100000 --grad -o d.h5 -q
py '
import h5py, numpy as np, subprocess
with h5py.File("d.h5") as f: gx = f["grad_x"][()]; gy = f["grad_y"][()]; d0 = f.attrs["divergence"]
assert gx.shape == (30, 2) and gy.shape == (30, 2)
with h5py.File("sx.h5") as f: x = f["points"][()]
def div(p):
    with h5py.File("xp.h5", "w") as f: f["points"] = p
    out = subprocess.run(["orbit-sinkhorn", "xp.h5", "sy.h5", "--divergence", "--blur", "0.1", "--tol", "1e-12",
                          "--max-iter", "100000", "--json"], capture_output=True, check=True).stdout
    import json; return json.loads(out)["divergence"]
h = 1e-5
for i, d in ((0, 0), (17, 1)):
    xp = x.copy(); xp[i, d] += h; xm = x.copy(); xm[i, d] -= h
    fd = (div(xp) - div(xm)) / (2 * h)
    assert abs(fd - gx[i, d]) < 1e-6 + 1e-4 * abs(fd), (i, d, fd, gx[i, d])
'

# ---- storage: point sets are matrix-free by default (see the docs), dense on request ---
py '
import h5py, numpy as np
r = np.random.default_rng(8)
with h5py.File("big_x.h5", "w") as f: f["points"] = r.random((2048, 3))
with h5py.File("big_y.h5", "w") as f: f["points"] = r.random((2048, 3))
'
orbit-sinkhorn big_x.h5 big_y.h5 --eps 0.05 --tol 1e-3 --storage dense --json > sd.json
py 'import json; s = json.load(open("sd.json")); assert s["storage"] == "dense", s'

# ---- the invocations for zero weights, duals, gradients and GW, exactly as written --------
mkdir inv && cd inv
py '
import h5py, numpy as np
r = np.random.default_rng(12)
x = r.random((40, 3)); y = r.random((35, 3)) + 0.2
with h5py.File("x.h5", "w") as f: f["x"] = x; f["points"] = x
with h5py.File("y.h5", "w") as f: f["y"] = y; f["points"] = y
with h5py.File("C.h5", "w") as f: f["C"] = ((x[:, None] - y[None]) ** 2).sum(-1)
a = np.full(40, 1 / 38); a[[5, 9]] = 0; b = np.full(35, 1 / 34); b[0] = 0
with h5py.File("w.h5", "w") as f: f["a"] = a; f["b"] = b
'
orbit-sinkhorn --cost C.h5:/C --a w.h5:/a --b w.h5:/b --eps 0.05 --rho 1 --plan dense -o u.h5   # zeros in a or b
orbit-sinkhorn --cost C.h5:/C --a w.h5:/a --b w.h5:/b --exact -o e.h5       # writes /f and /g
orbit-sinkhorn x.h5:/x y.h5:/y --divergence --blur 0.1 --grad -o d.h5       # writes /grad_x and /grad_y
py '
import h5py
with h5py.File("u.h5") as f: assert f["plan"][()][[5, 9]].max() == 0 and f.attrs["finite"] == 1
with h5py.File("e.h5") as f: assert f["f"].shape == (40,) and f["g"].shape == (35,)
with h5py.File("d.h5") as f: assert f["grad_x"].shape == (40, 3) and f["grad_y"].shape == (35, 3)
'
orbit-sinkhorn x.h5 y.h5 --eps 0.01 --precision float32 --json > f32.json
py 'import json; s = json.load(open("f32.json")); assert s["converged"] and s["storage"] == "online-float32", s'
# float32 says when it cannot reach the tolerance
expect_error 1 orbit-sinkhorn x.h5 y.h5 --eps 0.01 --precision float32 --tol 1e-12 --max-iter 300
grep -q "float32 cannot reach" "$TMP/.err" || fail "no float32 note: $(cat "$TMP/.err")"
if [[ -x $ORBIT_BIN/orbit-register ]]; then
  py '
import h5py, numpy as np
r = np.random.default_rng(13)
t = np.linspace(0, 1, 400)
src = np.stack([np.cos(7 * t) * (1 + t), np.sin(5 * t) * 0.6, t ** 2 * 1.5], 1) + 0.01 * r.standard_normal((400, 3))
q, _ = np.linalg.qr(r.standard_normal((3, 3))); q *= np.sign(np.linalg.det(q))
with h5py.File("src.h5", "w") as f: f["points"] = src
with h5py.File("ref.h5", "w") as f: f["points"] = src @ q.T + [0.5, -0.2, 0.1]
np.save("truth.npy", q)
'
  orbit-register src.h5 ref.h5 --method gw -o T.h5
  py '
import h5py, numpy as np
q = np.load("truth.npy")
with h5py.File("T.h5") as f: T = f["transform"][()].reshape(-1, 4, 4)[0]
ang = np.degrees(np.arccos(np.clip((np.trace(T[:3, :3] @ q.T) - 1) / 2, -1, 1)))
assert ang < 2, ang
'
fi
# ---- barycenters ------------------------------------------------------------
# Free support in 1-D: the weighted average of the sorted points (quantile averaging).
py '
import h5py, numpy as np
r = np.random.default_rng(21)
for k, shift in ((1, 0.0), (2, 3.0), (3, -1.0)):
    with h5py.File(f"m{k}.h5", "w") as f: f["points"] = np.sort(r.random(25) + shift)[:, None]
with h5py.File("start.h5", "w") as f: f["points"] = r.random((25, 1))
with h5py.File("line.h5", "w") as f: f["points"] = np.linspace(-1.5, 4.5, 60)[:, None]
'
orbit-sinkhorn --barycenter m1.h5 m2.h5 m3.h5 --weights 0.2,0.3,0.5 --free-support --support start.h5 --tol 1e-12 -o fb.h5 --json > fb.json
orbit-sinkhorn --barycenter m1.h5 m2.h5 m3.h5 --weights 0.2,0.3,0.5 --support line.h5 --eps 0.01 --tol 1e-9 -o eb.h5 -q
orbit-sinkhorn --barycenter m1.h5 m2.h5 --debiased --support line.h5 --eps 0.01 --tol 1e-8 --max-iter 20000 -o db.h5 -q
orbit-sinkhorn --barycenter m1.h5 m2.h5 --support-size 30 --seed 3 --eps 0.05 -o sb.h5 -q
py '
import h5py, json, numpy as np
m = [h5py.File(f"m{k}.h5")["points"][()][:, 0] for k in (1, 2, 3)]
want = 0.2 * m[0] + 0.3 * m[1] + 0.5 * m[2]
with h5py.File("fb.h5") as f:
    assert f.attrs["orbit_kind"] == "pointset" and f.attrs["method"] == "free-support", dict(f.attrs)
    assert np.abs(np.sort(f["points"][()][:, 0]) - want).max() < 1e-12
assert json.load(open("fb.json"))["converged"]
with h5py.File("eb.h5") as f:
    w, x = f["weights"][()], f["points"][()][:, 0]
    assert abs(w.sum() - 1) < 1e-8 and f.attrs["converged"] == 1
    assert abs(w @ x - want.mean()) < 0.02, (w @ x, want.mean())  # the mean of the barycenter: the weighted mean
with h5py.File("db.h5") as f: assert f.attrs["method"] == "debiased" and abs(f["weights"][()].sum() - 1) < 1e-6
with h5py.File("sb.h5") as f: assert f["points"].shape == (30, 1)
'
# the barycenter is a point set: it is an input again
orbit-sinkhorn fb.h5 m1.h5 --eps 0.1 -q
expect_error 2 orbit-sinkhorn --barycenter m1.h5
expect_error 2 orbit-sinkhorn --barycenter m1.h5 m2.h5 --weights 0.5
expect_error 2 orbit-sinkhorn --barycenter m1.h5 m2.h5 --debiased --free-support
expect_error 2 orbit-sinkhorn --barycenter m1.h5 m2.h5 --support start.h5 --support-size 3
expect_error 2 orbit-sinkhorn --barycenter m1.h5 m2.h5 --divergence
expect_error 2 orbit-sinkhorn x.h5 y.h5 --weights 0.5,0.5
expect_error 1 orbit-sinkhorn --barycenter m1.h5 x.h5

# ---- exact partial transport and several histograms b ---------------------------
py '
import h5py, numpy as np
C = np.array([[0.0, 4.0, 9.0], [1.0, 0.5, 16.0]])
with h5py.File("Cp.h5", "w") as f:
    f["C"] = C; f["a"] = [0.5, 0.5]; f["b"] = [0.3, 0.3, 0.4]
    f["B"] = np.array([[0.3, 0.2], [0.3, 0.5], [0.4, 0.3]])
'
orbit-sinkhorn --cost Cp.h5:/C --a Cp.h5:/a --b Cp.h5:/b --exact --mass 0.6 --plan dense -o xp.h5 --json > xp.json
orbit-sinkhorn --cost Cp.h5:/C --a Cp.h5:/a --b Cp.h5:/B --eps 0.5 --tol 1e-10 -o mb.h5 -q
orbit-sinkhorn --cost Cp.h5:/C --a Cp.h5:/a --b Cp.h5:/b --eps 0.5 --tol 1e-10 -o mb0.h5 -q
py '
import h5py, json, numpy as np
# the cheapest 0.6: 0.3 on (0,0) at cost 0 and 0.3 on (1,1) at cost 0.5
with h5py.File("xp.h5") as f: P = f["plan"][()]
assert abs(P.sum() - 0.6) < 1e-12 and abs(P[0, 0] - 0.3) < 1e-12 and abs(P[1, 1] - 0.3) < 1e-12, P
assert abs(json.load(open("xp.json"))["cost"] - 0.15) < 1e-12
with h5py.File("mb.h5") as f, h5py.File("mb0.h5") as g:
    assert f["cost"].shape == (2,) and abs(f["cost"][0] - g.attrs["cost"]) < 1e-12, (f["cost"][()], g.attrs["cost"])
'
expect_error 2 orbit-sinkhorn --cost Cp.h5:/C --exact --mass 0.5 --grad -o g.h5
expect_error 2 orbit-sinkhorn --cost Cp.h5:/C --b Cp.h5:/B --divergence

# ---- history through stdin: an input read from "-" keeps its history ----------
orbit-sinkhorn --barycenter m1.h5 m2.h5 --free-support --support start.h5 -q -o - | orbit-sinkhorn - m1.h5 --eps 0.1 -q -o hs.h5
py '
import h5py
h = h5py.File("hs.h5").attrs["history"].splitlines()
assert len(h) == 2 and "--barycenter m1.h5" in h[0] and "orbit-sinkhorn - m1.h5" in h[1], h
'
echo "ok"
