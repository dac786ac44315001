#!/usr/bin/env bash
# One task of a SLURM job array: task K of N processes slice K/N of a batch.
# Submit it with slurm-submit.sh, which adds the dependent merge job, or by hand:
#
#   sbatch --array=0-7 slurm-array.sh clouds.h5 out      # 0-based arrays
#   sbatch --array=1-8 slurm-array.sh clouds.h5 out      # 1-based arrays, the same slices
#   sbatch --dependency=afterok:JOBID slurm-merge.sh out
#
# The slice number comes from the task's place in the array
# (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, in steps of
# SLURM_ARRAY_TASK_STEP), so any start and step work. Every task uses the
# same --seed: the result does not depend on how the batch was split, and
# orbit-merge gives exactly the file one run would have written.
#SBATCH --job-name=orbit-slices
#SBATCH --cpus-per-task=4
#SBATCH --time=00:30:00
set -euo pipefail
input=${1:?usage: slurm-array.sh INPUT.h5 OUTDIR}
outdir=${2:?usage: slurm-array.sh INPUT.h5 OUTDIR}
id=${SLURM_ARRAY_TASK_ID:?not a job array task: submit with sbatch --array=...}
min=${SLURM_ARRAY_TASK_MIN:-$id}
max=${SLURM_ARRAY_TASK_MAX:-$id}
step=${SLURM_ARRAY_TASK_STEP:-1}
k=$(( (id - min) / step + 1 ))
n=${SLURM_ARRAY_TASK_COUNT:-$(( (max - min) / step + 1 ))}
export HDF5_USE_FILE_LOCKING=FALSE   # most cluster file systems have no POSIX locks
mkdir -p "$outdir"
orbit-transform "$input" --random-rotation uniform --crop 0.7 --noise 0.01 --resample 717 \
  --seed 1 --shard "$k/$n" -j "${SLURM_CPUS_PER_TASK:-1}" -o "$outdir/part-$k-of-$n.h5"
