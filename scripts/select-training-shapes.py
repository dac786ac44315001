#!/usr/bin/env python3
"""Lists the meshes of a folder that learned registration may train on.

Usage: select-training-shapes.py MESH_DIR EVAL_LIST > train-shapes.txt

A mesh is kept when it is
  - not reserved: its name contains none of the evaluation names;
  - closed: every edge is shared by exactly two faces (no border, no
    non-manifold edge), so a sampled cloud has no open rims or flaps;
  - non-degenerate: at least 200 vertices and 100 faces, all face indices
    valid, and its bounding box is not flat (the smallest side is at least
    5% of the largest), so that the cloud fixes a rotation;
  - connected enough: it is one piece or a few (at most 3 components), so
    the shape is one object and not a scatter of parts;
  - not round: the principal second moments of its vertices are not all
    within 10% of each other (a sphere's pose cannot be recovered, and
    pairs of it would teach nothing).
Only OFF files are read (the CGAL meshes are OFF); the reason for every
rejection goes to stderr.
"""
import os
import sys


def read_off(path):
    with open(path, "r", errors="replace") as f:
        toks = []
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                toks.extend(line.split())
    if not toks:
        raise ValueError("empty")
    head = toks[0]
    i = 1
    if not head.endswith("OFF"):
        if head.startswith("OFF") and len(head) > 3:  # 'OFF' glued to counts never happens in practice
            raise ValueError("bad header")
        raise ValueError("not an OFF file")
    nv, nf = int(toks[i]), int(toks[i + 1])
    i += 3
    colour = "C" in head
    normals = "N" in head
    per_vertex = 3 + (3 if normals else 0) + (4 if colour else 0)
    verts = []
    for _ in range(nv):
        verts.append(tuple(float(t) for t in toks[i:i + 3]))
        i += per_vertex
    faces = []
    for _ in range(nf):
        k = int(toks[i])
        faces.append([int(t) for t in toks[i + 1:i + 1 + k]])
        i += 1 + k
        # skip optional face colours up to the next face: counts are small ints
        while i < len(toks) and len(faces) < nf and "." in toks[i]:
            i += 1
    return verts, faces


def reason_to_reject(path):
    verts, faces = read_off(path)
    if len(verts) < 200 or len(faces) < 100:
        return f"too small ({len(verts)} vertices, {len(faces)} faces)"
    n = len(verts)
    edges = {}
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for f in faces:
        if len(f) < 3 or any(v < 0 or v >= n for v in f):
            return "invalid face"
        for a, b in zip(f, f[1:] + f[:1]):
            e = (a, b) if a < b else (b, a)
            edges[e] = edges.get(e, 0) + 1
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    bad = sum(1 for c in edges.values() if c != 2)
    if bad:
        return f"not closed ({bad} edges not shared by exactly two faces)"
    used = {v for f in faces for v in f}
    comps = len({find(v) for v in used})
    if comps > 3:
        return f"{comps} separate pieces"
    lo = [min(v[d] for v in verts) for d in range(3)]
    hi = [max(v[d] for v in verts) for d in range(3)]
    ext = sorted(h - l for h, l in zip(hi, lo))
    if ext[2] <= 0 or ext[0] < 0.05 * ext[2]:
        return "flat"
    c = [sum(v[d] for v in verts) / n for d in range(3)]
    m = [[sum((v[a] - c[a]) * (v[b] - c[b]) for v in verts) / n for b in range(3)] for a in range(3)]
    ev = sorted(eigenvalues_sym3(m))
    if ev[2] <= 0 or ev[0] >= 0.9 * ev[2]:
        return "round (principal moments within 10%)"
    return None


def eigenvalues_sym3(m):
    """Eigenvalues of a symmetric 3x3 matrix (closed form, trigonometric)."""
    import math
    p1 = m[0][1] ** 2 + m[0][2] ** 2 + m[1][2] ** 2
    q = (m[0][0] + m[1][1] + m[2][2]) / 3
    if p1 == 0:
        return [m[0][0], m[1][1], m[2][2]]
    p2 = sum((m[i][i] - q) ** 2 for i in range(3)) + 2 * p1
    p = math.sqrt(p2 / 6)
    b = [[(m[i][j] - (q if i == j else 0)) / p for j in range(3)] for i in range(3)]
    det = (b[0][0] * (b[1][1] * b[2][2] - b[1][2] * b[2][1]) - b[0][1] * (b[1][0] * b[2][2] - b[1][2] * b[2][0]) +
           b[0][2] * (b[1][0] * b[2][1] - b[1][1] * b[2][0]))
    r = max(-1.0, min(1.0, det / 2))
    phi = math.acos(r) / 3
    e1 = q + 2 * p * math.cos(phi)
    e3 = q + 2 * p * math.cos(phi + 2 * math.pi / 3)
    return [e1, 3 * q - e1 - e3, e3]


def main():
    mesh_dir, eval_list = sys.argv[1], sys.argv[2]
    reserved = [l.strip() for l in open(eval_list) if l.strip() and not l.startswith("#")]
    for name in sorted(os.listdir(mesh_dir)):
        stem, ext = os.path.splitext(name)
        if ext != ".off":
            continue
        hit = [r for r in reserved if r.lower() in stem.lower()]
        if hit:
            print(f"{stem}: reserved for evaluation ({hit[0]})", file=sys.stderr)
            continue
        try:
            why = reason_to_reject(os.path.join(mesh_dir, name))
        except (ValueError, IndexError) as e:
            why = f"unreadable ({e})"
        if why:
            print(f"{stem}: {why}", file=sys.stderr)
        else:
            print(stem)


if __name__ == "__main__":
    main()
