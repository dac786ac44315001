#!/usr/bin/env bash
# The shared command-line shell: help, version, config files, exit codes, quiet, JSON placement.
. "$(dirname "$0")/lib.sh"
py '
import numpy as np, h5py
with h5py.File("cloud.h5", "w") as f:
    f["points"] = np.random.default_rng(0).normal(size=(1000, 3))
'
for tool in orbit-info orbit-transform orbit-merge; do
  $tool --help | grep -q -- "--json" || fail "$tool --help"
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

# A tool declares only the shared options it uses: orbit-info writes nothing and
# draws nothing, orbit-merge draws nothing and runs on one thread.
for args in "-o x.h5" "--seed 1" "-j 2"; do
  expect_error 2 orbit-info cloud.h5 $args
done
for args in "--seed=1" "--threads=2"; do
  expect_error 2 orbit-merge cloud.h5 $args -o m.h5
  grep -qF -- "$args" "$TMP/.err" || fail "orbit-merge $args: $(cat "$TMP/.err")"
done
! orbit-info --help | grep -qE -- "--seed|--threads|--output" || fail "orbit-info --help lists options it ignores"

# NaN, infinity and out-of-range values: exit 2 naming the option, before any work, in one short line.
for args in "--rotate nan,0,0" "--translate inf,0,0" "--noise nan" "--crop nan" "--noise-clip inf" "--scale nan" \
            "--random-translation inf" "--random-rotation nan" "--rotate 1,2,3," "--seed -1" "--noise -1" "--scale 0"; do
  expect_error 2 orbit-transform cloud.h5 $args -o x.h5
  opt=${args%% *}
  grep -qF -- "error: $opt: " "$TMP/.err" || fail "$args: the message does not name $opt: $(cat "$TMP/.err")"
  (( $(wc -c <"$TMP/.err") < 200 )) || fail "$args: message too long: $(cat "$TMP/.err")"
  [[ ! -e x.h5 ]] || fail "$args: wrote an output"
done
grep -qF "expected a number > 0, found 0" "$TMP/.err" || fail "the range is named briefly: $(cat "$TMP/.err")"
# 1e-400 is a number (it rounds to 0), as in every other program that reads floats.
orbit-transform cloud.h5 --noise 1e-400 --rotate 1e-400,0,0 -o tiny.h5 -q || fail "1e-400 refused"
py '
import h5py, numpy as np
a, b = h5py.File("tiny.h5"), h5py.File("cloud.h5")
assert np.array_equal(a["points"][:], b["points"][:])'

# Out of memory is one line, exit 1, and leaves no temporary file: checked
# before the work against the machine, and caught when an allocation fails.
mkdir oom && cp cloud.h5 oom/
expect_error 1 orbit-transform oom/cloud.h5 --resample 1000000000000 -o oom/out.h5
grep -qF "out of memory: --resample 1000000000000" "$TMP/.err" || fail "oom message: $(cat "$TMP/.err")"
# Under AddressSanitizer (make test-sanitize) a tool cannot start below an
# address-space limit (ASan reserves terabytes of shadow space) and its
# operator new aborts instead of throwing, so this check runs in plain builds.
if ! grep -qs "ORBIT_SANITIZE:BOOL=ON" "${ORBIT_BUILD_DIR:-.}/CMakeCache.txt"; then
  expect_error 1 bash -c 'ulimit -v 400000; exec orbit-transform oom/cloud.h5 --resample 20000000 -o oom/out.h5'
  grep -qF "out of memory" "$TMP/.err" || fail "bad_alloc message: $(cat "$TMP/.err")"
fi
[[ $(ls oom) == cloud.h5 ]] || fail "out of memory left files: $(ls oom)"
echo "shell tests passed"
