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

For the float32 ratio of an AVX2-only build (on any x86 machine):
  cmake -S . -B build-avx2 -DORBIT_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=haswell -DORBIT_TESTS=OFF ...
  bench/pot_test_cases.py --bin build-avx2/bin --parts f32

usage: bench/pot_test_cases.py [--bin build/bin] [--shape PATH.off] [--gw-points 300] [--parts cases,gw,f32]
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
ap.add_argument("--parts", default="cases,gw,f32", help="comma-separated subset of cases, gw, f32")
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


def run_cases():
    """The cases rebuilt from POT's tests; each check() prints one line."""
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

    # ---- test_bregman.py::test_barycenter[sinkhorn, sinkhorn_stabilized]: n_bins = 100, a1, a2 =
    #      make_1D_gauss(100, m=30 / 40, s=10), M = dist0(100) / max, weights (0.5, 0.5), reg 1e-2. The bins
    #      become 1-D points at i / sqrt(max(M)), so |x_i - x_j|^2 is POT's normalized M.
    n_bins = 100
    a1, a2 = ot.datasets.make_1D_gauss(n_bins, m=30, s=10), ot.datasets.make_1D_gauss(n_bins, m=40, s=10)
    A = np.vstack((a1, a2)).T
    M = ot.utils.dist0(n_bins)
    grid = np.arange(n_bins, dtype=float).reshape(-1, 1) / np.sqrt(M.max())
    M /= M.max()
    save("h1.h5", points=grid, weights=a1)
    save("h2.h5", points=grid, weights=a2)
    save("grid.h5", points=grid)
    bary = lambda *extra: orbit("--barycenter", path("h1.h5"), path("h2.h5"), "--support", path("grid.h5"),
                                "--tol", 1e-13, "--max-iter", 100000, *extra)[1]["weights"]
    mine = bary("--weights", "0.5,0.5", "--eps", 1e-2)
    for method in ("sinkhorn", "sinkhorn_stabilized"):
        ref = ot.bregman.barycenter(A, M, 1e-2, np.array([0.5, 0.5]), method=method, stopThr=1e-15, numItermax=100000)
        check(f"test_bregman::test_barycenter[{method}] (weights)", rel(mine, ref))
    # The same inputs with unequal weights (0.3, 0.7): POT's log-domain and stabilized solvers; its
    # kernel solver starts from an unweighted geometric mean, which it keeps, and ends elsewhere.
    mine = bary("--weights", "0.3,0.7", "--eps", 1e-2)
    for method in ("sinkhorn_log", "sinkhorn_stabilized"):
        ref = ot.bregman.barycenter(A, M, 1e-2, np.array([0.3, 0.7]), method=method, stopThr=1e-15, numItermax=100000)
        check(f"test_bregman::test_barycenter inputs, weights (0.3, 0.7), {method} (weights)", rel(mine, ref))
    ref = ot.bregman.barycenter(A, M, 1e-2, np.array([0.3, 0.7]), stopThr=1e-15, numItermax=100000)
    print(f"     against POT's kernel solver (its start kept): {rel(mine, ref):.2e}")

    # ---- test_bregman.py::test_barycenter_debiased: on its inputs (above, reg 1e-2) neither POT solver
    #      converges (the test checks the sum only; its two methods differ by ~1e-3), so the comparison
    #      runs where POT converges: 10 points x = randn(10, 2) (RandomState(0)), M = dist / max,
    #      A = rand(10, 2) normalized, weights (0.3, 0.7), reg 0.05.
    rng = np.random.RandomState(0)
    x = rng.randn(10, 2)
    M = ot.dist(x, x)
    A = rng.rand(10, 2)
    A /= A.sum(0)
    save("d1.h5", points=x / np.sqrt(M.max()), weights=A[:, 0])
    save("d2.h5", points=x / np.sqrt(M.max()), weights=A[:, 1])
    M /= M.max()
    _, d = orbit("--barycenter", path("d1.h5"), path("d2.h5"), "--weights", "0.3,0.7", "--support", path("d1.h5"), "--debiased",
                 "--eps", 0.05, "--tol", 1e-12, "--max-iter", 100000)
    ref = ot.bregman.barycenter_debiased(A, M, 0.05, np.array([0.3, 0.7]), stopThr=1e-15, numItermax=100000)
    check("test_bregman::test_barycenter_debiased (converged case, weights)", rel(d["weights"], ref))
    ref = ot.bregman.barycenter_debiased(A, M, 0.05, np.array([0.3, 0.7]), method="sinkhorn_log", stopThr=1e-15,
                                         numItermax=100000)
    check("test_bregman::test_barycenter_debiased[sinkhorn_log] (converged case, weights)", rel(d["weights"], ref))

    # ---- test_ot.py::test_free_support_barycenter: Diracs at -1 and 1, X_init = -12 -> 0
    save("dirac1.h5", points=np.array([[-1.0]]), weights=np.array([1.0]))
    save("dirac2.h5", points=np.array([[1.0]]), weights=np.array([1.0]))
    save("dinit.h5", points=np.array([[-12.0]]), weights=np.array([1.0]))
    _, d = orbit("--barycenter", path("dirac1.h5"), path("dirac2.h5"), "--free-support", "--support", path("dinit.h5"),
                 "--tol", 1e-7, "--max-iter", 100)
    X = ot.lp.free_support_barycenter([np.array([[-1.0]]), np.array([[1.0]])], [np.array([1.0]), np.array([1.0])],
                                      np.array([[-12.0]]))
    check("test_ot::test_free_support_barycenter (location; both exactly 0)", abs(d["points"] - X).max())
    # ... and on random clouds: 2-D sets of 20 and 30 points (RandomState(1)), 15 starting points, weights (0.25, 0.75)
    rng = np.random.RandomState(1)
    P1, P2, X0 = rng.randn(20, 2), rng.randn(30, 2) + 1.5, rng.randn(15, 2)
    save("f1.h5", points=P1)
    save("f2.h5", points=P2)
    save("f0.h5", points=X0)
    _, d = orbit("--barycenter", path("f1.h5"), path("f2.h5"), "--weights", "0.25,0.75", "--free-support",
                 "--support", path("f0.h5"), "--tol", 1e-7, "--max-iter", 100)
    X = ot.lp.free_support_barycenter([P1, P2], [ot.unif(20), ot.unif(30)], X0, weights=np.array([0.25, 0.75]))
    check("test_ot::test_free_support_barycenter, random clouds (locations)", rel(d["points"], X))

    # ---- test_partial.py::test_partial_wasserstein (exact part): 20 + 20 samples as the entropic case
    #      above (seeded here), M = dist, m = 0.5; POT's partial_wasserstein and partial_wasserstein2
    xs = ot.datasets.make_2D_samples_gauss(20, np.zeros(2), np.eye(2), random_state=42)
    xt = ot.datasets.make_2D_samples_gauss(20, np.zeros(2), np.eye(2), random_state=43)
    p = ot.utils.unif(20)
    M = ot.dist(xs, xt)
    G = ot.partial.partial_wasserstein(p, p, M, m=0.5)
    save("PX.h5", M=M, p=p)
    s, d = orbit("--cost", path("PX.h5") + ":/M", "--exact", "--mass", 0.5, "--plan", "dense")
    check("test_partial::test_partial_wasserstein (exact plan, m = 0.5)", rel(d["plan"], G))
    check("test_partial::test_partial_wasserstein (partial_wasserstein2 cost)", rel(s["cost"], ot.partial.partial_wasserstein2(p, p, M, m=0.5)))

    # ---- test_bregman.py::test_sinkhorn_multi_b: n = 10, RandomState(0), x = randn(n, 2), b = rand(n, 3)
    #      normalized per column, M = dist(x, x), reg 0.1: one loss per column of b
    rng = np.random.RandomState(0)
    x = rng.randn(10, 2)
    u = ot.utils.unif(10)
    B = rng.rand(10, 3)
    B /= B.sum(0, keepdims=True)
    M = ot.dist(x, x)
    losses = ot.sinkhorn(u, B, M, 0.1, stopThr=1e-14, numItermax=100000)
    save("MB.h5", M=M, B=B)
    _, d = orbit("--cost", path("MB.h5") + ":/M", "--b", path("MB.h5") + ":/B", "--eps", 0.1, "--tol", 1e-12, "--max-iter", 100000)
    check("test_bregman::test_sinkhorn_multi_b (3 losses <M,P_k>)", rel(d["cost"], losses))


if "cases" in args.parts.split(","):
    run_cases()

# ---- GW on two rotated copies of a real shape: identity recovery and time against POT ------------
data = os.environ.get("ORBIT_DATA") or os.path.join(here, "..", ".cache", "data")  # make bench sets ORBIT_DATA
shape = args.shape or os.path.join(data, "meshes", "armadillo.off")
if "gw" not in args.parts.split(","):
    pass
elif os.path.exists(shape):
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
f32 = "f32" in args.parts.split(",")
if f32:
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
