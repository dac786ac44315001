#!/usr/bin/env bash
# The shared command-line shell: help, version, config files, exit codes, quiet, JSON placement.
. "$(dirname "$0")/lib.sh"
py '
import numpy as np, h5py
with h5py.File("cloud.h5", "w") as f:
    f["points"] = np.random.default_rng(0).normal(size=(1000, 3))
'
for tool in orbit-info orbit-transform orbit-merge; do
  $tool --help | grep -q -- "--output" || fail "$tool --help"
  $tool --version | grep -qE "^$tool [0-9]+\.[0-9]+\.[0-9]+$" || fail "$tool --version"
done

# Options from a config file (INI/TOML keys are the long option names) equal the command line.
cat > opts.toml <<'TOML'
crop = 0.5
seed = 4
random-rotation = "uniform"
TOML
orbit-transform cloud.h5 --config opts.toml -o a.h5 -q
orbit-transform cloud.h5 --crop 0.5 --seed 4 --random-rotation uniform -o b.h5 -q
py '
import h5py, numpy as np
a, b = h5py.File("a.h5"), h5py.File("b.h5")
assert a["points"].shape == (500, 3)
assert np.array_equal(a["points"][:], b["points"][:])
'
expect_error 2 orbit-transform cloud.h5 --config missing.toml -o c.h5

# --json goes to stdout, or to stderr when stdout carries the HDF5 stream.
orbit-transform cloud.h5 --json -o d.h5 | py 'import json,sys; assert json.load(sys.stdin)["points_out"] == 1000'
orbit-transform cloud.h5 --json -o - 2>summary.json | orbit-info - >/dev/null
py 'import json; assert json.load(open("summary.json"))["clouds"] == 1'

# -q silences messages; errors still show.
[[ -z $(orbit-info cloud.h5 -q 2>&1 >/dev/null) ]] || fail "-q printed on stderr"
expect_error 2 orbit-info cloud.h5 -q -v

# Usage errors exit 2, data errors exit 1.
expect_error 2 orbit-transform
expect_error 2 orbit-transform cloud.h5 -j -1 -o x.h5
expect_error 2 orbit-transform cloud.h5 --resample 0 -o x.h5
expect_error 2 orbit-transform cloud.h5 --rotate 1,2 -o x.h5
expect_error 1 orbit-transform cloud.h5:/points --transform cloud.h5:/points -o x.h5
echo "shell tests passed"
