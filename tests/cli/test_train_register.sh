#!/bin/bash
# orbit-train-register: a tiny model trains in seconds, its losses fall, it
# registers a seeded pair through orbit-register; -j and resume give the same
# bits; bad input is refused with one line.
. "$(dirname "$0")/lib.sh"

# Three bumpy closed shapes (no symmetry) as a batch [3,1200,3], and a pair of crops of a fourth.
py '
import numpy as np, h5py
def shape(rng, n, a, b):
    u = rng.normal(size=(n, 3)); u /= np.linalg.norm(u, axis=1, keepdims=True)
    r = 1 + 0.25*np.sin(a*u[:,0]+1)*np.cos(b*u[:,1]) + 0.15*u[:,2]**2*u[:,0] + 0.1*u[:,1]
    return u * r[:, None]
rng = np.random.default_rng(1)
with h5py.File("train.h5", "w") as f:
    f["points"] = np.stack([shape(rng, 1200, 3 + k, 2 + k) for k in range(3)])
with h5py.File("shape.h5", "w") as f:
    f["points"] = shape(rng, 1500, 3.5, 2.5)
'
orbit-transform shape.h5 --crop 0.7 --seed 2 --resample 400 --noise 0.01 -o ref.h5 -q
orbit-transform shape.h5 --random-rotation 45 --random-translation 0.5 --crop 0.7 --noise 0.01 --resample 400 --seed 3 -o src.h5 -q

tiny=(--epochs 4 --warmup 1 --pairs 8 --batch 4 --passes 2 --points 300 --val-pairs 4 --seed 1)
arch=(--hidden 32 --features 16 --components 8)
orbit-train-register train.h5 "${tiny[@]}" "${arch[@]}" -o model.h5 -j 2 --json > train.json
py '
import json
j = json.load(open("train.json"))
h = j["history"]
assert len(h["train_loss"]) == 4, h
assert h["train_self"][-1] < h["train_self"][0], h["train_self"]
assert h["train_loss"][-1] < h["train_loss"][0], h["train_loss"]
assert h["val_self"][-1] < h["val_self"][0], h["val_self"]
assert all(0 <= r <= 1 for r in h["val_recall"]), h["val_recall"]
assert j["recipe"]["protocol"]["points"] == 300
print("losses fall:", h["train_loss"][0], "->", h["train_loss"][-1])
'
# Same bits with one thread, and when resumed after two epochs.
orbit-train-register train.h5 "${tiny[@]}" "${arch[@]}" -o model1.h5 -j 1 -q
orbit-train-register train.h5 "${tiny[@]}" "${arch[@]}" --stop-after 2 -o half.h5 -j 2 -q
orbit-train-register train.h5 "${tiny[@]}" --resume half.h5 -o resumed.h5 -j 2 -q
py '
import h5py, numpy as np
def w(p):
    f = h5py.File(p); g = f["model/weights"]
    return {k: g[k][:] for k in g}
a, b, c = w("model.h5"), w("model1.h5"), w("resumed.h5")
for k in a:
    assert np.array_equal(a[k], b[k]), k
    assert np.array_equal(a[k], c[k]), k
'
# The model in orbit-register: udpreg and auto.
orbit-register src.h5 ref.h5 --method udpreg --model model.h5 --ground-truth src.h5:/transform -o T.h5 --json > reg.json
orbit-register src.h5 ref.h5 --method auto --model model.h5 --ground-truth src.h5:/transform -o T2.h5 --json > auto.json
py '
import json
for name in ("reg.json", "auto.json"):
    j = json.load(open(name))
    assert "recall" in j and "rre_deg" in j, j
j = json.load(open("auto.json"))
assert j["recall"]["value"] == 1.0, j["rre_deg"]
print("udpreg recall", json.load(open("reg.json"))["recall"]["value"], "auto with the model", j["recall"]["value"])
'
# Bad input: one line, right exit code.
expect_error 2 orbit-register src.h5 ref.h5 --method udpreg -o x.h5
expect_error 2 orbit-register src.h5 ref.h5 --method icp --model model.h5 -o x.h5
expect_error 1 orbit-register src.h5 ref.h5 --method udpreg --model train.h5 -o x.h5
expect_error 2 orbit-train-register train.h5 --rotation sideways -o m.h5
expect_error 2 orbit-train-register train.h5 --resume model.h5 --hidden 8 -o m.h5
py 'import h5py, numpy as np; h5py.File("few.h5", "w")["points"] = np.random.default_rng(0).normal(size=(10, 3))'
expect_error 1 orbit-train-register few.h5 -o m.h5
[[ ! -e m.h5 ]] || fail "a failed run left an output"
echo ok
