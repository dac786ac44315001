#!/usr/bin/python3
"""Riemannian flow matching on SO(3) against a density known in closed form.

Data: a mixture of isotropic matrix Fisher distributions,
p(R) = sum_k w_k exp(kappa tr(M_k^T R)) / c(kappa) with respect to the Haar
probability measure, centred at the rotations M_k of a symmetric shape's
symmetry group (D2: the identity and the half turns about x, y and z, equal
weights). The normalizer is a 1-D integral over the rotation angle,
c(kappa) = int_0^pi exp(kappa (1 + 2 cos t)) (1 - cos t) / pi dt; samples draw
the angle by inverting its tabulated distribution and the axis uniformly.

The best any model can do on held-out rows is the mean of log p_true over
them (minus the entropy, estimated on the same rows); the target is a
held-out log-likelihood within 0.1 nats of it. orbit-train-flow --manifold so3
trains on 80% of the rows (--patience stops early on the other 20%); orbit-density gives the
log-density with respect to the same Haar probability measure.

The default training length (1000 epochs, about 25000 steps of batch 256)
was chosen with --data-seed 1234 --seed 1: the gap was 0.114 nats after 100
epochs and 0.024 after 1000, with the same gap for dopri5 tolerances 1e-5
and 1e-7 in the density evaluation (the gap was the training length, not
the ODE). Report figures with other seeds, e.g. --data-seed 5678 --seed 2.

  /usr/bin/python3 bench/flows_so3.py [--kappa 8] [--n 8000] [--epochs 1000] [--data-seed 5678 --seed 2]
"""
import argparse
import math
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flows_common import add_training_arguments, orbit  # noqa: E402


def rodrigues(axis, angle):
    K = np.zeros((len(axis), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    K[:, 1, 0], K[:, 2, 0], K[:, 2, 1] = axis[:, 2], -axis[:, 1], axis[:, 0]
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3)[None] + s * K + (1 - c) * K @ K


class IsotropicFisherMixture:
    def __init__(self, centers, kappa):
        self.M, self.kappa = centers, kappa
        t = np.linspace(0, math.pi, 200001)
        # log of the angle density's shape, shifted by its maximum for stability
        log_shape = kappa * (1 + 2 * np.cos(t)) + np.log(np.maximum(1 - np.cos(t), 1e-300)) - math.log(math.pi)
        m = log_shape.max()
        f = np.exp(log_shape - m)
        cdf = np.concatenate([[0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(t))])
        self.log_c = m + math.log(cdf[-1])
        self.t, self.cdf = t, cdf / cdf[-1]

    def sample(self, n, rng):
        k = rng.integers(0, len(self.M), n)
        angle = np.interp(rng.random(n), self.cdf, self.t)
        axis = rng.normal(size=(n, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        return self.M[k] @ rodrigues(axis, angle)

    def log_prob(self, R):
        tr = np.einsum("kij,nij->nk", self.M, R)  # tr(M_k^T R)
        a = self.kappa * tr - self.log_c - math.log(len(self.M))
        m = a.max(1, keepdims=True)
        return (m + np.log(np.exp(a - m).sum(1, keepdims=True)))[:, 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kappa", type=float, default=8.0)
    ap.add_argument("--n", type=int, default=8000, help="training + validation rows")
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--data-seed", type=int, default=1234, help="seed of the drawn rotations")
    ap.add_argument("--rtol", type=float, default=1e-5, help="dopri5 tolerance (rtol = atol) of the density")
    add_training_arguments(ap, epochs=1000, patience=0, hidden=128, blocks=2, lr=2e-3, seed=1)
    args = ap.parse_args()
    d2 = np.array([np.eye(3), np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1])])
    mix = IsotropicFisherMixture(d2, args.kappa)
    rng = np.random.default_rng(args.data_seed)
    tr, te = mix.sample(args.n, rng), mix.sample(args.test, rng)
    bound = mix.log_prob(te)
    print(f"# data seed {args.data_seed}, training seed {args.seed}; 4 isotropic matrix Fisher components (kappa {args.kappa}) at the D2 rotations; {args.n} training + "
          f"validation rows, {args.test} held-out rows")
    # a check of the normalizer: E_Haar[p] = 1 by Monte Carlo over uniform rotations
    q = rng.normal(size=(200000, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    x, y, z, w = q.T
    U = np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w), 2 * (x * y + z * w),
                  1 - 2 * (x * x + z * z), 2 * (y * z - x * w), 2 * (x * z - y * w), 2 * (y * z + x * w),
                  1 - 2 * (x * x + y * y)], 1).reshape(-1, 3, 3)
    pu = np.exp(mix.log_prob(U))
    print(f"# normalizer check: E_Haar[p] = {pu.mean():.4f} +- {pu.std() / math.sqrt(len(pu)):.4f} (should be 1)")
    with tempfile.TemporaryDirectory() as tmp:
        ptr, pte, model = (os.path.join(tmp, f) for f in ("train.h5", "test.h5", "so3.h5"))
        with h5py.File(ptr, "w") as f:
            f["points"] = tr
        with h5py.File(pte, "w") as f:
            f["points"] = te
        j = orbit("train-flow", ptr, "--manifold", "so3", "--hidden", args.hidden, "--blocks", args.blocks, "--lr",
                  args.lr, "--epochs", args.epochs, "--patience", args.patience, "--val", 0.2, "--seed", args.seed,
                  "-o", model)
        d = orbit("density", model, pte, "--rtol", args.rtol, "--atol", args.rtol)
        rep = j["report"]
    gap = bound.mean() - d["mean_logp"]
    print(f"held-out LL: true density {bound.mean():.4f} +- {bound.std() / math.sqrt(len(bound)):.4f}, rfm "
          f"{d['mean_logp']:.4f} +- {d['stderr_logp']:.4f}; gap {gap:.4f} nats (target <= 0.1: "
          f"{'met' if gap <= 0.1 else 'NOT met'}); {rep['epochs_run']} epochs, {rep['steps_per_second']:.0f} steps/s, "
          f"tools' CPU {os.times().children_user:.0f} s")


if __name__ == "__main__":
    main()
