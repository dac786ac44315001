"""What the flow benches share: where the tools and the data are, one call of
an orbit tool with its JSON summary, and points and normals of OFF meshes."""
import json
import os
import subprocess
import time

import numpy as np

from meshes import read_off  # noqa: F401  (re-exported for the flow benches)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("ORBIT_BIN", os.path.join(ROOT, "build", "bin"))
DATA = os.environ.get("ORBIT_DATA", os.path.join(ROOT, ".cache", "data"))


def orbit_timed(tool, *args):
    """Runs orbit-<tool> quietly with --json; returns its summary and the wall-clock seconds."""
    t0 = time.perf_counter()
    r = subprocess.run([os.path.join(BIN, "orbit-" + tool), *map(str, args), "-q", "--json"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise SystemExit(f"orbit-{tool} failed: {r.stderr}")
    return (json.loads(r.stdout) if r.stdout.strip() else {}), time.perf_counter() - t0


def orbit(tool, *args):
    return orbit_timed(tool, *args)[0]


def face_areas(v, f):
    """Cross products of the triangles' edges (twice the area times the normal) and the areas' doubles."""
    c = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return c, np.linalg.norm(c, axis=1)


def surface_points(v, f, n, rng):
    """n points uniform on the surface (faces drawn by area, barycentric coordinates uniform)."""
    _, area = face_areas(v, f)
    idx = rng.choice(len(f), size=n, p=area / area.sum())
    a, b = rng.random(n), rng.random(n)
    flip = a + b > 1
    a[flip], b[flip] = 1 - a[flip], 1 - b[flip]
    t = v[f[idx]]
    return t[:, 0] + a[:, None] * (t[:, 1] - t[:, 0]) + b[:, None] * (t[:, 2] - t[:, 0])


def add_training_arguments(ap, **defaults):
    """The training flags the flow benches share (--epochs, --hidden, ...), each with this bench's default."""
    kinds = {"epochs": int, "layers": int, "hidden": int, "blocks": int, "bins": int, "batch": int, "lr": float,
             "patience": int, "seed": int}
    for name, default in defaults.items():
        ap.add_argument("--" + name, type=kinds[name], default=default)
