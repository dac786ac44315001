"""The RPM-Net partial-overlap protocol, shared by the registration benches.

From a raw cloud (centred, in the unit sphere): source and reference are
cropped independently by a random plane through the centroid keeping a
fraction `keep`; the source is moved by Euler angles uniform in [0, 45]
degrees (R = Rx Ry Rz) or a uniform SO(3) rotation, and a translation uniform
in [-0.5, 0.5]^3; both are resampled to 717 points, jittered by N(0, 0.01^2)
clipped to +-0.05 and shuffled. The transform returned is reference ->
source, as orbit-transform stores it.
"""
import numpy as np


def euler(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rx @ ry @ rz


def haar(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def crop(p, keep, rng):
    d = rng.normal(size=3)
    d /= np.linalg.norm(d)
    s = (p - p.mean(0)) @ d
    return p[s > np.percentile(s, (1 - keep) * 100)]


def perturb_pair(raw, keep, so3, rng, points=717, noise=0.01, clip=0.05):
    """(source, reference, 4x4 transform reference -> source) from one raw cloud, all draws from rng."""
    s, r = crop(raw, keep, rng), crop(raw, keep, rng)
    R = haar(rng) if so3 else euler(*rng.uniform(0, np.pi / 4, 3))
    t = rng.uniform(-0.5, 0.5, 3)
    s = s @ R.T + t
    s = s[rng.choice(len(s), points, replace=len(s) < points)]
    r = r[rng.choice(len(r), points, replace=len(r) < points)]
    s = s + np.clip(rng.normal(0, noise, s.shape), -clip, clip)
    r = r + np.clip(rng.normal(0, noise, r.shape), -clip, clip)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return rng.permutation(s), rng.permutation(r), T
