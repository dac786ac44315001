#!/usr/bin/python3
"""orbit-sinkhorn on inputs rebuilt from POT 0.8.2's own test suite, POT in the same run.

Each case names the POT test whose inputs it rebuilds (written here from the published tests:
shapes, seeds, regularizations) and checks orbit's answer against POT's to 1e-8 relative
(the largest entry of the difference over the largest entry). Then two timing ratios:
  - Gromov-Wasserstein: two differently rotated copies of a real shape (FPS samples), the share
    of points whose plan row peaks on their own copy, and the time against POT's
    entropic_gromov_wasserstein on the same matrices (target: >= 90%, >= 5x);
  - float32 against float64: iterations per second at N = M = 4000 (target >= 1.7x);
  - the CPU of this machine (AVX2 / AVX-512).

usage: bench/pot_test_cases.py [--bin build/bin] [--shape PATH.off] [--gw-points 300]
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time

import h5py
import numpy as np
import ot

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=None)
ap.add_argument("--shape", default=None, help="an OFF mesh (default: the data set's armadillo)")
ap.add_argument("--gw-points", type=int, default=300)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--f32-size", type=int, default=4000)
args = ap.parse_args()

here = os.path.dirname(os.path.abspath(__file__))
cands = [args.bin] if args.bin else [os.path.join(here, "..", "build", "bin")]
tool = next((os.path.join(c, "orbit-sinkhorn") for c in cands if os.path.exists(os.path.join(c, "orbit-sinkhorn"))), None)
if not tool:
    sys.exit("orbit-sinkhorn not found; pass --bin")
tmp = tempfile.mkdtemp(prefix="orbit-pot-")
os.environ["OMP_NUM_THREADS"] = str(args.threads)
TOL = 1e-8


def path(name):
    return os.path.join(tmp, name)


def save(name, **arrays):
    with h5py.File(path(name), "w") as f:
        for k, v in arrays.items():
            f[k] = v
    return path(name)


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def orbit(*argv):
    out = path("out.h5")
    cmd = [tool, *map(str, argv), "-o", out, "--json", "-q"]
    t, c = time.perf_counter(), cpu_children()
    run = subprocess.run(cmd, capture_output=True, text=True)
    cpu = cpu_children() - c
    if run.returncode:
        sys.exit(f"orbit-sinkhorn failed: {' '.join(cmd)}\n{run.stderr}")
    summary = json.loads(run.stdout)
    summary["wall"] = time.perf_counter() - t
    summary["cpu"] = cpu
    with h5py.File(out) as f:
        data = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    return summary, data


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


results = []


def check(name, err):
    ok = err <= TOL
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name:70s} rel. difference {err:.2e}")


# ---- test_bregman.py::test_sinkhorn: n = 100, RandomState(0), x = randn(n, 2), M = dist(x, x), reg 1
rng = np.random.RandomState(0)
x = rng.randn(100, 2)
u = ot.utils.unif(100)
M = ot.dist(x, x)
G = ot.sinkhorn(u, u, M, 1, stopThr=1e-14, numItermax=100000)
save("M.h5", M=M, u=u)
_, d = orbit("--cost", path("M.h5") + ":/M", "--eps", 1, "--tol", 1e-14, "--max-iter", 100000, "--plan", "dense")
check("test_bregman::test_sinkhorn (plan)", rel(d["plan"], G))

# ---- test_bregman.py::test_sinkhorn_variants, method sinkhorn_log (same inputs, reg 1)
G = ot.sinkhorn(u, u, M, 1, method="sinkhorn_log", stopThr=1e-14, numItermax=100000)
check("test_bregman::test_sinkhorn_variants[sinkhorn_log] (plan)", rel(d["plan"], G))

# ---- test_bregman.py::test_sinkhorn_log_stabilization / empirical: sinkhorn2 loss on the same inputs
loss = ot.sinkhorn2(u, u, M, 1, stopThr=1e-14, numItermax=100000)
s, _ = orbit("--cost", path("M.h5") + ":/M", "--eps", 1, "--tol", 1e-14, "--max-iter", 100000)
check("test_bregman::test_sinkhorn2 loss <M,P>", rel(s["cost"], loss))

# ---- test_unbalanced.py::test_unbalanced_convergence: n = 100, RandomState(42), x = randn(n, 2),
#      a = unif(n), b = unif(n) * 1.5, M = dist(x, x), epsilon 1, reg_m 1. POT's entropy has no
#      reference measure: shifting the cost by eps (log a_i + log b_j) maps one problem onto the other.
rng = np.random.RandomState(42)
x = rng.randn(100, 2)
a = ot.utils.unif(100)
b = ot.utils.unif(100) * 1.5
M = ot.dist(x, x)
G = ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg=1.0, reg_m=1.0, stopThr=1e-15, numItermax=100000)
save("U.h5", M=M + 1.0 * (np.log(a)[:, None] + np.log(b)[None, :]), a=a, b=b)
_, d = orbit("--cost", path("U.h5") + ":/M", "--a", path("U.h5") + ":/a", "--b", path("U.h5") + ":/b",
             "--eps", 1, "--rho", 1, "--tol", 1e-13, "--max-iter", 100000, "--plan", "dense")
check("test_unbalanced::test_unbalanced_convergence (plan)", rel(d["plan"], G))

# ---- test_unbalanced.py::test_unbalanced_relaxation_parameters: reg_m = (1, inf) is semi-relaxed
G = ot.unbalanced.sinkhorn_unbalanced(a, a, M, reg=1.0, reg_m=1.0, stopThr=1e-15, numItermax=100000)
save("U2.h5", M=M + 1.0 * (np.log(a)[:, None] + np.log(a)[None, :]), a=a)
_, d = orbit("--cost", path("U2.h5") + ":/M", "--a", path("U2.h5") + ":/a", "--b", path("U2.h5") + ":/a",
             "--eps", 1, "--rho", 1, "--tol", 1e-13, "--max-iter", 100000, "--plan", "dense")
check("test_unbalanced::test_unbalanced_relaxation_parameters (balanced masses)", rel(d["plan"], G))

# ---- test_partial.py::test_partial_wasserstein (entropic part): n = 20 samples of a 2-D standard
#      Gaussian (make_2D_samples_gauss, random_state 42) against a second draw, M = dist / max,
#      m = 0.5, reg = 1
xs = ot.datasets.make_2D_samples_gauss(20, np.zeros(2), np.eye(2), random_state=42)
xt = ot.datasets.make_2D_samples_gauss(20, np.zeros(2), np.eye(2), random_state=43)
p = ot.utils.unif(20)
M = ot.dist(xs, xt)
M = M / M.max()
G = ot.partial.entropic_partial_wasserstein(p, p, M, reg=1, m=0.5, numItermax=100000, stopThr=1e-15)
save("P.h5", M=M, p=p)
_, d = orbit("--cost", path("P.h5") + ":/M", "--a", path("P.h5") + ":/p", "--b", path("P.h5") + ":/p",
             "--eps", 1, "--mass", 0.5, "--tol", 1e-13, "--max-iter", 100000, "--plan", "dense")
check("test_partial::test_partial_wasserstein (entropic plan, m = 0.5)", rel(d["plan"], G))

# ---- test_ot.py::test_emd_emd2 + check_duality_gap: n = 100, RandomState(0), x = randn(n, 2), M = dist(x, x)
rng = np.random.RandomState(0)
x = rng.randn(100, 2)
u = ot.utils.unif(100)
y = x + rng.randn(100, 2) * 0.3
M = ot.dist(x, y)
G, log = ot.emd(u, u, M, log=True)
save("E.h5", M=M, u=u)
s, d = orbit("--cost", path("E.h5") + ":/M", "--exact", "--plan", "dense")
check("test_ot::test_emd_emd2 (cost)", rel(s["cost"], log["cost"]))
gap = abs(u @ d["f"] + u @ d["g"] - s["cost"]) / s["cost"]
red = np.abs((M - d["f"][:, None] - d["g"][None, :])[d["plan"] > 0]).max()
check("test_ot::check_duality_gap (dual = primal, zero reduced cost on the support)", max(gap, red))

# ---- test_bregman.py::test_empirical_sinkhorn_divergence: 1-D points arange(n), n = 10, reg 1
#      (X_t shifted by 1.5 so the divergence is not zero); POT returns max(0, costs combination)
n = 10
Xs = np.arange(n, dtype=float).reshape(n, 1)
Xt = Xs + 1.5
a = ot.utils.unif(n)
ref = ot.bregman.empirical_sinkhorn_divergence(Xs, Xt, 1, a=a, b=a, stopThr=1e-15, numIterMax=100000)
# the same combination with POT's log-domain solver (its kernel solver stops near 1e-8 here)
loss = lambda P, Q: ot.sinkhorn2(a, a, ot.dist(P, Q), 1, method="sinkhorn_log", stopThr=1e-15, numItermax=100000)
ref_log = max(0.0, float(loss(Xs, Xt) - 0.5 * (loss(Xs, Xs) + loss(Xt, Xt))))
save("xs.h5", points=Xs)
save("xt.h5", points=Xt)
s, _ = orbit(path("xs.h5"), path("xt.h5"), "--divergence", "--divergence-of", "cost", "--eps", 1, "--tol", 1e-14,
             "--max-iter", 100000)
check("test_bregman::test_empirical_sinkhorn_divergence (cost variant, POT log-domain)", rel(s["divergence"], ref_log))
print(f"     against POT's default (kernel) solver: {rel(s['divergence'], ref):.2e}")

# ---- test_sliced.py::test_sliced_same_dist: n = 100, randn(n, 2), the same cloud twice -> 0
rng = np.random.RandomState(0)
x = rng.randn(100, 2)
save("sl.h5", points=x)
s = json.loads(subprocess.run([tool, path("sl.h5"), path("sl.h5"), "--sliced", "10", "--json", "-q"],
                              check=True, capture_output=True, text=True).stdout)
ref = ot.sliced_wasserstein_distance(x, x, ot.utils.unif(100), ot.utils.unif(100), 10, seed=rng)
check("test_sliced::test_sliced_same_dist (both exactly 0)", abs(s["sliced"] - ref))

# ---- test_gromov.py::test_entropic_gromov: 50 samples of a 2-D Gaussian (random_state 42), xt = xs
#      reversed, C = dist / max (squared Euclidean), square loss, epsilon 5e-4
xs = ot.datasets.make_2D_samples_gauss(50, np.zeros(2), np.eye(2), random_state=42)
xt = xs[::-1].copy()
C1, C2 = ot.dist(xs, xs), ot.dist(xt, xt)
p = ot.utils.unif(50)
G = ot.gromov.entropic_gromov_wasserstein(C1 / C1.max(), C2 / C2.max(), p, p, "square_loss", epsilon=5e-4, tol=1e-9,
                                          max_iter=1000)
save("gs.h5", points=xs / np.sqrt(C1.max()))
save("gt.h5", points=xt / np.sqrt(C2.max()))
s, d = orbit(path("gs.h5"), path("gt.h5"), "--gromov", "--eps", 5e-4, "--tol", 1e-9, "--max-iter", 1000, "--plan", "dense")
check("test_gromov::test_entropic_gromov (plan)", rel(d["plan"], G))
print(f"     plan row peaks on the reversed index: {np.mean(d['plan'].argmax(1) == np.arange(50)[::-1]):.0%}")

# ---- GW on two rotated copies of a real shape: identity recovery and time against POT ------------
data = os.environ.get("ORBIT_DATA") or os.path.join(here, "..", ".cache", "data")  # make bench sets ORBIT_DATA
shape = args.shape or os.path.join(data, "meshes", "armadillo.off")
if os.path.exists(shape):
    with open(shape) as f:
        words = f.read().split()
    k = 1 if words[0].upper().endswith("OFF") else 0
    nv = int(words[k])
    V = np.array(words[k + 3:k + 3 + 3 * nv], float).reshape(nv, 3)
    # farthest-point samples, then two random rotations of the same samples
    idx = [int(np.argmax(((V - V.mean(0)) ** 2).sum(1)))]
    dmin = ((V - V[idx[0]]) ** 2).sum(1)
    for _ in range(args.gw_points - 1):
        idx.append(int(np.argmax(dmin)))
        dmin = np.minimum(dmin, ((V - V[idx[-1]]) ** 2).sum(1))
    S = V[idx]
    rot = lambda q: np.linalg.qr(q)[0] * np.sign(np.linalg.det(np.linalg.qr(q)[0]))
    r = np.random.RandomState(7)
    A, B = S @ rot(r.randn(3, 3)).T, S @ rot(r.randn(3, 3)).T + 2.0
    scale = np.sqrt(ot.dist(A, A).max())
    A, B = A / scale, B / scale
    save("ga.h5", points=A)
    save("gb.h5", points=B)
    eps = 2e-3
    so, d = orbit(path("ga.h5"), path("gb.h5"), "--gromov", "--eps", eps, "--tol", 1e-9, "--max-iter", 1000,
                  "--plan", "dense")
    hit = np.mean(d["plan"].argmax(1) == np.arange(len(A)))
    CA, CB = ot.dist(A, A), ot.dist(B, B)
    q = ot.utils.unif(len(A))
    t, c = time.perf_counter(), cpu_self()
    Gp = ot.gromov.entropic_gromov_wasserstein(CA, CB, q, q, "square_loss", epsilon=eps, tol=1e-9, max_iter=1000)
    tp, cp = time.perf_counter() - t, cpu_self() - c
    hit_pot = np.mean(Gp.argmax(1) == np.arange(len(A)))
    print(f"GW, {len(A)} FPS samples of {os.path.basename(shape)}, two random rotations, eps {eps}:")
    print(f"     identity recovered: orbit {hit:.1%} (target >= 90%), POT {hit_pot:.1%}")
    print(f"     orbit: {so['wall']:.3f} s wall, {so['cpu']:.3f} s CPU, {so['iterations']} outer iterations; "
          f"POT: {tp:.3f} s wall, {cp:.3f} s CPU")
    print(f"     ratio: {tp / so['wall']:.1f}x wall, {cp / so['cpu']:.1f}x CPU (target >= 5x)")
else:
    print("GW shape test skipped: no mesh (pass --shape)")

# ---- float32 against float64: iterations per second at N = M = 4000 (3-D, eps 0.01, plain iterations)
rng = np.random.default_rng(8)
save("f4x.h5", points=rng.random((args.f32_size, 3)))
save("f4y.h5", points=rng.random((args.f32_size, 3)))
rate = {}
for prec in ("float64", "float32"):
    so, _ = orbit(path("f4x.h5"), path("f4y.h5"), "--eps", 0.01, "--tol", 1e-5, "--overrelax", 1, "--max-iter", 60,
                  "--allow-unconverged", "--precision", prec)
    rate[prec] = (so["iterations"] / so["seconds"], so["iterations"] / so["cpu"], so["cost"])
print(f"float32, N = M = {args.f32_size}: {rate['float32'][0] / rate['float64'][0]:.2f}x the iterations per second "
      f"(solve time), {rate['float32'][1] / rate['float64'][1]:.2f}x per CPU second (target >= 1.7x); "
      f"cost difference {abs(rate['float32'][2] - rate['float64'][2]) / rate['float64'][2]:.1e} relative")

flags = subprocess.run("lscpu | grep -o 'avx512f\\|avx2' | sort -u", shell=True, capture_output=True, text=True).stdout.split()
print("CPU flags:", " ".join(flags) or "neither AVX2 nor AVX-512")
print(f"{sum(results)}/{len(results)} POT cases within {TOL:g}")
sys.exit(0 if all(results) else 1)
