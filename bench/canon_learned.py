#!/usr/bin/python3
"""A frozen classifier behind learned canonicalization, on real data.

A classifier written here (torch) is trained on upright data only and then
frozen: it stands for a large pretrained model that has never seen a rotation.
It is then evaluated on the test split rotated uniformly in the group, alone
and behind three orbit canonicalizations:
  raw      the classifier on the rotated clouds;
  pca      behind orbit-canonicalize (PCA frames);
  fa       frame averaging: the class probabilities averaged over all PCA
           frames (orbit-canonicalize --frames all);
  learned  behind orbit-canonicalize --model, a canonicalizer (digits: PCA
           with a learned correction; shapes: vector neurons) trained by orbit-train-canonicalizer with the canonicalization
           prior on the upright training split.

digits  the 8x8 digits of $ORBIT_DATA/tables/digits.csv as 2-D point sets:
        --points pixel positions drawn with probability proportional to the
        intensity, jittered uniformly inside the pixel (up is +y, the image
        centre at the origin); uniform SO(2) rotations about the centre.
shapes  the CGAL meshes of $ORBIT_DATA/meshes, and whitened copies of two of
        them (--whiten: covariance exactly isotropic, so PCA frames are
        arbitrary), classes = shapes: each
        instance is an independent sample of the surface (orbit-convert),
        centred, cropped by a random plane keeping --keep of the points and
        resampled to --points; uniform SO(3) rotations. The table lists how
        close each shape's covariance is to isotropic (smallest relative
        eigenvalue gap).

The classifier centres each cloud, splats it (bilinear / trilinear, each point
weight 1/N) on a grid and applies an MLP; it runs in float64 at test time so
that orbit-eval-invariance can check the canonicalized pipelines to 1e-9.
Splits: a seeded shuffle into train / validation / test (digits 60/20/20,
shapes: separate instance seeds); the canonicalizer options were chosen on the
validation split (printed), never on the test split. Rotations of the test
split come from a seed no training stream uses.

usage: bench/canon_learned.py [--task digits|shapes|both] [--seed 0] [--out DIR] [--val-only] [--threads N]
       bench/canon_learned.py classify CLF.pt IN.h5 OUT.h5     (model command)
"""
import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable or "/usr/bin/python3"


# ---------------------------------------------------------------- classifier

def torch_single_thread():
    # One thread: on a shared machine torch's thread pool spins and runs many times slower.
    import torch
    torch.set_num_threads(1)


def splat(x, grid, half):
    """Centred clouds [B,N,D] (D = 2 or 3) -> densities on a grid^D covering [-half, half]^D, [B, grid^D]."""
    import torch
    x = x - x.mean(1, keepdim=True)
    b, n, d = x.shape
    u = (x + half) / (2 * half) * (grid - 1)  # grid coordinates
    u = u.clamp(0, grid - 1 - 1e-9)
    i0 = torch.floor(u)
    f = u - i0
    i0 = i0.long()
    out = torch.zeros(b, grid ** d, dtype=x.dtype)
    for corner in range(2 ** d):
        w = torch.ones(b, n, dtype=x.dtype)
        idx = torch.zeros(b, n, dtype=torch.long)
        for k in range(d):
            bit = (corner >> k) & 1
            w = w * (f[..., k] if bit else 1 - f[..., k])
            idx = idx * grid + (i0[..., k] + bit)
        out.scatter_add_(1, idx, w / n)
    return out * (grid ** d) / 4.0


class Classifier:
    def __init__(self, dim, grid, half, classes, hidden=256, seed=0):
        import torch
        torch.manual_seed(seed)
        self.dim, self.grid, self.half = dim, grid, half
        self.net = torch.nn.Sequential(torch.nn.Linear(grid ** dim, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes))

    def logits(self, x):
        """float64 logits of clouds [B,N,D] (numpy)."""
        import torch
        net = self.net.double()
        with torch.no_grad():
            return net(splat(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)), self.grid, self.half)).numpy()

    def fit(self, draw, labels, epochs, seed):
        """draw(epoch) -> training clouds [B,N,D] (a fresh resampling each epoch, never a rotation)."""
        import torch
        g = torch.Generator().manual_seed(seed)
        net = self.net.float()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        y = torch.from_numpy(labels).long()
        for e in range(epochs):
            x = splat(torch.from_numpy(draw(e)).double(), self.grid, self.half).float()
            perm = torch.randperm(len(y), generator=g)
            for s in range(0, len(y), 64):
                j = perm[s:s + 64]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(x[j]), y[j])
                loss.backward()
                opt.step()
        return self

    def save(self, path):
        import torch
        torch.save({"dim": self.dim, "grid": self.grid, "half": self.half, "state": self.net.state_dict(),
                    "classes": self.net[-1].out_features, "hidden": self.net[0].out_features}, path)

    @staticmethod
    def load(path):
        import torch
        s = torch.load(path)
        c = Classifier(s["dim"], s["grid"], s["half"], s["classes"], s["hidden"])
        c.net.load_state_dict(s["state"])
        return c


def classify_command(clf_path, src, dst):
    """Model command for orbit-eval-invariance: /points [B,N,D] or frames [B,F,N,D] -> /output logits [B,C]."""
    c = Classifier.load(clf_path)
    with h5py.File(src) as f:
        x = f["points"][()]
    if x.ndim == 4:  # frame averaging: the mean of the class probabilities over the frames
        p = np.stack([softmax(c.logits(x[:, k])) for k in range(x.shape[1])], 1).mean(1)
        out = np.log(p)
    else:
        out = c.logits(x)
    with h5py.File(dst, "w") as f:
        f["output"] = out


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


# ---------------------------------------------------------------- data

def turned(k, dim, angle_deg, rng):
    """k rotations by exactly angle_deg (about uniform random axes in 3-D, either sense in 2-D)."""
    a = np.radians(angle_deg)
    if dim == 2:
        a = a * rng.choice([-1.0, 1.0], size=k)
        c, s = np.cos(a), np.sin(a)
        return np.stack([np.stack([c, -s], 1), np.stack([s, c], 1)], 1)
    u = rng.normal(size=(k, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    K = np.zeros((k, 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -u[:, 2], u[:, 1], -u[:, 0]
    K = K - K.transpose(0, 2, 1)
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def pca_frames(x):
    """The PCA frames of centred clouds [B,N,3] with third-moment signs (orbit-canonicalize's frame without its
    extreme-point fallback): principal axes by decreasing variance, the first two signed by their third
    moments, the third their cross product."""
    x = x - x.mean(1, keepdims=True)
    _, vec = np.linalg.eigh(np.einsum("bni,bnj->bij", x, x))
    v = vec[:, :, ::-1].copy()
    for k in range(2):
        sign = np.sign((np.einsum("bni,bi->bn", x, v[:, :, k]) ** 3).sum(1))
        v[:, :, k] *= np.where(sign == 0, 1, sign)[:, None]
    v[:, :, 2] = np.cross(v[:, :, 0], v[:, :, 1])
    return v


def pca_frame_spread(x, y, classes):
    """Per class: the median angle (degrees) between the PCA frame of each upright cloud and the class's mean
    frame, up to the axis signs (the Klein group, which sign averaging removes). A learned correction of the
    PCA frame can only be as steady as this: a crop moves the principal axes."""
    signs = [np.diag(d) for d in ([1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1])]
    ang = lambda a, b: np.degrees(np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1)))
    frames = pca_frames(x)
    out = np.zeros(classes)
    for c in range(classes):
        fs = frames[y == c]
        ref = fs[0]
        aligned = [min((f @ s for s in signs), key=lambda m: ang(m, ref)) for f in fs]
        u, _, vt = np.linalg.svd(np.mean(aligned, 0))
        mean = u @ vt
        out[c] = np.median([ang(a, mean) for a in aligned])
    return out


def rotations(k, dim, rng):
    if dim == 2:
        a = rng.uniform(0, 2 * np.pi, size=k)
        c, s = np.cos(a), np.sin(a)
        return np.stack([np.stack([c, -s], 1), np.stack([s, c], 1)], 1)
    q, r = np.linalg.qr(rng.normal(size=(k, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return q


def digit_clouds(images, n, rng):
    """8x8 intensity images [B,64] -> point sets [B,n,2]: pixels drawn by intensity, jittered inside the pixel."""
    out = np.empty((len(images), n, 2))
    col, row = np.meshgrid(np.arange(8), np.arange(8))
    centres = np.stack([col.ravel() - 3.5, 3.5 - row.ravel()], 1)
    for i, im in enumerate(images):
        p = im / im.sum()
        k = rng.choice(64, size=n, p=p)
        out[i] = centres[k] + rng.uniform(-0.5, 0.5, size=(n, 2))
    return out


class Digits:
    dim, group, grid, half = 2, "SO2", 12, 6.0

    def __init__(self, args):
        t = np.loadtxt(os.path.join(args.data, "tables", "digits.csv"), delimiter=",")
        self.images, self.labels = t[:, :64], t[:, 64].astype(int)
        perm = np.random.default_rng([args.seed, 1]).permutation(len(t))
        a, b = int(0.6 * len(t)), int(0.8 * len(t))
        self.split = {"train": perm[:a], "val": perm[a:b], "test": perm[b:]}
        self.n = args.points or 96
        self.seed = args.seed
        self.classes = 10
        self.names = [str(i) for i in range(10)]

    def clouds(self, part, stream):
        idx = self.split[part]
        rng = np.random.default_rng([self.seed, 2, stream])
        return digit_clouds(self.images[idx], self.n, rng), self.labels[idx]


class Shapes:
    dim, group, grid, half = 3, "SO3", 8, 2.2

    def __init__(self, args):
        self.seed = args.seed
        self.n = args.points or 256
        self.keep = args.keep
        self.names = sorted(f[:-4] for f in os.listdir(os.path.join(args.data, "meshes")) if f.endswith(".off"))
        self.classes = len(self.names)
        self.dense = {}
        for name in self.names:
            out = os.path.join(args.work, f"mesh-{name}.h5")
            tool(args, "orbit-convert", os.path.join(args.data, "meshes", name + ".off"), "--sample", "20000",
                 "--seed", str(args.seed), "-q", "-o", out)
            with h5py.File(out) as f:
                x = f["points"][()]
            x = x - x.mean(0)
            self.dense[name] = x / np.sqrt((x ** 2).sum(1).mean())
        # Whitened copies (x -> C^-1/2 x, symmetric, so up stays up): shapes whose covariance is isotropic,
        # where PCA frames are arbitrary.
        for name in [w for w in args.whiten.split(",") if w]:
            ev, vec = np.linalg.eigh(np.cov(self.dense[name].T))
            x = self.dense[name] @ (vec / np.sqrt(ev)) @ vec.T
            self.dense[name + "-whitened"] = x / np.sqrt((x ** 2).sum(1).mean())
        self.names = sorted(self.dense)
        self.classes = len(self.names)
        self.count = {"train": args.instances, "val": max(8, args.instances // 3), "test": max(8, args.instances // 2)}
        self.part_id = {"train": 0, "val": 1, "test": 2}

    def eigen_gaps(self):
        rows = []
        for name in self.names:
            ev = np.sort(np.linalg.eigvalsh(np.cov(self.dense[name].T)))[::-1]
            rows.append((name, ev, min((ev[0] - ev[1]) / ev[0], (ev[1] - ev[2]) / ev[0])))
        return rows

    def clouds(self, part, stream):
        rng = np.random.default_rng([self.seed, 3, self.part_id[part], stream])
        xs, ys = [], []
        for c, name in enumerate(self.names):
            d = self.dense[name]
            for _ in range(self.count[part]):
                normal = rng.normal(size=3)
                normal /= np.linalg.norm(normal)
                s = d @ normal
                kept = d[s <= np.quantile(s, self.keep)] if self.keep < 1 else d
                x = kept[rng.choice(len(kept), size=self.n, replace=False)]
                xs.append(x - x.mean(0))
                ys.append(c)
        return np.stack(xs), np.array(ys)


# ---------------------------------------------------------------- orbit tools

def tool(args, name, *argv, capture=False):
    cmd = [os.path.join(args.bin, name), *argv, *(["-j", str(args.threads)] if args.threads else [])]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(shlex.quote(c) for c in cmd)} failed:\n{r.stderr}")
    return r.stdout if capture else None


def write(path, x):
    with h5py.File(path, "w") as f:
        f["points"] = x


def read(path):
    with h5py.File(path) as f:
        return f["points"][()]


def canonical_angle(x, y):
    """The angle of the rotation taking cloud x to y (rows y_i = Q x_i about the origin): 2-D in degrees, 3-D the rotation angle."""
    m = x.T @ y
    if x.shape[1] == 2:
        return np.degrees(np.arctan2(m[0, 1] - m[1, 0], m[0, 0] + m[1, 1]))
    u, _, vt = np.linalg.svd(m)
    q = (u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt).T
    return np.degrees(np.arccos(np.clip((np.trace(q) - 1) / 2, -1, 1)))


def accuracy(logits, y):
    return float((logits.argmax(1) == y).mean())


def pipelines(args, task, clf, model, x, y, tag):
    """Accuracy of raw, pca, fa and learned on clouds x."""
    w = lambda s: os.path.join(args.work, f"{tag}-{s}.h5")
    write(w("in"), x)
    tool(args, "orbit-canonicalize", w("in"), "--group", task.group, "-q", "-o", w("pca"))
    tool(args, "orbit-canonicalize", w("in"), "--group", task.group, "--frames", "all", "-q", "-o", w("fa"))
    tool(args, "orbit-canonicalize", w("in"), "--model", model, "-q", "-o", w("learned"))
    frames = read(w("fa"))
    p = np.stack([softmax(clf.logits(frames[:, k])) for k in range(frames.shape[1])], 1).mean(1)
    return {"raw": accuracy(clf.logits(x), y), "pca": accuracy(clf.logits(read(w("pca"))), y), "fa": accuracy(p, y),
            "learned": accuracy(clf.logits(read(w("learned"))), y)}


def invariance(args, task, clf_path, model, x, label):
    """orbit-eval-invariance on each pipeline: logits (float64) and labels; the raw model's per-angle plot."""
    write(os.path.join(args.work, "inv.h5"), x)
    me = shlex.quote(os.path.abspath(__file__))
    classify = f"{shlex.quote(PY)} {me} classify {shlex.quote(clf_path)}"
    canon = shlex.quote(os.path.join(args.bin, "orbit-canonicalize"))
    cmds = {
        "raw": (f"{classify} {{in}} {{out}}", []),
        "pca": (f"{classify} {{in}} {{out}}", ["--canonicalize", task.group]),
        "fa": (f"{canon} {{in}} --group {task.group} --frames all -q -o {{in}}.fa.h5 && {classify} {{in}}.fa.h5 {{out}}", []),
        "learned": (f"{canon} {{in}} --model {shlex.quote(model)} -q -o {{in}}.c.h5 && {classify} {{in}}.c.h5 {{out}}", []),
    }
    out = {}
    for name, (cmd, extra) in cmds.items():
        row = {}
        for kind in ("invariant", "labels"):
            argv = [os.path.join(args.work, "inv.h5"), "--group", task.group, "--samples", str(args.inv_samples),
                    "--seed", str(args.seed + 77), "--model-cmd", cmd, "--output-type", kind, "--no-lie", "--json", *extra]
            if name == "raw" and kind == "invariant":
                argv += ["--plot", os.path.join(args.out, f"{label}-raw-error.svg")]
            js = json.loads(tool(args, "orbit-eval-invariance", *argv, capture=True))
            if kind == "invariant":
                row["max_abs_error"] = js["max_abs_error"]
            else:
                row["consistency"] = js["consistency"]
        out[name] = row
    return out


# ---------------------------------------------------------------- the benchmark

def run_task(args, task, label):
    t_all = time.time()
    print(f"\n==== {label}: group {task.group}, seed {args.seed}, {task.n} points per cloud ====")
    xtr, ytr = task.clouds("train", 0)
    xva, yva = task.clouds("val", 0)
    xte, yte = task.clouds("test", 0)
    print(f"splits: train {len(ytr)}, validation {len(yva)}, test {len(yte)} clouds")
    if hasattr(task, "eigen_gaps"):
        print("covariance eigenvalues of each shape (smallest relative gap; small = near-isotropic, PCA unstable):")
        for name, ev, gap in task.eigen_gaps():
            print(f"  {name:22s} {ev[0]:.3f} {ev[1]:.3f} {ev[2]:.3f}  gap {gap:.3f}")

    # The frozen classifier: upright training clouds only, a fresh resampling each epoch.
    t0 = time.time()
    draw = lambda e: xtr if e == 0 else task.clouds("train", 100 + e)[0]
    clf = Classifier(task.dim, task.grid, task.half, task.classes, seed=args.seed).fit(draw, ytr, args.clf_epochs, args.seed)
    clf_path = os.path.join(args.work, f"{label}-clf.pt")
    clf.save(clf_path)
    print(f"classifier: {args.clf_epochs} epochs in {time.time() - t0:.1f} s")
    # How exactly a canonicalizer must bring a cloud back upright: the frozen classifier on upright validation
    # clouds turned by a fixed angle.
    tol_rng = np.random.default_rng([args.seed, 998])
    tol = {a: accuracy(clf.logits(np.einsum("bij,bnj->bni", turned(len(xva), task.dim, a, tol_rng), xva)), yva)
           for a in (0, 5, 10, 20, 30, 45, 90)}
    print("classifier on validation clouds turned by a fixed angle: " + ", ".join(f"{a} deg {v:.3f}" for a, v in tol.items()))
    if task.dim == 3:
        spread = pca_frame_spread(xtr, ytr, task.classes)
        print("PCA frame of the upright training crops, median angle from the class's mean frame up to the axis signs: "
              + ", ".join(f"below {t} deg {np.mean(spread < t):.2f} of the classes" for t in (5, 10, 20, 30)))

    # The canonicalizer, through the orbit tools, on the upright training split (digits: --canon-draws
    # independent point samples of each training image, like the classifier's fresh resampling per epoch).
    draws = args.canon_draws if label == "digits" else 1
    xcan = np.concatenate([xtr] + [task.clouds("train", 500 + k)[0] for k in range(1, draws)])
    write(os.path.join(args.work, f"{label}-train.h5"), xcan)
    model = os.path.join(args.work, f"{label}-canon.h5")
    opts = args.canon_opts or (DIGITS_CANON if label == "digits" else SHAPES_CANON)
    t0 = time.time()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads(tool(args, "orbit-train-canonicalizer", os.path.join(args.work, f"{label}-train.h5"), "--group",
                              task.group, "--seed", str(args.seed), *opts.split(), "-q", "--json", "-o", model,
                              capture=True))
    train_s = time.time() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    train_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"canonicalizer: orbit-train-canonicalizer {opts} --seed {args.seed} on {len(xcan)} clouds ({draws} per training image): "
          f"{train_s:.1f} s wall, {train_cpu:.1f} s CPU (load {os.getloadavg()[0]:.1f}), "
          f"prior loss {summary['history']['loss'][0]:.3f} -> {summary['final_loss']:.3f}, "
          f"mean angle {summary['final_angle_deg']:.1f} deg on the training clouds")

    # Upright accuracy, then the rotated validation (for choices) and test splits.
    rot_rng = np.random.default_rng([args.seed, 999])
    rotate = lambda x: np.einsum("bij,bnj->bni", rotations(len(x), task.dim, rot_rng), x)
    if args.val_only:  # choices: the validation split alone, the test split left untouched
        acc = {"val_upright": pipelines(args, task, clf, model, xva, yva, f"{label}-vup")}
    else:
        acc = {"upright": pipelines(args, task, clf, model, xte, yte, f"{label}-up")}
    acc["val_rotated"] = pipelines(args, task, clf, model, rotate(xva), yva, f"{label}-val")
    if not args.val_only:
        acc["test_rotated"] = pipelines(args, task, clf, model, rotate(xte), yte, f"{label}-test")
    print(f"{'accuracy':28s} {'raw':>7s} {'pca':>7s} {'fa':>7s} {'learned':>8s}")
    for k, name in (("upright", "test, upright"), ("val_upright", "validation, upright"), ("val_rotated", "validation, rotated"),
                    ("test_rotated", "test, rotated")):
        if k not in acc:
            continue
        a = acc[k]
        print(f"{name:28s} {a['raw']:7.3f} {a['pca']:7.3f} {a['fa']:7.3f} {a['learned']:8.3f}")
    # How far the learned canonical pose of each validation cloud is from upright (invariance: the same for its rotated copy).
    ang = np.abs([canonical_angle(u, v) for u, v in zip(xva, read(os.path.join(args.work, f"{label}-val-learned.h5")))])
    if task.dim == 2:
        print(f"validation: learned canonical pose {np.median(ang):.1f} deg from upright (median), "
              f"{(ang > 90).mean():.3f} of the clouds more than 90 deg off")
    canon = {"options": opts, "train_s": train_s, "train_cpu_s": train_cpu,
             "summary": {k: summary[k] for k in ("final_loss", "final_angle_deg", "clouds", "points", "epochs")}}
    if args.val_only:
        up, v = acc["val_upright"]["raw"], acc["val_rotated"]["learned"]
        print(f"validation: learned {v:.3f} recovers {v / up:.3f} of the upright {up:.3f} (0.9 x upright = {0.9 * up:.3f})")
        return {"accuracy": acc, "canonicalizer": canon}
    up, a = acc["upright"]["raw"], acc["test_rotated"]
    targets = {"learned >= 0.9 x upright": a["learned"] >= 0.9 * up, "learned >= pca + 0.10": a["learned"] >= a["pca"] + 0.10}
    print(f"recovered {a['learned'] / up:.3f} of the upright accuracy; learned - pca = {a['learned'] - a['pca']:+.3f}")

    inv = invariance(args, task, clf_path, model, rotate(xte[: args.inv_clouds]), label)
    print(f"orbit-eval-invariance ({args.inv_clouds} test clouds x {args.inv_samples} rotations, float64):")
    for name, row in inv.items():
        print(f"  {name:8s} consistency {row['consistency']:.3f}  max |logit error| {row['max_abs_error']:.2e}")
    targets["canonicalized pipelines consistent, error < 1e-9"] = all(
        inv[k]["consistency"] == 1.0 and inv[k]["max_abs_error"] < 1e-9 for k in ("pca", "fa", "learned"))
    if label == "digits":
        targets["canonicalizer training <= 300 s wall"] = train_s <= 300
    for k, v in targets.items():
        print(f"  target {k}: {'met' if v else 'NOT met'}")
    print(f"{label}: {time.time() - t_all:.0f} s in all; per-angle error of the raw model: {args.out}/{label}-raw-error.svg")
    return {"accuracy": acc, "invariance": inv, "canonicalizer": canon, "targets": targets}


# Digits: on the seed-0 validation split (rotated, behind the frozen classifier) the gated, chiral network with
# 16 neighbours beat the ungated ones (accuracy 0.50 against 0.30-0.31 after 40 epochs, frame prior). With the
# vectors prior (the trainer's default) and 100 epochs it reached 0.649 there, weighted frames
# (--method weighted-frames --epochs 150 --batch 32 --lr 0.003) 0.641, so vector neurons are kept.
# PCA correction (--method pca-correction: the PCA frame turned by a learned invariant correction, averaged over the
# axis signs) with --resample --jitter 0.05 reached 0.802 on the seed-1 validation split (0.763 without the
# augmentation, 0.749 with it but third-moment signs alone; measured with a zero-initialized last layer, 0.763 with
# the final random one), so digits use it.
# Measured again on the seed-1 validation split (upright validation digits canonicalized, behind the frozen
# classifier, whose upright accuracy there is 0.897): these options 0.777 (13.7% of the digits more than 90 deg off,
# median error 7.7 deg); 3 point samples per training image (--canon-draws 3) with --epochs 100, the same number of
# steps, 0.772 (11.4% past 90 deg); an ensemble of 3 (--members 3) with --epochs 100, 0.752; --epochs 450 --val 0.1
# (the weights of the epoch with the lowest held-out prior, 316) 0.769. None was kept.
# The correction classified over angle bins instead of regressed (--head angle-bins:K, the rest as before; --val-only
# --threads 1, seed 1): K = 36 0.825 (15.6% past 90 deg, median 5.5 deg), K = 72 0.833 (15.0%, median 5.3 deg), against
# 0.763 for the vector head in the same build (13.6%, median 7.4 deg); 0.9 x upright is 0.807. K = 72 is kept.
# Shapes: the vector-neuron network, not tuned separately.
DIGITS_CANON = ("--method pca-correction --head angle-bins:72 --epochs 300 --batch 32 --lr 0.003 --mlp-hidden 128 "
                "--mlp-blocks 2 --resample --jitter 0.05")
DIGITS_DRAWS = 1
SHAPES_CANON = "--epochs 40 --batch 16 --lr 0.004 --hidden 16 --layers 2 --neighbors 16"


def main():
    torch_single_thread()
    if len(sys.argv) > 1 and sys.argv[1] == "classify":
        return classify_command(*sys.argv[2:5])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=["digits", "shapes", "both"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--points", type=int, default=0, help="points per cloud (default 96 digits, 256 shapes)")
    ap.add_argument("--instances", type=int, default=60, help="training instances per shape")
    ap.add_argument("--whiten", default="bunny00,cow", help="shapes: meshes also added as whitened copies (isotropic covariance)")
    ap.add_argument("--keep", type=float, default=0.85, help="shapes: fraction of the surface a crop keeps")
    ap.add_argument("--clf-epochs", type=int, default=60)
    ap.add_argument("--canon-opts", default="", help="orbit-train-canonicalizer options (default: the chosen ones)")
    ap.add_argument("--canon-draws", type=int, default=DIGITS_DRAWS,
                    help="digits: independent point samples of each training image the canonicalizer trains on")
    ap.add_argument("--val-only", action="store_true",
                    help="for choosing options: the validation split alone (upright and rotated), no test split, no invariance")
    ap.add_argument("--threads", type=int, default=0, help="-j of every orbit tool (0: all cores)")
    ap.add_argument("--inv-clouds", type=int, default=16)
    ap.add_argument("--inv-samples", type=int, default=12)
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "bin"))
    ap.add_argument("--data", default=os.environ.get("ORBIT_DATA", os.path.join(here, "..", ".cache", "data")))
    ap.add_argument("--out", default=None, help="folder for the plots and results.json (default: a temporary one)")
    args = ap.parse_args()
    args.out = args.out or tempfile.mkdtemp(prefix="orbit-canon-bench-")
    os.makedirs(args.out, exist_ok=True)
    args.work = tempfile.mkdtemp(prefix="work-", dir=args.out)
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True).stdout.strip()
    print(f"{cpu}; {os.cpu_count()} cores; torch on one thread, the orbit tools on "
          f"{args.threads or 'all'} {'core' if args.threads == 1 else 'cores'}")
    results = {}
    for label in (["digits", "shapes"] if args.task == "both" else [args.task]):
        results[label] = run_task(args, Digits(args) if label == "digits" else Shapes(args), label)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nresults: {args.out}/results.json")


if __name__ == "__main__":
    main()
