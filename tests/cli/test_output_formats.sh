#!/usr/bin/env bash
# What -o writes. orbit-convert and orbit-transform write the point-set format
# the output's extension names (PLY, OFF, PCD, XYZ, CSV, NPY) through the same
# writers, and each file reads back to the same points and normals; every
# other tool writes HDF5 and refuses any other extension with exit 2 and one
# line, before any work and without leaving a file.
. "$(dirname "$0")/lib.sh"
py "
import h5py, numpy as np
rng = np.random.default_rng(1)
x = rng.normal(size=(200, 3)); n = rng.normal(size=(200, 3)); n /= np.linalg.norm(n, axis=1, keepdims=True)
with h5py.File('a.h5', 'w') as f: f['points'] = x; f['normals'] = n
with h5py.File('batch.h5', 'w') as f: f['points'] = rng.normal(size=(4, 50, 3))
"
# Each format by extension, from both tools, read back exactly (the text writers use the shortest exact form).
for ext in ply off pcd xyz pts txt csv npy; do
  orbit-transform a.h5 --rotate 10,20,30 --translate 1,2,3 -q -o "t.$ext" || fail "orbit-transform -o t.$ext failed"
  orbit-transform a.h5 --rotate 10,20,30 --translate 1,2,3 -q -o t.h5
  orbit-convert "t.$ext" -q -o "back-$ext.h5" || fail "t.$ext does not read back"
  py "
import h5py, numpy as np, sys
a, b = h5py.File('t.h5'), h5py.File('back-$ext.h5')
if not np.array_equal(a['points'][:], b['points'][:]): sys.exit('.$ext: points differ after the round trip')
if '$ext' != 'npy' and not np.array_equal(a['normals'][:], b['normals'][:]): sys.exit('.$ext: normals differ')
if '$ext' == 'npy' and 'normals' in b: sys.exit('.npy holds points only')
" || fail "round trip through .$ext"
  orbit-convert t.h5 -q -o "c.$ext" 2>/dev/null
  cmp -s "c.$ext" "t.$ext" || fail "orbit-convert and orbit-transform write different .$ext files for the same cloud"
done
head -1 t.off | grep -qx NOFF || fail "an OFF with normals starts with NOFF"
grep -q '^DATA ascii$' t.pcd || fail "PCD output is ascii"
# A batch of equal clouds goes to NPY [B,N,3]; into a one-cloud format it is refused, exit 1, nothing written.
orbit-transform batch.h5 -q -o b.npy
py "import numpy as np, sys; a = np.load('b.npy'); sys.exit(0 if a.shape == (4, 50, 3) else 'shape %s' % (a.shape,))"
expect_error 1 orbit-transform batch.h5 -o b.ply
grep -q "select one cloud" "$TMP/.err" || fail "the batch error should say how to pick one cloud: $(cat "$TMP/.err")"
[[ ! -e b.ply ]] || fail "a refused batch left b.ply behind"
orbit-transform batch.h5:/points[2] -q -o b2.ply || fail "one cloud of a batch as PLY"
# An unknown extension: exit 2 from both point-set writers.
expect_error 2 orbit-transform a.h5 -o out.xyzzy
expect_error 2 orbit-convert a.h5 -o out.npz
grep -q "expected .h5 .hdf5 .ply" "$TMP/.err" || fail "unknown format message: $(cat "$TMP/.err")"

# Every other tool that takes -o: a point-set name is refused, exit 2, one line, nothing written.
# Arguments just good enough to reach the output check (files exist; they need not suit the tool).
declare -A ARGS=(
  [orbit-canonicalize]="a.h5"
  [orbit-density]="a.h5 a.h5"
  [orbit-eval-invariance]="a.h5 --model-cmd true"
  [orbit-flow-map]="a.h5 a.h5"
  [orbit-merge]="a.h5"
  [orbit-register]="a.h5 a.h5"
  [orbit-sample-flow]="a.h5 -n 10"
  [orbit-sinkhorn]="a.h5 a.h5"
  [orbit-train-canonicalizer]="a.h5"
  [orbit-train-flow]="a.h5"
  [orbit-train-register]="a.h5"
)
checked=0
for tool in "$ORBIT_BIN"/orbit-*; do
  name=$(basename "$tool")
  help=$("$tool" --help)
  [[ $help == *-o,--output* ]] || continue   # orbit-info writes no file
  case $name in orbit-transform|orbit-convert) continue ;; esac
  [[ -n ${ARGS[$name]:-} ]] || fail "$name writes -o but has no entry in this test's table"
  for out in x.ply ot.csv x.npy x.off x.pcd x.xyz x.txt x.json x.npz; do
    # shellcheck disable=SC2086
    expect_error 2 timeout 20 "$tool" ${ARGS[$name]} -o "$out"
    grep -q "this tool writes HDF5" "$TMP/.err" || fail "$name -o $out: $(cat "$TMP/.err")"
    [[ ! -e $out ]] || fail "$name -o $out left a file behind"
  done
  checked=$((checked + 1))
done
[[ $checked == "${#ARGS[@]}" ]] || fail "checked $checked tools, the table names ${#ARGS[@]}"
# The advice names the conversion that gives the file asked for.
expect_error 2 orbit-canonicalize a.h5 -o canon.ply
grep -q "write canon.h5 and convert a point set with orbit-convert canon.h5 -o canon.ply" "$TMP/.err" || fail "advice: $(cat "$TMP/.err")"
# HDF5 names and extension-less names (devices, fifos) are still accepted.
orbit-canonicalize a.h5 -q -o c.hdf5 && orbit-canonicalize a.h5 -q -o /dev/null && orbit-canonicalize a.h5 -q -o canon \
  || fail "HDF5 outputs named .hdf5, /dev/null or without extension must be accepted"
echo "output formats: ok ($checked HDF5-only tools checked)"
