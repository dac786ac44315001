#!/usr/bin/env bash
# The --json rule, for every tool that writes a file: the summary goes to
# stdout, or to stderr when `-o -` puts the HDF5 stream on stdout; the stream
# then stays a clean HDF5 image that the next tool reads.
. "$(dirname "$0")/lib.sh"
normal_points cloud.h5 200,3
normal_points flat.h5 300,2 1
orbit-train-flow flat.h5 --model realnvp --layers 2 --hidden 8 --epochs 1 --batch 64 --seed 1 -q -o flow.h5
# check NAME ARGS...: run ARGS with --json -o -, twice: to a file, and piped.
check() {
  local name=$1; shift
  "$@" --json -q -o - >stream.h5 2>summary.json || fail "$name: exit $?: $(head -c 300 summary.json)"
  py "import json; json.load(open('summary.json'))" || fail "$name: stderr is not the JSON summary: $(head -c 300 summary.json)"
  orbit-info stream.h5 -q >/dev/null || fail "$name: stdout is not an HDF5 image"
  "$@" --json -q -o out.h5 >summary2.json 2>err.txt || fail "$name: exit $? with -o FILE"
  py "import json; json.load(open('summary2.json'))" || fail "$name: stdout is not the JSON summary with -o FILE"
  [[ ! -s err.txt ]] || fail "$name: stderr not empty with -o FILE and -q: $(head -c 300 err.txt)"
}
check convert orbit-convert cloud.h5
check transform orbit-transform cloud.h5 --crop 0.5
check canonicalize orbit-canonicalize cloud.h5
check register orbit-register cloud.h5 cloud.h5 --method icp
check sinkhorn orbit-sinkhorn cloud.h5 cloud.h5 --eps 0.5
check sample-flow orbit-sample-flow flow.h5 -n 10
check density orbit-density flow.h5 flat.h5
check flow-map orbit-flow-map flow.h5 flat.h5
check train-flow orbit-train-flow flat.h5 --model realnvp --layers 2 --hidden 8 --epochs 1 --batch 64 --seed 1
echo "--json goes to stdout, or to stderr beside an HDF5 stream, for every tool"
