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

# best CMD: the fastest wall time and the smallest CPU time (user + system)
# of R runs, in seconds. CPU time is the steadier measure on a busy machine.
best() {
  local bw=999 bc=999 w u s
  for ((i = 0; i < R; i++)); do
    read -r w u s < <({ TIMEFORMAT='%3R %3U %3S'; time bash -c "$1" >/dev/null 2>&1; } 2>&1)
    bw=$(echo "if ($w < $bw) $w else $bw" | bc -l)
    bc=$(echo "if ($u + $s < $bc) $u + $s else $bc" | bc -l)
  done
  printf '%.3f %.3f\n' "$bw" "$bc"
}

printf '%-36s %8s %8s %7s   %8s %8s %7s\n' "operation ($N points)" "wall s" "cat s" "ratio" "cpu s" "cat cpu" "ratio"
row() {  # name, orbit command, cat command
  local ow oc cw cc
  read -r ow oc < <(best "$2")
  read -r cw cc < <(best "$3")
  printf '%-36s %8s %8s %7.2f   %8s %8s %7.2f\n' "$1" "$ow" "$cw" "$(echo "$ow / $cw" | bc -l)" "$oc" "$cc" \
    "$(echo "$oc / ($cc + 0.0005)" | bc -l)"
}
row "HDF5 write (npy -> h5)" "orbit-convert x.npy -o w.h5" "cat x.npy > c1"
row "HDF5 read (h5 -> npy)" "orbit-convert x.h5 -o r.npy" "cat x.h5 > c2"
row "stream (h5 -> - | - -> h5)" "orbit-convert x.h5 -o - | orbit-convert - -o s.h5" "cat x.h5 | cat > c3"
row "binary PLY read, float64 (-> npy)" "orbit-convert d.ply -o p.npy" "cat d.ply > c4"
row "binary PLY read, float32+n (-> h5)" "orbit-convert f.ply -o q.h5" "cat f.ply > c5"
row "binary PLY write (h5 -> ply)" "orbit-convert x.h5 -o o.ply" "cat x.h5 > c6"
echo "(each orbit command reads one file and writes another; cat copies the input once."
echo " the float32 PLY with normals is written as 48 MB of float64 points and normals.)"
