#!/usr/bin/env bash
# Runs every side-by-side benchmark with its default sizes and prints the ratios.
# Peers (POT, Open3D, PyTorch) come from Debian: `make bench` installs them first.
# Benchmarks are not tests: they never run in CI, and their times depend on the machine.
#   bench/run-all.sh [NAME ...]    NAME: io canon sinkhorn register flows cfm (default: all)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ORBIT_BIN=${ORBIT_BIN:-$here/../build/bin}
export ORBIT_DATA=${ORBIT_DATA:-$here/../.cache/data}
export PATH="$ORBIT_BIN:$PATH"
build=$(dirname "$ORBIT_BIN")
names=("$@")
((${#names[@]})) || names=(io canon sinkhorn register flows cfm)
status=0
for n in "${names[@]}"; do
  echo "================ $n ================"
  case $n in
    io)       bash "$here/io_speed.sh" ;;
    canon)    bash "$here/canon_speed.sh" "$build" ;;
    sinkhorn) /usr/bin/python3 "$here/sinkhorn_vs_pot.py" --bin "$ORBIT_BIN" ;;
    register) /usr/bin/python3 "$here/register_bench.py" --orbit "$ORBIT_BIN/orbit-register" ;;
    flows)    /usr/bin/python3 "$here/flows_vs_torch.py" ;;
    cfm)      /usr/bin/python3 "$here/flows_cfm.py" ;;
    *) echo "unknown benchmark '$n' (io canon sinkhorn register flows cfm)" >&2; status=2 ;;
  esac || status=1
done
exit $status
