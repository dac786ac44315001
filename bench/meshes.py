"""Mesh files for the benches: the OFF reader the flow and registration benches share."""
import numpy as np


def read_off(path):
    """Vertices [V,3] and triangles [F,3] of an OFF file (polygons fanned into triangles).

    Line-based, so that the variants with per-vertex or per-face extras (COFF,
    NOFF: colours or normals after the coordinates, colours after a face's
    indices) read as plain OFF: only the first 3 numbers of a vertex line and
    the k indices after a face's count are used.
    """
    with open(path) as f:
        lines = [ln.split("#")[0].split() for ln in f]
    lines = [t for t in lines if t]
    head = lines[0]
    assert head[0].upper().endswith("OFF"), path + " is not an OFF file"
    counts = head[1:] if len(head) > 1 else lines[1]
    body = lines[1:] if len(head) > 1 else lines[2:]
    nv, nf = int(counts[0]), int(counts[1])
    v = np.array([[float(x) for x in t[:3]] for t in body[:nv]])
    tris = []
    for t in body[nv:nv + nf]:
        k = int(t[0])
        idx = [int(x) for x in t[1:1 + k]]
        tris += [(idx[0], idx[i], idx[i + 1]) for i in range(1, k - 1)]
    return v, np.array(tris)
