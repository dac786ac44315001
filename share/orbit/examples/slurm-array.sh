#!/usr/bin/env bash
# A SLURM job array that processes a batch of clouds in slices, then merges them.
#
#   sbatch --array=1-8 slurm-array.sh clouds.h5 out      # one task per slice
#   sbatch --dependency=afterok:JOBID merge.sh           # or run the merge line below by hand
#
# Each task processes slice K of N with the same --seed: the result does not
# depend on how the batch was split, so `orbit-merge` gives exactly the file a
# single run would have written.
#SBATCH --job-name=orbit-slices
#SBATCH --cpus-per-task=4
#SBATCH --time=00:30:00
set -euo pipefail
input=${1:?usage: slurm-array.sh INPUT.h5 OUTDIR}
outdir=${2:?usage: slurm-array.sh INPUT.h5 OUTDIR}
k=${SLURM_ARRAY_TASK_ID:?run under sbatch --array=1-N}
n=${SLURM_ARRAY_TASK_COUNT:?run under sbatch --array=1-N}
export HDF5_USE_FILE_LOCKING=FALSE   # most cluster file systems have no POSIX locks
mkdir -p "$outdir"
orbit-transform "$input" --random-rotation uniform --crop 0.7 --noise 0.01 --resample 717 \
  --seed 1 --shard "$k/$n" -j "${SLURM_CPUS_PER_TASK:-1}" -o "$outdir/part-$k.h5"
# After all tasks: orbit-merge "$outdir"/part-*.h5 -o "$outdir/all.h5"
