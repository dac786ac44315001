#!/usr/bin/env bash
# Streams, history, atomic outputs and one-line errors across the foundation tools.
. "$(dirname "$0")/lib.sh"

normal_points cloud.h5 5000,3
py '
import numpy as np, h5py
with h5py.File("batch.h5", "w") as f:
    f["data"] = np.random.default_rng(1).normal(size=(6, 512, 3)).astype("float32")   # a ModelNet-style foreign file
    f["label"] = np.arange(6)
'

# A pipeline of three tools through "-" and the history it leaves.
orbit-transform cloud.h5 --crop 0.7 --seed 4 -o - | orbit-transform - --random-rotation 180 --seed 5 -o - \
  | orbit-transform - --resample 100 --seed 6 -o piped.h5
orbit-info piped.h5 --json > info.json
py '
import json
j = json.load(open("info.json"))
assert j["kind"] == "pointset", j
assert len(j["history"]) == 3, j["history"]
assert "--crop 0.7" in j["history"][0] and "--resample 100" in j["history"][2]
shapes = {d["path"]: d["shape"] for d in j["datasets"]}
assert shapes["/points"] == [100, 3], shapes
'
orbit-transform cloud.h5 --crop 0.5 --seed 1 -o - | orbit-info - | grep '/points  \[2500,3\]' >/dev/null || fail "stream into orbit-info"

# The same seed gives the same output for any thread count; shards merge back to the whole.
orbit-transform batch.h5:/data --random-rotation uniform --crop 0.7 --noise 0.01 --seed 3 -j 1 -o one.h5 -q
orbit-transform batch.h5:/data --random-rotation uniform --crop 0.7 --noise 0.01 --seed 3 -j 2 -o two.h5 -q
for k in 1 2 3; do
  orbit-transform batch.h5:/data --random-rotation uniform --crop 0.7 --noise 0.01 --seed 3 --shard $k/3 -o part$k.h5 -q
done
orbit-merge part2.h5 part3.h5 part1.h5 -o merged.h5 -q
py '
import h5py, numpy as np
a, b, m = h5py.File("one.h5"), h5py.File("two.h5"), h5py.File("merged.h5")
for k in ("points", "transform", "indices"):
    assert np.array_equal(a[k][:], b[k][:]), k
    assert np.array_equal(a[k][:], m[k][:]), k
assert a["points"].shape == (6, 358, 3)
# The stored transform maps input rows (by /indices) onto the output, up to the clipped noise.
src = h5py.File("batch.h5")["data"][:].astype(float)
T, idx, out = a["transform"][:], a["indices"][:], a["points"][:]
for i in range(6):
    moved = src[i][idx[i]] @ T[i, :3, :3].T + T[i, :3, 3]
    assert np.abs(moved - out[i]).max() <= 0.05 + 1e-12
'
expect_error 1 orbit-merge part1.h5 part2.h5 -o bad.h5
expect_error 1 orbit-merge part1.h5 part1.h5 part2.h5 part3.h5 -o bad.h5
[[ ! -e bad.h5 ]] || fail "a failed merge left an output"

# Bad inputs: one line on stderr, exit 1, no output file.
: > empty.h5
echo "just text" > text.h5
head -c 3000 cloud.h5 > truncated.h5
py '
import h5py, numpy as np
with h5py.File("nan.h5", "w") as f:
    p = np.zeros((10, 3)); p[3, 1] = np.nan; f["points"] = p
with h5py.File("rank.h5", "w") as f:
    f["points"] = np.zeros(10)
with h5py.File("strings.h5", "w") as f:
    f["points"] = np.array([b"a", b"b"])
with h5py.File("emptyset.h5", "w") as f:
    f["points"] = np.zeros((0, 3))
with h5py.File("nopoints.h5", "w") as f:
    f["other"] = np.zeros((4, 3))
'
for f in empty.h5 text.h5 truncated.h5 nan.h5 rank.h5 strings.h5 emptyset.h5 nopoints.h5 missing.h5; do
  code=1; [[ $f == missing.h5 ]] && code=2   # a missing file is caught by the option validator
  expect_error $code orbit-transform $f --crop 0.5 -o out.h5
  [[ ! -e out.h5 ]] || fail "$f: partial output left behind"
done
expect_error 1 orbit-transform cloud.h5:/nothing -o out.h5
expect_error 1 orbit-info truncated.h5
expect_error 2 orbit-transform cloud.h5 --crop 1.5 -o out.h5
expect_error 2 orbit-transform cloud.h5 --random-rotation sideways -o out.h5
expect_error 2 orbit-transform cloud.h5 --shard 4/3 -o out.h5
expect_error 2 orbit-transform cloud.h5 --no-such-option -o out.h5
expect_error 1 orbit-transform cloud.h5 -o no/such/folder/out.h5
expect_error 1 orbit-transform - -o out.h5 < /dev/null

# Atomic output under SIGTERM: a slow job killed mid-way leaves nothing behind.
py '
import numpy as np, h5py
with h5py.File("big.h5", "w") as f:
    f["points"] = np.random.default_rng(1).normal(size=(1000, 2000, 3))
'
orbit-transform big.h5 --random-rotation uniform --crop 0.3 --resample 8000 --noise 0.01 -j 1 -o killed.h5 -q &
pid=$!
# Wait until the temporary output exists (the tool opens it before the work), then stop the tool.
for _ in $(seq 500); do
  compgen -G '.killed.h5.tmp-*' >/dev/null && break
  sleep 0.01
done
compgen -G '.killed.h5.tmp-*' >/dev/null || fail "the temporary output never appeared"
kill -TERM $pid 2>/dev/null || true
wait $pid || true
[[ ! -e killed.h5 ]] || fail "SIGTERM left killed.h5"
ls -a | grep -q '\.killed\.h5\.tmp' && fail "SIGTERM left a temporary file"

# Refusing to write binary to a terminal (run under a pseudo-terminal).
py '
import os, pty, subprocess, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp("orbit-transform", ["orbit-transform", "cloud.h5", "-o", "-"])
out = b""
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
assert os.WEXITSTATUS(status) == 2, (status, out)
assert b"refusing to write binary HDF5 to a terminal" in out, out
'
# Ragged offsets that decrease are reported as such, not as an empty cloud.
py '
import h5py, numpy as np
with h5py.File("ragged.h5", "w") as f:
    f["points"] = np.random.default_rng(1).normal(size=(10, 3)); f["offsets"] = np.array([0, 5, 3, 10])
with h5py.File("ragged0.h5", "w") as f:
    f["points"] = np.random.default_rng(1).normal(size=(10, 3)); f["offsets"] = np.array([0, 5, 5, 10])'
expect_error 1 orbit-transform ragged.h5 -o r.h5
grep -qF "entry 2 (3) is below entry 1 (5)" "$TMP/.err" || fail "decreasing offsets: $(cat "$TMP/.err")"
expect_error 1 orbit-transform ragged0.h5 -o r.h5
grep -qF "cloud 1 is empty" "$TMP/.err" || fail "empty cloud: $(cat "$TMP/.err")"
echo "pipeline tests passed"
