#!/usr/bin/env bash
# The demo: a real pipeline on real shapes, printing what each step did.
# Run through `make demo` (which builds the tools and fetches the data), or with
# ORBIT_BIN (the tools' folder) and ORBIT_DATA (the data folder) set.
set -euo pipefail
bin=${ORBIT_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}
data=${ORBIT_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/.cache/data}
export PATH="$bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n== %s\n' "$*"; }

step "Sample 2048 points on the surface of the Stanford bunny (a real scan, from Debian's CGAL data)"
orbit-convert "$data/meshes/bunny00.off" --sample 2048 --seed 1 --normalize -o bunny.h5 -q
orbit-info bunny.h5

step "Make a partial, moved, noisy view of it (RPM-Net protocol: 70% crop, rotation up to 45 degrees, noise 0.01)"
orbit-transform bunny.h5 --crop 0.7 --seed 2 --resample 717 --noise 0.01 -o ref.h5 -q
orbit-transform bunny.h5 --random-rotation 45 --random-translation 0.5 --crop 0.7 --noise 0.01 \
  --resample 717 --seed 3 -o src.h5 --json
