#!/usr/bin/python3
"""Pose distributions of a symmetric shape from registration hypotheses: does
the pipeline find both poses?

For each trial a second sample of the shape (--shape, from $ORBIT_DATA/meshes)
is rotated by a uniform random rotation (orbit-transform --random-rotation
uniform) and registered onto the first with orbit-register --hypotheses; an
SO(3) flow is trained on the hypotheses' rotations, redrawn in proportion to
their scores (orbit-train-flow --manifold so3 --weights --resample), and the
modes of its samples are read off by mean shift (orbit-sample-flow --modes).

The shape's symmetry S is the half turn about one of its principal axes that
maps it onto itself best (Chamfer distance), so the two poses are R and R S
for the true rotation R. Printed per trial: the rotation error of the mode
nearest each pose, that mode's share of the samples, the Chamfer distance of
the source placed by each pose mode against that of the true pose, and
whether both poses are among the modes holding at least --min-mass of the
samples within --tol degrees.

  /usr/bin/python3 bench/flows_pose.py [--shape blade] [--trials 5] [--epochs 60]
"""
import argparse
import os
import sys
import tempfile

import h5py
import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flows_common import DATA, orbit  # noqa: E402


def angle_deg(a, b):
    return float(np.degrees(np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1))))


def half_turn(axis):
    axis = axis / np.linalg.norm(axis)
    return 2 * np.outer(axis, axis) - np.eye(3)


def chamfer(src, tgt, R):
    y = (src - src.mean(0)) @ R.T + tgt.mean(0)
    return cKDTree(tgt).query(y)[0].mean() + cKDTree(y).query(tgt)[0].mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="blade")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--tol", type=float, default=5.0)
    ap.add_argument("--min-mass", type=float, default=0.1)
    args = ap.parse_args()
    found = 0
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda name: os.path.join(tmp, name)  # noqa: E731
        mesh = os.path.join(DATA, "meshes", args.shape + ".off")
        orbit("convert", mesh, "--sample", 2048, "--normalize", "--seed", 1, "-o", p("a.h5"))
        orbit("convert", mesh, "--sample", 2048, "--normalize", "--seed", 2, "-o", p("b.h5"))
        src = h5py.File(p("a.h5"))["points"][...]
        c = src - src.mean(0)
        axes = np.linalg.svd(c, full_matrices=False)[2]
        S = min((half_turn(a) for a in axes), key=lambda H: chamfer(src, src, H))
        print(f"{args.shape}: symmetry = half turn about {np.round(axes[np.argmin([chamfer(src, src, half_turn(a)) for a in axes])], 3)}, "
              f"self-Chamfer {chamfer(src, src, S):.4f} (identity {chamfer(src, src, np.eye(3)):.4f})")
        print(f"{'trial':>5s} {'hyps':>5s} {'modes':>5s}  {'err R':>6s} {'mass':>5s} {'err RS':>6s} {'mass':>5s}"
              f"  {'chamfer true/R/RS':>22s}  both")
        for k in range(args.trials):
            orbit("transform", p("b.h5"), "--random-rotation", "uniform", "--seed", 100 + k, "-o", p("t.h5"))
            tgt = h5py.File(p("t.h5"))["points"][...]
            R = h5py.File(p("t.h5"))["transform"][...][:3, :3]
            orbit("register", p("a.h5"), p("t.h5"), "--hypotheses", p("h.h5"), "-o", p("r.h5"))
            nh = h5py.File(p("h.h5"))["scores"].shape[0]
            orbit("train-flow", p("h.h5") + ":/rotations", "--manifold", "so3", "--weights", p("h.h5") + ":/scores",
                  "--resample", 4000, "--hidden", 64, "--epochs", args.epochs, "--lr", 3e-3, "--seed", 1, "-o",
                  p("pose.h5"))
            j = orbit("sample-flow", p("pose.h5"), "-n", args.samples, "--seed", 2, "--modes", p("m.h5"), "-o",
                      p("s.h5"))
            modes = [(np.array(m["rotation"]).reshape(3, 3), m["mass"]) for m in j["modes"]]
            row = []
            for pose in (R, R @ S):
                M, mass = min(modes, key=lambda m: angle_deg(m[0], pose))
                row.append((angle_deg(M, pose), mass, chamfer(src, tgt, M)))
            both = all(e < args.tol and m >= args.min_mass for e, m, _ in row)
            found += both
            print(f"{k:5d} {nh:5d} {len(modes):5d}  {row[0][0]:6.2f} {row[0][1]:5.2f} {row[1][0]:6.2f} {row[1][1]:5.2f}"
                  f"  {chamfer(src, tgt, R):.4f}/{row[0][2]:.4f}/{row[1][2]:.4f}  {'yes' if both else 'no'}",
                  flush=True)
    print(f"both poses found in {found} of {args.trials} trials")


if __name__ == "__main__":
    main()
