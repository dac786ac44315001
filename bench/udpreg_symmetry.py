#!/usr/bin/python3
"""Recall up to a shape's own symmetries, from a finished udpreg_bench.py run.

A pose that differs from the ground truth by a rigid motion mapping the
whole shape onto itself (the half turn of a symmetric part) explains the two
clouds as well as the true pose does; the bench's recall counts it as a
failure. This script reads a bench --out folder (pairs_*.h5, each method's
output, the dense clouds of the meshes) and prints, per setting and method,
the bench's recall, the recall when such poses also count, and per mesh the
failures that are symmetries.

A failing estimate `est` (source -> reference) of a pair with ground truth
`gt` (reference -> source) gives D = est gt, a motion of the reference
frame, which is the mesh's own frame (the reference is a crop of the mesh's
points, unmoved). D is a symmetry of the mesh when the 20000 dense surface
points moved by D lie on average within --tol of the nearest original
point (the bench's noise is 0.01 on a shape in the unit sphere; a correct
pose gives about 0.003).

usage: bench/udpreg_symmetry.py RUN_DIR [--tol 0.01]
"""
import argparse
import glob
import os
import re

import h5py
import numpy as np
from scipy.spatial import cKDTree

here = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="the --out folder of bench/udpreg_bench.py")
    ap.add_argument("--tol", type=float, default=0.01, help="mean nearest-neighbour distance of a symmetry")
    ap.add_argument("--shapes", default=None, help="the bench's --shapes, when it was given (else the reserved meshes)")
    a = ap.parse_args()
    names = a.shapes.split(",") if a.shapes else [
        l.strip() for l in open(os.path.join(here, "..", "share", "orbit", "data", "eval-shapes.txt"))
        if l.strip() and not l.startswith("#")]
    names = [n for n in names if os.path.exists(os.path.join(a.run, n + ".h5"))]  # the bench's order, as it ran
    if not names:
        raise SystemExit(f"no dense clouds of the meshes in {a.run}: is it a udpreg_bench.py --out folder?")
    clouds = {n: h5py.File(os.path.join(a.run, n + ".h5"), "r")["points"][:] for n in names}
    trees = {n: cKDTree(x) for n, x in clouds.items()}
    settings = sorted({re.match(r"pairs_(.+)_\d+\.h5$", os.path.basename(p)).group(1)
                       for p in glob.glob(os.path.join(a.run, "pairs_*_*.h5")) if re.match(r"pairs_(.+)_\d+\.h5$", os.path.basename(p))})
    print(f"{a.run}: {len(names)} meshes; a failure counts as a symmetry when the mesh moved by the pose error "
          f"lies within {a.tol} of itself (mean nearest-neighbour distance)")
    for key in settings:
        pairs = sorted(glob.glob(os.path.join(a.run, f"pairs_{key}_*.h5")))
        pairs = [p for p in pairs if re.match(rf"pairs_{re.escape(key)}_\d+\.h5$", os.path.basename(p))]
        methods = sorted({os.path.basename(o)[len(os.path.basename(p)) - 2:-3]
                          for p in pairs for o in glob.glob(p[:-3] + ".*.h5")})
        print(f"\n== {key} ({len(pairs)} seed bases) ==")
        print(f"{'method':14s} {'recall':>7s} {'up to symmetry':>15s}   symmetric failures by mesh")
        for m in methods:
            ok = sym = total = 0
            by_mesh = {}
            for p in pairs:
                out = p[:-3] + "." + m + ".h5"
                if not os.path.exists(out):
                    continue
                with h5py.File(p, "r") as f, h5py.File(out, "r") as o:
                    gt, est = f["transform"][:], o["transform"][:]
                    good = (o["rre_deg"][:] < 5) & (o["rte"][:] < 0.1)
                for i in range(len(good)):
                    total += 1
                    if good[i]:
                        ok += 1
                        continue
                    n = names[i % len(names)]
                    D = est[i] @ gt[i]
                    moved = clouds[n] @ D[:3, :3].T + D[:3, 3]
                    if trees[n].query(moved)[0].mean() <= a.tol:
                        sym += 1
                        by_mesh[n] = by_mesh.get(n, 0) + 1
            if total:
                detail = " ".join(f"{n}:{c}" for n, c in sorted(by_mesh.items(), key=lambda x: -x[1]))
                print(f"{m:14s} {ok / total:7.3f} {(ok + sym) / total:15.3f}   {detail}")


if __name__ == "__main__":
    main()
