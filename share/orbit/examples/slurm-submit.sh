#!/usr/bin/env bash
# Submits the array over N slices and the merge job that waits for it:
#
#   slurm-submit.sh clouds.h5 out 8
#
# prints the two job ids. The merge runs only if every task succeeded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
input=${1:?usage: slurm-submit.sh INPUT.h5 OUTDIR SLICES}
outdir=${2:?usage: slurm-submit.sh INPUT.h5 OUTDIR SLICES}
n=${3:?usage: slurm-submit.sh INPUT.h5 OUTDIR SLICES}
array=$(sbatch --parsable --array=0-$((n - 1)) "$here/slurm-array.sh" "$input" "$outdir")
array=${array%%;*}   # --parsable prints "JOBID" or "JOBID;CLUSTER"
merge=$(sbatch --parsable --dependency=afterok:"$array" "$here/slurm-merge.sh" "$outdir")
echo "array job $array, merge job ${merge%%;*}"
