#!/usr/bin/python3
"""OT-CFM against I-CFM with orbit's own tools: flow-matching loss and sample
quality against the number of Euler steps.

For each 2-D toy set (checkerboard, moons, 8 Gaussians; 20000 training rows,
fixed seeds) both models are trained with the same recipe and seed; then
samples are drawn with 1, 2, 4, 8, 16, 32 Euler steps and with dopri5, and
their exact squared 2-Wasserstein distance to 2000 held-out rows is computed
with POT (ot.emd2). Straighter paths (OT-CFM) should reach a given W2 with
fewer steps, and their flow-matching loss is lower because the pairs carry
less crossing.

  /usr/bin/python3 bench/flows_cfm.py [--epochs 10] [--hidden 256]
"""
import argparse
import os
import sys
import tempfile

import h5py
import numpy as np
import ot

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flows_common import orbit as tool  # noqa: E402
from flows_vs_torch import checkerboard, moons, eight_gaussians  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--coupling", default="exact")
    args = ap.parse_args()
    steps = [1, 2, 4, 8, 16, 32]
    print(f"# CFM vs OT-CFM ({args.coupling}): hidden {args.hidden}, 2 residual blocks, batch 256, lr 1e-3 cosine, "
          f"{args.epochs} epochs on 20000 rows; W2^2 to 2000 held-out rows (exact OT)")
    print(f"{'data':14s} {'model':7s} {'val FM loss':>11s} " + " ".join(f"{'euler' + str(s):>8s}" for s in steps) +
          f" {'dopri5':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in [("checkerboard", checkerboard), ("moons", moons), ("8gaussians", eight_gaussians)]:
            rng = np.random.default_rng(1234)
            train, test = fn(20000, rng), fn(2000, rng)
            data = os.path.join(tmp, name + ".h5")
            with h5py.File(data, "w") as f:
                f["points"] = train
            for kind in ("cfm", "ot-cfm"):
                model = os.path.join(tmp, f"{name}-{kind}.h5")
                extra = ["--coupling", args.coupling] if kind == "ot-cfm" else []
                rep = tool("train-flow", data, "--model", kind, *extra, "--hidden", args.hidden, "--epochs",
                           args.epochs, "--seed", 1, "-o", model)["report"]
                w2 = []
                for ode in [("euler", s) for s in steps] + [("dopri5", 0)]:
                    out = os.path.join(tmp, "s.h5")
                    opts = ["--ode", ode[0]] + (["--steps", ode[1]] if ode[1] else [])
                    tool("sample-flow", model, "-n", 2000, "--seed", 7, *opts, "-o", out)
                    with h5py.File(out) as f:
                        s = f["points"][...]
                    w2.append(ot.emd2([], [], ot.dist(s, test)))
                print(f"{name:14s} {kind:7s} {rep['final_val_loss']:11.4f} " + " ".join(f"{v:8.4f}" for v in w2),
                      flush=True)


if __name__ == "__main__":
    main()
