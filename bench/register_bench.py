#!/usr/bin/python3
"""orbit-register against Open3D 0.16 on the RPM-Net partial-overlap protocol.

Pairs are built here with numpy (one seeded generator per pair index) from the
real meshes in $ORBIT_DATA/meshes: 2048 points sampled on the surface
(area-weighted), centred and scaled into the unit sphere; source and reference
are cropped independently by a random plane through the centroid keeping a
fraction (0.7 or 0.5); the source is moved by Euler angles uniform in
[0, 45] degrees (R = Rx Ry Rz) or by a uniform SO(3) rotation, and a translation
uniform in [-0.5, 0.5]^3; both are resampled to 717 points, jittered by
N(0, 0.01^2) clipped to +-0.05 and shuffled. /transform stores the motion
reference -> source, as orbit-transform does.

Every method sees exactly the same pairs. Printed per method: recall
(RRE < 5 deg and RTE < 0.1), median RRE, median RTE, median seconds per pair,
and ratios against Open3D's RANSAC pipeline.

usage: bench/register_bench.py [--pairs 100] [--orbit build/bin/orbit-register] [--settings 70,50,so3]
                               [--methods auto,icp,icp-plane] [--seed-base 0] [--no-open3d]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

# One thread for Open3D as for orbit (-j 1): its OpenMP pool on a shared
# machine made plain ICP 10 to 50 times slower from run to run.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meshes import read_off  # noqa: E402
from rpmnet_pairs import perturb_pair  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--pairs", type=int, default=100)
ap.add_argument("--orbit", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "orbit-register"))
ap.add_argument("--data", default=os.environ.get("ORBIT_DATA", os.path.join(os.path.dirname(__file__), "..", ".cache", "data")))
ap.add_argument("--settings", default="70,50,so3")
ap.add_argument("--methods", default="auto,global,gmm-ot,icp,icp-plane,cpd")
ap.add_argument("--no-open3d", action="store_true")
ap.add_argument("--workdir", default=None)
ap.add_argument("--seed-base", type=int, default=0,
                help="pair seeds are (SEED_BASE + 1, 2, 3 for 70, 50, so3; pair index); a different base gives fresh pairs")
ap.add_argument("--extra", default="", help="extra orbit-register options, e.g. '--candidates 24'")
args = ap.parse_args()


def sample_surface(v, f, n, rng):
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    tri = rng.choice(len(f), size=n, p=area / area.sum())
    u, w = rng.random(n), rng.random(n)
    flip = u + w > 1
    u[flip], w[flip] = 1 - u[flip], 1 - w[flip]
    p = a[tri] + u[:, None] * (b[tri] - a[tri]) + w[:, None] * (c[tri] - a[tri])
    p -= p.mean(0)
    return p / np.linalg.norm(p, axis=1).max()


def make_pairs(meshes, count, keep, so3, seed0):
    src, ref, gt, clean = [], [], [], []
    for i in range(count):
        rng = np.random.default_rng([seed0, i])
        v, f = meshes[i % len(meshes)]
        raw = sample_surface(v, f, 2048, rng)
        s, r, T = perturb_pair(raw, keep, so3, rng)
        src.append(s)
        ref.append(r)
        gt.append(T)
        clean.append(raw)
    return np.array(src), np.array(ref), np.array(gt), np.array(clean)


def errors(est, gt_ref_to_src):
    g = np.linalg.inv(gt_ref_to_src)  # source -> reference
    c = np.clip((np.trace(g[:3, :3].T @ est[:3, :3]) - 1) / 2, -1, 1)
    return np.degrees(np.arccos(c)), np.linalg.norm(est[:3, 3] - g[:3, 3])


def run_orbit(pairs_file, method, n):
    out = pairs_file.replace(".h5", f".{method}.h5")
    cmd = [args.orbit, f"{pairs_file}:/src", f"{pairs_file}:/ref", "--method", method, "-j", "1", "-q",
           "--ground-truth", f"{pairs_file}:/transform", "-o", out, "--json"] + args.extra.split()
    t0 = time.time()
    s = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if s.returncode != 0:
        print("orbit-register failed:", s.stderr.strip(), file=sys.stderr)
        return None
    with h5py.File(out, "r") as f:
        return dict(rre=f["rre_deg"][:], rte=f["rte"][:], sec=f["seconds"][:], wall=wall / n)


def run_open3d(src, ref, gt, which):
    import open3d as o3d
    try:
        o3d.utility.random.seed(0)
    except Exception:
        pass
    voxel = 0.05
    rre, rte, sec = [], [], []
    reg = o3d.pipelines.registration
    for s, r, g in zip(src, ref, gt):
        ps, pr = o3d.geometry.PointCloud(), o3d.geometry.PointCloud()
        ps.points, pr.points = o3d.utility.Vector3dVector(s), o3d.utility.Vector3dVector(r)
        t0 = time.perf_counter()
        if which == "icp":
            res = reg.registration_icp(ps, pr, 0.1, np.eye(4), reg.TransformationEstimationPointToPoint(),
                                       reg.ICPConvergenceCriteria(max_iteration=60))
            T = res.transformation
        else:
            for p in (ps, pr):
                p.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2 * voxel, max_nn=30))
            fs = reg.compute_fpfh_feature(ps, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * voxel, max_nn=100))
            fr = reg.compute_fpfh_feature(pr, o3d.geometry.KDTreeSearchParamHybrid(radius=5 * voxel, max_nn=100))
            d = 1.5 * voxel
            if which == "ransac":
                res = reg.registration_ransac_based_on_feature_matching(
                    ps, pr, fs, fr, True, d, reg.TransformationEstimationPointToPoint(False), 3,
                    [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), reg.CorrespondenceCheckerBasedOnDistance(d)],
                    reg.RANSACConvergenceCriteria(100000, 0.999))
            else:
                res = reg.registration_fgr_based_on_feature_matching(
                    ps, pr, fs, fr, reg.FastGlobalRegistrationOption(maximum_correspondence_distance=0.5 * voxel))
            res = reg.registration_icp(ps, pr, 0.4 * voxel * 2, res.transformation,
                                       reg.TransformationEstimationPointToPlane(),
                                       reg.ICPConvergenceCriteria(max_iteration=60))
            T = res.transformation
        sec.append(time.perf_counter() - t0)
        a, b = errors(np.asarray(T), g)
        rre.append(a)
        rte.append(b)
    return dict(rre=np.array(rre), rte=np.array(rte), sec=np.array(sec))


def summary(name, r):
    ok = (r["rre"] < 5) & (r["rte"] < 0.1)
    return dict(name=name, recall=ok.mean(), rre=np.median(r["rre"]), rte=np.median(r["rte"]), sec=np.median(r["sec"]))


meshes = [read_off(p) for p in sorted(glob.glob(os.path.join(args.data, "meshes", "*.off")))]
if not meshes:
    sys.exit(f"no meshes under {args.data}/meshes (run make data)")
work = args.workdir or tempfile.mkdtemp(prefix="orbit-bench-")
os.makedirs(work, exist_ok=True)
settings = {"70": (0.7, False), "50": (0.5, False), "so3": (0.7, True)}
all_rows = {}
for key in args.settings.split(","):
    keep, so3 = settings[key]
    label = f"{int(keep * 100)}% overlap, " + ("uniform SO(3)" if so3 else "Euler <= 45 deg")
    src, ref, gt, clean = make_pairs(meshes, args.pairs, keep, so3, args.seed_base + {"70": 1, "50": 2, "so3": 3}[key])
    pf = os.path.join(work, f"pairs_{key}.h5")
    with h5py.File(pf, "w") as f:
        f["src"], f["ref"], f["transform"] = src, ref, gt
    rows, raw = [], {}
    for m in args.methods.split(","):
        r = run_orbit(pf, m, args.pairs)
        if r is not None:
            rows.append(summary(f"orbit {m}", r))
            raw[f"orbit {m}"] = r
    if not args.no_open3d:
        for which, name in (("ransac", "open3d fpfh+ransac+icp"), ("fgr", "open3d fgr+icp"), ("icp", "open3d icp")):
            raw[name] = run_open3d(src, ref, gt, which)
            rows.append(summary(name, raw[name]))
    base = next((x for x in rows if x["name"] == "open3d fpfh+ransac+icp"), None)
    print(f"\n== {label}: {args.pairs} pairs, 717 points, noise 0.01 clipped 0.05 ==")
    print(f"{'method':26s} {'recall':>7s} {'med RRE':>9s} {'med RTE':>9s} {'med s/pair':>11s} {'time/o3d-ransac':>16s} {'recall-o3d':>11s}")
    for x in rows:
        ratio = x["sec"] / base["sec"] if base else float("nan")
        dr = x["recall"] - base["recall"] if base else float("nan")
        print(f"{x['name']:26s} {x['recall']:7.3f} {x['rre']:9.3f} {x['rte']:9.4f} {x['sec']:11.4f} {ratio:16.3f} {dr:+11.3f}")
    for m in ("icp", "icp-plane"):
        if f"orbit {m}" not in raw or "open3d icp" not in raw:
            continue
        a, b = raw[f"orbit {m}"], raw["open3d icp"]
        solved = (b["rre"] < 5) & (b["rte"] < 0.1)
        if solved.any():
            ok = (a["rre"][solved] < 5) & (a["rte"][solved] < 0.1)
            print(f"on the {solved.sum()} pairs Open3D's ICP solves: orbit {m} solves {ok.mean():.3f}, median RRE "
                  f"{np.median(a['rre'][solved]):.3f} vs {np.median(b['rre'][solved]):.3f} deg, RTE "
                  f"{np.median(a['rte'][solved]):.4f} vs {np.median(b['rte'][solved]):.4f}, seconds "
                  f"{np.median(a['sec'][solved]):.4f} vs {np.median(b['sec'][solved]):.4f}")
    all_rows[key] = rows
    np.savez(os.path.join(work, f"raw_{key}.npz"),
             **{f"{name}|{k}": v for name, r in raw.items() for k, v in r.items() if k != "wall"})
with open(os.path.join(work, "results.json"), "w") as f:
    json.dump(all_rows, f, indent=1, default=float)
print(f"\nresults: {os.path.join(work, 'results.json')}")
