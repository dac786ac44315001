#!/usr/bin/env bash
# Fetches real shapes and tables from Debian packages into a cache (never into git):
#   libcgal-demo   -> all of CGAL's meshes (bunny, armadillo, dragon, camel, mechanical
#                     parts, ...; about 140) and scanned point sets
#   meshes/train-shapes.txt: the closed, non-degenerate meshes that learned
#                     registration may train on (scripts/select-training-shapes.py);
#                     the ones in share/orbit/data/eval-shapes.txt are never on it.
#   python3-sklearn -> small real tables (digits, breast cancer, wine, iris)
# The packages are downloaded with apt-get download and unpacked with dpkg -x;
# nothing is installed. Usage: scripts/fetch-data.sh [DEST] (default .cache/data)
set -euo pipefail
dest=${1:-$(cd "$(dirname "$0")/.." && pwd)/.cache/data}
here=$(cd "$(dirname "$0")/.." && pwd)
# .complete-2: the cache holds every CGAL mesh and the training list (older caches had six meshes).
if [[ -f $dest/.complete-2 ]]; then exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"/{meshes,points,tables}
cd "$work"
apt-get download libcgal-demo python3-sklearn >/dev/null 2>&1 || {
  # apt-get download needs a package list; refresh it once if it is missing.
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq; else sudo apt-get update -qq; fi
  apt-get download libcgal-demo python3-sklearn >/dev/null
}
for deb in *.deb; do dpkg -x "$deb" unpacked; done
mkdir cgal
tar xzf unpacked/usr/share/doc/libcgal-dev/data.tar.gz -C cgal
cp cgal/data/meshes/*.off "$dest/meshes/"
/usr/bin/python3 "$here/scripts/select-training-shapes.py" "$dest/meshes" "$here/share/orbit/data/eval-shapes.txt" \
  > "$dest/meshes/train-shapes.txt" 2> "$dest/meshes/train-shapes.rejected.txt"
cp cgal/data/points_3/{hippo1.ply,hippo2.ply,kitten.xyz} "$dest/points/"
sk=$(find unpacked -type d -path '*sklearn/datasets/data' | head -n 1)
cp "$sk"/{breast_cancer.csv,wine_data.csv,iris.csv} "$dest/tables/"
gunzip -c "$sk/digits.csv.gz" > "$dest/tables/digits.csv"
touch "$dest/.complete" "$dest/.complete-2"
echo "orbit: real data in $dest"
