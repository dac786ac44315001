#!/bin/bash
# Damaged and hostile inputs, output paths and signals: every tool that reads
# a file a user did not make exits 1 with one line, in seconds, and leaves no
# temporary file; outputs are checked before the work; devices and fifos are
# written into, never replaced. Also the plain (non-libFuzzer) regression run:
# every input under fuzz/regressions/ through orbit-info and orbit-convert.
. "$(dirname "$0")/lib.sh"
SRC=${ORBIT_SOURCE_DIR:?}
export ORBIT_READ_TIMEOUT=2

# no_leftovers DIR: no temporary output (".NAME.tmp-XXXXXX") left in DIR.
no_leftovers() {
  local left; left=$(find "$1" -maxdepth 1 -name '.*.tmp-*' | head -3)
  [[ -z $left ]] || fail "temporary files left behind: $left"
}

# within SECONDS CODE CMD...: like expect_error, and finishes in time.
within() {
  local secs=$1 code=$2; shift 2
  local start=$SECONDS
  expect_error "$code" timeout -s KILL 30 "$@"
  (( SECONDS - start <= secs )) || fail "took $((SECONDS - start)) s (more than $secs): $*"
}

py '
import numpy as np, h5py
p = np.random.default_rng(1).normal(size=(200, 3))
with h5py.File("ok.h5", "w") as f:
    f["points"] = p
with h5py.File("train.h5", "w") as f:  # trains for many seconds at 20 epochs
    f["points"] = np.random.default_rng(2).normal(size=(2000, 3))
# Defect: a 3 KB file whose dataset declares 10^12 rows and stores none.
with h5py.File("huge.h5", "w") as f:
    f.create_dataset("points", (10**12, 3), "f8", chunks=(1024, 3))
'

# ---- a crash inside libhdf5 (H5A__close under attribute iteration) --------
within 5 1 orbit-info "$SRC/fuzz/regressions/libhdf5/min_info_segv.h5"
grep -q "min_info_segv.h5" "$TMP/.err" || fail "the crash message does not name the file: $(cat "$TMP/.err")"

# ---- a read that never ends (H5HG_read loops) and one that never stops
#      allocating (H5T__conv_vlen): the watchdog ends both -------------------
within 8 1 orbit-info "$SRC/fuzz/regressions/libhdf5/min_hang_loop.h5"
grep -q "damaged HDF5 file" "$TMP/.err" || fail "hang: $(cat "$TMP/.err")"
within 8 1 orbit-convert "$SRC/fuzz/regressions/libhdf5/min_hang_loop.h5" -o out.h5
[[ ! -e out.h5 ]] || fail "a partial output was left"
no_leftovers .
# (No ulimit here: under an address-space limit the library's huge request
# simply fails; without one it grows, and the watchdog must stop it.)
within 10 1 /usr/bin/time -o rss.txt -f '%M' orbit-info "$SRC/fuzz/regressions/libhdf5/hang_info.h5"
grep -q "damaged HDF5 file" "$TMP/.err" || fail "unbounded memory: $(cat "$TMP/.err")"
(( $(tail -1 rss.txt) < 1000000 )) || fail "reading hang_info.h5 grew to $(tail -1 rss.txt) kB"

# ---- declared sizes checked against the file before any work --------------
within 5 1 orbit-convert huge.h5 -o o.h5
grep -q "never-written" "$TMP/.err" || fail "huge dataset: $(cat "$TMP/.err")"
[[ ! -e o.h5 ]] || fail "output written for a dataset that stores nothing"
within 5 1 orbit-convert huge.h5 -o o.npy
within 5 1 orbit-info huge.h5
no_leftovers .

# ---- a file held open for writing by another HDF5 program -----------------
(
  unset HDF5_USE_FILE_LOCKING
  /usr/bin/python3 -c '
import h5py, sys, time
f = h5py.File("ok.h5", "a")
open("locked.ready", "w").close()
time.sleep(30)
' &
  holder=$!
  for _ in $(seq 100); do [[ -e locked.ready ]] && break; sleep 0.1; done
  rc=0
  expect_error 1 orbit-info ok.h5 || rc=$?
  kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true
  grep -q "locked" "$TMP/.err" || fail "lock not reported: $(cat "$TMP/.err")"
  grep -q "HDF5_USE_FILE_LOCKING=FALSE" "$TMP/.err" || fail "no hint at HDF5_USE_FILE_LOCKING: $(cat "$TMP/.err")"
)

# ---- output paths checked before the work ---------------------------------
start=$SECONDS
expect_error 1 orbit-train-flow train.h5 --epochs 20 --batch 64 -o /nonexistent/m.h5
(( SECONDS - start <= 2 )) || fail "the missing folder was reported only after the work"
grep -q "/nonexistent" "$TMP/.err" || fail "$(cat "$TMP/.err")"
# "-o -" with a terminal on stdout: refused before reading anything.
/usr/bin/python3 - <<'PY' || fail "binary output to a terminal was not refused at once"
import os, pty, subprocess, time
master, slave = pty.openpty()
t = time.time()
p = subprocess.run(["orbit-train-flow", "train.h5", "--epochs", "20", "--batch", "64", "-o", "-"], stdout=slave, stderr=subprocess.PIPE, timeout=30)
os.close(slave)
err = p.stderr.decode()
assert p.returncode == 2, (p.returncode, err)
assert err.count("\n") == 1 and "terminal" in err, err
assert time.time() - t < 2, time.time() - t
PY
mkdir ro && chmod 555 ro
if [[ $(id -u) != 0 ]]; then expect_error 1 orbit-convert ok.h5 -o ro/x.h5; fi

# ---- devices and fifos are written into, never replaced -------------------
mkfifo pipe.h5
( timeout 30 cat pipe.h5 > from_pipe ) &
reader=$!
orbit-convert ok.h5 -o pipe.h5 -q || { exec 3>pipe.h5; fail "writing into a fifo failed"; }
wait "$reader"
[[ -p pipe.h5 ]] || fail "the fifo was replaced by a regular file"
py 'import h5py; assert h5py.File("from_pipe", "r")["points"].shape == (200, 3)'
if [[ $(id -u) == 0 ]]; then
  mknod null.h5 c 1 3   # a private /dev/null: the real one is never put at risk
  orbit-convert ok.h5 -o null.h5 -q
  [[ -c null.h5 ]] || fail "running as root replaced a device with a regular file"
  mknod null.csv c 1 3
  orbit-convert ok.h5 -o null.csv -q
  [[ -c null.csv ]] || fail "running as root replaced a device with a regular file (CSV writer)"
fi
no_leftovers .

# ---- signals: SIGINT ignored by whoever started the tool stays ignored -----
# (a background job of this non-interactive shell starts with SIGINT ignored)
py '
import numpy as np, h5py
with h5py.File("big.h5", "w") as f:
    f["points"] = np.random.default_rng(1).normal(size=(300, 2000, 3))
'
orbit-transform big.h5 --random-rotation uniform --resample 8000 -j 1 -o kept.h5 -q &
pid=$!
for _ in $(seq 500); do
  compgen -G '.kept.h5.tmp-*' >/dev/null && break
  sleep 0.01
done
kill -INT $pid 2>/dev/null || true
rc=0; wait $pid || rc=$?
[[ $rc == 0 ]] || fail "a tool started with SIGINT ignored was interrupted by it (exit $rc)"
py 'import h5py; assert h5py.File("kept.h5", "r")["points"].shape == (300, 8000, 3)'
no_leftovers .

# ---- plain regression run: every regression input through the real tools --
# orbit-info reads everything in a file, so a damaged file is refused (exit 1,
# one line). orbit-convert reads only what it converts: it either refuses
# (exit 1, one line) or writes a complete output that reads back.
refuses_or_converts() {
  local start=$SECONDS rc=0
  timeout -s KILL 30 orbit-convert "$1" -o conv.h5 -q >"$TMP/.out" 2>"$TMP/.err" </dev/null || rc=$?
  (( SECONDS - start <= 8 )) || fail "orbit-convert took $((SECONDS - start)) s on $1"
  if [[ $rc == 0 ]]; then
    orbit-info conv.h5 >/dev/null || fail "orbit-convert wrote an unreadable output for $1"
    rm -f conv.h5
  else
    [[ $rc == 1 && $(wc -l <"$TMP/.err") == 1 ]] || fail "orbit-convert on $1: exit $rc :: $(cat "$TMP/.err")"
    [[ ! -e conv.h5 ]] || fail "output left for $1"
  fi
}
n=0
for f in "$SRC"/fuzz/regressions/*/*; do
  [[ -f $f ]] || continue
  ext=${f##*.}
  case $ext in h5|ply|off|pcd|npy|csv|xyz) ;; *) continue ;; esac
  cp "$f" "in.$ext"
  if [[ $ext == h5 ]] && grep -qx "${f#"$SRC"/fuzz/regressions/}" "$SRC/fuzz/regressions/readable.txt"; then
    # Damaged only in a way orbit now reads correctly: described, exit 0.
    timeout -s KILL 8 orbit-info in.h5 >/dev/null || fail "orbit-info refused $f"
  elif [[ $ext == h5 ]]; then
    within 8 1 orbit-info "in.h5"
    within 8 1 sh -c 'exec orbit-info - < in.h5'
  fi
  refuses_or_converts "in.$ext"
  no_leftovers .
  rm -f "in.$ext"
  n=$((n + 1))
done
(( n >= 3 )) || fail "only $n regression inputs found"
echo "ok: $n regression inputs"
