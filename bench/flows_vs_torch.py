#!/usr/bin/python3
"""orbit-train-flow against a PyTorch 1.13 implementation of the same models.

Both sides get the same data files, the same architecture (coupling layers with
reverse permutations, a residual conditioner: linear in, `blocks` x [relu, linear,
relu, linear] + skip, linear out zero-initialized; rational-quadratic splines with
K bins on [-B, B], minimum width/height/derivative 1e-3, identity at zero logits),
the same recipe (standardized columns, Adam, cosine decay to 0, gradient clipping
at 5, batch 256, no validation split) and the same number of epochs. Printed per
data set: held-out log-likelihood (nats, data coordinates) of both, training
steps/s, sampling and density-evaluation rows/s, and the ratios orbit / torch.

Data: checkerboard (FFJORD scaling, optimum -ln 32 = -3.466), two moons, eight
Gaussians (FFJORD definitions, numpy seeds fixed), sklearn digits (64-d,
dequantized with uniform noise and scaled by 1/16) and breast cancer (30-d,
standardized), both read from $ORBIT_DATA/tables.

  /usr/bin/python3 bench/flows_vs_torch.py [--epochs-2d 20] [--epochs-tab 60] [--only checkerboard,...]

The torch side runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset and
torch's default thread count; orbit runs with -j 0: it trains NSF on two fixed
halves of each batch (the same bits for any -j, on two threads here) and
evaluates rows in parallel chunks.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flows_common import BIN, DATA, orbit_timed  # noqa: E402


# ----------------------------------------------------------------------------- data
def checkerboard(n, rng):
    x1 = rng.random(n) * 4 - 2
    x2_ = rng.random(n) - rng.integers(0, 2, n) * 2
    x2 = x2_ + (np.floor(x1) % 2)
    return np.stack([x1, x2], 1) * 2


def moons(n, rng):
    from sklearn.datasets import make_moons
    x, _ = make_moons(n, noise=0.1, random_state=int(rng.integers(1 << 30)))
    return x * 2 + np.array([-1, -0.2])


def eight_gaussians(n, rng):
    s = 1 / math.sqrt(2)
    c = 4 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)])
    return (rng.normal(size=(n, 2)) * 0.5 + c[rng.integers(0, 8, n)]) / 1.414


def table(name, rng):
    path = os.path.join(DATA, "tables", name)
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            try:
                rows.append([float(v) for v in parts])
            except ValueError:
                continue  # header
    x = np.array(rows)
    if name == "digits.csv":
        x = x[:, :64]
        x = (x + rng.random(x.shape)) / 16.0  # dequantize
    else:
        x = x[:, :30]
        x = (x - x.mean(0)) / x.std(0)
    # keep only rows with a full set of columns; a shared shuffle then a split
    x = x[rng.permutation(len(x))]
    n_test = len(x) // 5
    return x[n_test:], x[:n_test]


def datasets(only):
    out = []
    for name, fn in [("checkerboard", checkerboard), ("moons", moons), ("8gaussians", eight_gaussians)]:
        rng = np.random.default_rng(1234)
        out.append((name, fn(20000, rng), fn(5000, rng), 2))
    for name, f in [("digits", "digits.csv"), ("breast_cancer", "breast_cancer.csv")]:
        if os.path.exists(os.path.join(DATA, "tables", f)):
            tr, te = table(f, np.random.default_rng(1234))
            out.append((name, tr, te, 1))
        else:
            print(f"# skipping {name}: {f} not in {DATA}/tables (run make data)")
    return [d for d in out if not only or d[0] in only]


# ----------------------------------------------------------------------------- torch side
def torch_child(args):
    """Runs in a subprocess with the OpenBLAS variables unset."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(cfg_seed(args))
    cfg = json.loads(args.torch_child)
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg["torch_threads"])
    with h5py.File(cfg["train"], "r") as f:
        xtr = f["points"][...]
    with h5py.File(cfg["test"], "r") as f:
        xte = f["points"][...]
    mean, std = xtr.mean(0), xtr.std(0, ddof=1)
    D = xtr.shape[1]
    K, B, H, L, NB = cfg["bins"], cfg["tail"], cfg["hidden"], cfg["layers"], cfg["blocks"]
    m = 1e-3
    dc = math.log(math.expm1(1 - m))

    class ResNet(nn.Module):
        def __init__(self, i, o, act):
            super().__init__()
            self.inp = nn.Linear(i, H)
            self.b0 = nn.ModuleList([nn.Linear(H, H) for _ in range(NB)])
            self.b1 = nn.ModuleList([nn.Linear(H, H) for _ in range(NB)])
            for l in self.b1:
                nn.init.uniform_(l.weight, -1e-3, 1e-3)
                nn.init.uniform_(l.bias, -1e-3, 1e-3)
            self.out = nn.Linear(H, o)
            self.act = act

        def forward(self, x):
            h = self.inp(x)
            if NB == 0:
                return self.out(self.act(h))
            for a, b in zip(self.b0, self.b1):
                h = h + b(self.act(a(self.act(h))))
            return self.out(h)

    def rqs(x, th, inverse):
        inside = (x >= -B) & (x <= B)
        w = m + (1 - K * m) * F.softmax(th[..., :K], -1)
        h = m + (1 - K * m) * F.softmax(th[..., K:2 * K], -1)
        d = m + F.softplus(th[..., 2 * K:] + dc)
        one = torch.ones_like(d[..., :1])
        d = torch.cat([one, d, one], -1)
        W, Hh = 2 * B * w, 2 * B * h
        xk = torch.cat([torch.full_like(W[..., :1], -B), -B + torch.cumsum(W, -1)], -1)
        yk = torch.cat([torch.full_like(Hh[..., :1], -B), -B + torch.cumsum(Hh, -1)], -1)
        xc = x.clamp(-B, B)
        knots = yk if inverse else xk
        idx = (xc[..., None] >= knots[..., 1:K]).sum(-1, keepdim=True)
        g = lambda t: t.gather(-1, idx)[..., 0]
        x0, w0, y0, h0, d0, d1 = g(xk), g(W), g(yk), g(Hh), g(d), g(d[..., 1:])
        s = h0 / w0
        if not inverse:
            xi = ((xc - x0) / w0).clamp(0, 1)
        else:
            D_ = d0 + d1 - 2 * s
            dl = xc - y0
            a = h0 * (s - d0) + dl * D_
            b = h0 * d0 - dl * D_
            c = -s * dl
            disc = (b * b - 4 * a * c).clamp_min(0)
            xi = (2 * c / (-b - disc.sqrt())).clamp(0, 1)
        q = xi * (1 - xi)
        den = s + (d0 + d1 - 2 * s) * q
        ld = 2 * torch.log(s) + torch.log(d1 * xi ** 2 + 2 * s * q + d0 * (1 - xi) ** 2) - 2 * torch.log(den)
        if not inverse:
            y = y0 + h0 * (s * xi ** 2 + d0 * q) / den
        else:
            y = x0 + xi * w0
            ld = -ld
        y = torch.where(inside, y, x)
        ld = torch.where(inside, ld, torch.zeros_like(ld))
        return y, ld.sum(-1)

    da, db = D // 2, D - D // 2
    P = 3 * K - 1

    class NSF(nn.Module):
        def __init__(self):
            super().__init__()
            self.nets = nn.ModuleList([ResNet(da, db * P, F.relu) for _ in range(L)])
            for n in self.nets:
                nn.init.zeros_(n.out.weight)
                nn.init.zeros_(n.out.bias)

        def forward(self, x):
            ld = torch.zeros(x.shape[0])
            for n in self.nets:
                x = x.flip(-1)
                xa, xb = x[:, :da], x[:, da:]
                th = n(xa).view(-1, db, P)
                yb, l = rqs(xb, th, False)
                ld = ld + l
                x = torch.cat([xa, yb], -1)
            return x, ld

        def log_prob(self, x):
            z, ld = self(x)
            return -0.5 * (z ** 2).sum(-1) - 0.5 * D * math.log(2 * math.pi) + ld

        @torch.no_grad()
        def inverse(self, z):
            for n in reversed(self.nets):
                xa, yb = z[:, :da], z[:, da:]
                th = n(xa).view(-1, db, P)
                xb, _ = rqs(yb, th, True)
                z = torch.cat([xa, xb], -1).flip(-1)
            return z

    class Field(nn.Module):
        def __init__(self):
            super().__init__()
            self.freqs = 4
            self.net = ResNet(D + 1 + 2 * self.freqs, D, F.silu)

        def forward(self, x, t):
            feats = [x, t[:, None]]
            for k in range(self.freqs):
                w = math.pi * 2 ** k
                feats += [torch.sin(w * t)[:, None], torch.cos(w * t)[:, None]]
            return self.net(torch.cat(feats, -1))

    xs = torch.tensor((xtr - mean) / std, dtype=torch.float32)
    model = NSF() if cfg["kind"] == "nsf" else Field()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    n, bs = xs.shape[0], cfg["batch"]
    spe = n // bs
    total = cfg["epochs"] * spe
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, total))
    g = torch.Generator().manual_seed(cfg_seed(args))
    t0 = time.perf_counter()
    for e in range(cfg["epochs"]):
        perm = torch.randperm(n, generator=g)
        for s in range(spe):
            xb = xs[perm[s * bs:(s + 1) * bs]]
            if cfg["kind"] == "nsf":
                loss = -model.log_prob(xb).mean()
            else:
                x0 = torch.randn(xb.shape, generator=g)
                if cfg["kind"] == "ot-cfm":
                    from scipy.optimize import linear_sum_assignment
                    c = torch.cdist(x0, xb) ** 2
                    _, col = linear_sum_assignment(c.numpy())
                    xb = xb[col]
                t = torch.rand(xb.shape[0], generator=g)
                xt = t[:, None] * xb + (1 - t[:, None]) * x0
                loss = ((model(xt, t) - (xb - x0)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
    train_s = time.perf_counter() - t0
    out = {"steps_per_s": total / train_s, "threads": torch.get_num_threads()}
    if cfg["kind"] == "nsf":
        xt = torch.tensor((xte - mean) / std, dtype=torch.float32)
        with torch.no_grad():
            lp = model.log_prob(xt).numpy().astype(np.float64) - np.log(std).sum()
            t0 = time.perf_counter()
            z = torch.randn(cfg["nsample"], D, generator=g)
            smp = model.inverse(z)
            out["sample_rows_per_s"] = cfg["nsample"] / (time.perf_counter() - t0)
            # density speed on as many rows as were sampled (the test sets of the tables are small)
            t0 = time.perf_counter()
            model.log_prob(smp)
            out["density_rows_per_s"] = cfg["nsample"] / (time.perf_counter() - t0)
        out["test_ll"] = float(lp.mean())
        out["test_ll_se"] = float(lp.std() / math.sqrt(len(lp)))
    print(json.dumps(out))


def cfg_seed(args):
    return json.loads(args.torch_child).get("seed", 0)


def run_torch(cfg):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    r = subprocess.run([sys.executable, __file__, "--torch-child", json.dumps(cfg)], env=env, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise SystemExit("torch side failed:\n" + r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- orbit side
orbit = orbit_timed  # (summary, seconds)


def run_orbit(cfg, tmp):
    model = os.path.join(tmp, cfg["name"] + "-" + cfg["kind"] + ".h5")
    arch = ["--layers", cfg["layers"], "--bins", cfg["bins"], "--tail-bound", cfg["tail"]] if cfg["kind"] == "nsf" else []
    j, _ = orbit("train-flow", cfg["train"], "--model", cfg["kind"], *arch, "--hidden", cfg["hidden"], "--blocks",
                 cfg["blocks"], "--epochs", cfg["epochs"], "--batch", cfg["batch"], "--lr", cfg["lr"], "--val", 0,
                 "--seed", cfg.get("seed", 0) + 1, "-o", model)
    out = {"steps_per_s": j["report"]["steps_per_second"], "final_loss": j["report"].get("final_train_loss")}
    if cfg["kind"] == "nsf":
        # time the work itself: the tools' start-up (loading, writing) is measured with one row and subtracted
        d, _ = orbit("density", model, cfg["test"])
        _, t_small = orbit("sample-flow", model, "-n", 1, "-o", os.path.join(tmp, "s1.h5"))
        _, ts = orbit("sample-flow", model, "-n", cfg["nsample"], "-o", os.path.join(tmp, "s.h5"))
        _, t_d1 = orbit("density", model, os.path.join(tmp, "s1.h5"))
        _, td = orbit("density", model, os.path.join(tmp, "s.h5"))
        out["test_ll"] = d["mean_logp"]
        out["test_ll_se"] = d["stderr_logp"]
        out["density_rows_per_s"] = cfg["nsample"] / max(1e-6, td - t_d1)
        out["sample_rows_per_s"] = cfg["nsample"] / max(1e-6, ts - t_small)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch-child")
    ap.add_argument("--epochs-2d", type=int, default=20)
    ap.add_argument("--epochs-tab", type=int, default=60)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--cfm", action="store_true", help="also time CFM and OT-CFM training steps")
    ap.add_argument("--only", default="")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="train each side with this many seeds and compare mean held-out log-likelihoods (the "
                         "spread between seeds is the yardstick for the 0.05-nat agreement)")
    args = ap.parse_args()
    if args.torch_child:
        return torch_child(args)
    only = set(filter(None, args.only.split(",")))
    print(f"# orbit binaries: {BIN}")
    print(f"# NSF: {args.layers} layers, hidden {args.hidden}, {args.blocks} residual blocks, 8 bins, B=3, batch 256, "
          f"Adam lr 1e-3 cosine, clip 5; epochs 2-D {args.epochs_2d}, tables {args.epochs_tab}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, tr, te, kind_dim in datasets(only):
            paths = {}
            for part, x in (("train", tr), ("test", te)):
                paths[part] = os.path.join(tmp, f"{name}-{part}.h5")
                with h5py.File(paths[part], "w") as f:
                    f["points"] = x
            epochs = args.epochs_2d if tr.shape[1] == 2 else args.epochs_tab
            kinds = ["nsf"] + (["cfm", "ot-cfm"] if args.cfm and tr.shape[1] == 2 else [])
            for kind in kinds:
                cfg = dict(name=name, kind=kind, train=paths["train"], test=paths["test"], layers=args.layers,
                           hidden=args.hidden if kind == "nsf" else 256, blocks=args.blocks, bins=8, tail=3.0,
                           epochs=epochs if kind == "nsf" else max(1, epochs // 4), batch=256, lr=1e-3, nsample=20000,
                           torch_threads=args.torch_threads)
                o = run_orbit(cfg, tmp)
                t = run_torch(cfg)
                rows.append((name, kind, tr.shape, o, t))
                if kind == "nsf" and args.seeds > 1:
                    lo, lt = [o["test_ll"]], [t["test_ll"]]
                    for seed in range(1, args.seeds):
                        lo.append(run_orbit(dict(cfg, seed=seed), tmp)["test_ll"])
                        lt.append(run_torch(dict(cfg, seed=seed))["test_ll"])
                    mo, mt = float(np.mean(lo)), float(np.mean(lt))
                    so, st = float(np.std(lo, ddof=1)), float(np.std(lt, ddof=1))
                    se = math.sqrt((so ** 2 + st ** 2) / args.seeds)
                    o["seed_lls"], t["seed_lls"] = lo, lt
                    print(f"{name:14s} {kind:7s} over {args.seeds} seeds: test LL orbit {mo:.4f} (sd {so:.4f}) torch "
                          f"{mt:.4f} (sd {st:.4f}); diff {mo - mt:+.4f} +- {se:.4f} (target |diff| <= 0.05: "
                          f"{'met' if abs(mo - mt) <= 0.05 else 'NOT met'})", flush=True)
                line = f"{name:14s} {kind:7s} D={tr.shape[1]:2d} n={tr.shape[0]:6d} steps/s orbit {o['steps_per_s']:8.1f} " \
                       f"torch {t['steps_per_s']:8.1f} (x{o['steps_per_s'] / t['steps_per_s']:.2f}, torch threads {t['threads']})"
                if kind == "nsf":
                    line += f"\n{'':14s}         test LL orbit {o['test_ll']:.4f}+-{o['test_ll_se']:.4f} torch " \
                            f"{t['test_ll']:.4f}+-{t['test_ll_se']:.4f} (diff {o['test_ll'] - t['test_ll']:+.4f})"
                    if name == "checkerboard":
                        line += f" optimum {-math.log(32):.4f}"
                    line += f"\n{'':14s}         density rows/s x{o['density_rows_per_s'] / t['density_rows_per_s']:.2f}" \
                            f" ({o['density_rows_per_s']:.0f} vs {t['density_rows_per_s']:.0f}), sampling rows/s " \
                            f"x{o['sample_rows_per_s'] / t['sample_rows_per_s']:.2f} ({o['sample_rows_per_s']:.0f} vs " \
                            f"{t['sample_rows_per_s']:.0f})"
                print(line, flush=True)
    print(json.dumps([{"data": r[0], "kind": r[1], "orbit": r[3], "torch": r[4]} for r in rows]))


if __name__ == "__main__":
    main()
