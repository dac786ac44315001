# Shared helpers for the shell tests. Source it first: `. "$(dirname "$0")/lib.sh"`.
# Each test runs in its own temporary folder with the built tools on PATH.
set -euo pipefail
: "${ORBIT_BIN:?ORBIT_BIN must point at the built tools (ctest sets it)}"
export PATH="$ORBIT_BIN:$PATH"
export HDF5_USE_FILE_LOCKING=FALSE
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error CODE CMD...: CMD exits with CODE and prints exactly one line on
# stderr, of the form "orbit-<tool>: error: ...".
expect_error() {
  local want=$1; shift
  local rc=0
  "$@" >"$TMP/.out" 2>"$TMP/.err" </dev/null || rc=$?
  [[ $rc == "$want" ]] || fail "expected exit $want, got $rc: $* :: $(cat "$TMP/.err")"
  local lines; lines=$(wc -l <"$TMP/.err")
  [[ $lines == 1 ]] || fail "expected one line on stderr, got $lines: $* :: $(cat "$TMP/.err")"
  grep -qE '^orbit-[a-z-]+: error: ' "$TMP/.err" || fail "error line has the wrong form: $(cat "$TMP/.err")"
}

# need_data: skip (exit 77) when the real data set has not been fetched.
need_data() {
  [[ -n ${ORBIT_DATA:-} && -f ${ORBIT_DATA}/.complete ]] || { echo "skip: no data (run make data)"; exit 77; }
}

# py CODE: runs a Python snippet with numpy and h5py.
py() { /usr/bin/python3 -c "$1"; }

# normal_points FILE SHAPE [SEED]: FILE:/points of standard normal values, e.g. normal_points cloud.h5 200,3
normal_points() {
  py "import numpy as np, h5py
with h5py.File('$1', 'w') as f: f['points'] = np.random.default_rng(${3:-0}).normal(size=($2))"
}
