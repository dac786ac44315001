#!/bin/bash
# I/O speed of orbit-convert for a 1,000,000-point cloud, each as a ratio to
# copying the same bytes with cat (best of several runs; target: ratio <= 2).
#
#   bench/io_speed.sh [POINTS] [REPEATS]      (tools from $ORBIT_BIN or build/bin)
#
# Every orbit command reads one file and writes another, so each is compared
# with a cat that reads and writes the same number of bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="${ORBIT_BIN:-$here/../build/bin}:$PATH"
export HDF5_USE_FILE_LOCKING=FALSE
N=${1:-1000000}
R=${2:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

/usr/bin/python3 -c "
import numpy as np
p = np.random.default_rng(0).normal(size=($N, 3))
np.save('x.npy', p)
# A float32 binary PLY as scanners write it (x y z nx ny nz).
n = p / np.linalg.norm(p, axis=1, keepdims=True)
rec = np.hstack([p, n]).astype('<f4')
with open('f.ply', 'wb') as f:
    f.write(b'ply\nformat binary_little_endian 1.0\nelement vertex %d\n' % len(p))
    for k in ['x', 'y', 'z', 'nx', 'ny', 'nz']: f.write(b'property float %s\n' % k.encode())
    f.write(b'end_header\n')
    f.write(rec.tobytes())
"
orbit-convert x.npy -o x.h5
orbit-convert x.npy -o d.ply

# best CMD: the fastest wall time of R runs, in seconds.
best() {
  local b=999 t0 t1 s
  for ((i = 0; i < R; i++)); do
    t0=$(date +%s%N)
    bash -c "$1"
    t1=$(date +%s%N)
    s=$(echo "($t1 - $t0) / 1000000000" | bc -l)
    b=$(echo "if ($s < $b) $s else $b" | bc -l)
  done
  printf '%.4f' "$b"
}

printf '%-34s %10s %10s %8s %10s\n' "operation ($N points)" "orbit s" "cat s" "ratio" "bytes"
row() {  # name, orbit command, cat command, bytes
  local o c
  o=$(best "$2")
  c=$(best "$3")
  printf '%-34s %10s %10s %8.2f %10s\n' "$1" "$o" "$c" "$(echo "$o / $c" | bc -l)" "$4"
}
size() { stat -c %s "$1"; }
row "HDF5 write (npy -> h5)" "orbit-convert x.npy -o w.h5" "cat x.npy > c1" "$(size x.h5)"
row "HDF5 read (h5 -> npy)" "orbit-convert x.h5 -o r.npy" "cat x.h5 > c2" "$(size x.h5)"
row "stream (h5 -> - | - -> h5)" "orbit-convert x.h5 -o - | orbit-convert - -o s.h5" "cat x.h5 | cat > c3" "$(size x.h5)"
row "binary PLY read, float64 (-> npy)" "orbit-convert d.ply -o p.npy" "cat d.ply > c4" "$(size d.ply)"
row "binary PLY read, float32+normals" "orbit-convert f.ply -o q.h5" "cat f.ply > c5" "$(size f.ply)"
row "binary PLY write (h5 -> ply)" "orbit-convert x.h5 -o o.ply" "cat x.h5 > c6" "$(size d.ply)"
