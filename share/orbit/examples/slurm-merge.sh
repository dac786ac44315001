#!/usr/bin/env bash
# The merge job that follows slurm-array.sh: joins the slices in OUTDIR into
# OUTDIR/all.h5. orbit-merge checks that the slices belong together (same
# input, same settings, every slice present once) and refuses them otherwise.
#
#   sbatch --dependency=afterok:JOBID slurm-merge.sh out
#SBATCH --job-name=orbit-merge
#SBATCH --cpus-per-task=1
#SBATCH --time=00:10:00
set -euo pipefail
outdir=${1:?usage: slurm-merge.sh OUTDIR}
export HDF5_USE_FILE_LOCKING=FALSE
shopt -s nullglob
parts=("$outdir"/part-*-of-*.h5)
((${#parts[@]} > 0)) || { echo "slurm-merge.sh: no slices in $outdir" >&2; exit 1; }
orbit-merge "${parts[@]}" -o "$outdir/all.h5"
