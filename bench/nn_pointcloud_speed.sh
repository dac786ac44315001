#!/bin/bash
# Speed of the point-cloud layers: the default DGCNN feature network (three
# EdgeConv layers of width 64, k = 16, dynamic graph, group norm) in float,
# forward + backward on a batch of 8 clouds of 717 points and inference on one
# cloud of 717 points (target: at most 20 ms for the whole registration
# network), and the differentiable Sinkhorn layer on 129 x 129 components.
# Prints wall and process CPU milliseconds; on a machine shared with other jobs
# the CPU time is the better estimate of an idle machine's wall time.
# Usage: bench/nn_pointcloud_speed.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
TEST="$BUILD/tests/test_nn_pointcloud"
[ -x "$TEST" ] || { echo "nn_pointcloud_speed: build test_nn_pointcloud first (cmake --build $BUILD --target test_nn_pointcloud)" >&2; exit 1; }
echo "CPU: $(lscpu | grep 'Model name' | sed 's/.*: *//') ($(lscpu | grep 'Flags' | grep -o 'avx512f\|avx2' | sort -u | tr '\n' ' '))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
"$TEST" "[.bench]" | grep -E "ms"
