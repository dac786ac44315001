"""Mesh files for the benches: the OFF reader the flow and registration benches share."""
import numpy as np


def read_off(path):
    """Vertices [V,3] and triangles [F,3] of an OFF file (polygons fanned into triangles)."""
    with open(path) as f:
        tokens = []
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                tokens.extend(line.split())
    assert tokens[0].upper().endswith("OFF")
    nv, nf = int(tokens[1]), int(tokens[2])
    p = 4
    v = np.array(tokens[p:p + 3 * nv], dtype=float).reshape(nv, 3)
    p += 3 * nv
    tris = []
    for _ in range(nf):
        k = int(tokens[p])
        idx = [int(t) for t in tokens[p + 1:p + 1 + k]]
        p += 1 + k
        tris += [(idx[0], idx[i], idx[i + 1]) for i in range(1, k - 1)]
    return v, np.array(tris)
