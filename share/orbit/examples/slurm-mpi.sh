#!/usr/bin/env bash
# One problem too large for one node: a single MPI job over several nodes.
# Every rank holds both point sets and sums its share of the rows (then of
# the columns) of each Sinkhorn pass; rank 0 writes the output, which has the
# bits a single process would have written.
#
#   sbatch --nodes=4 --ntasks-per-node=2 --cpus-per-task=32 slurm-mpi.sh x.h5 y.h5 ot.h5
#   sbatch slurm-mpi.sh x.h5 y.h5 ot.h5 --eps 0.001 --tol 1e-4     # more orbit-sinkhorn options
#   ORBIT_TOOL=train-flow sbatch slurm-mpi.sh t.h5 flow.h5 --model nsf --epochs 200 --seed 3
#
# One rank per socket (or per node) with OpenMP threads inside it is the
# usual layout: --cpus-per-task sets -j. For many independent problems use
# the job array of slurm-array.sh instead (no communication at all).
#SBATCH --job-name=orbit-mpi
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
set -euo pipefail
tool=${ORBIT_TOOL:-sinkhorn}
: "${SLURM_NTASKS:?not inside a SLURM allocation: submit with sbatch slurm-mpi.sh ...}"
threads=${SLURM_CPUS_PER_TASK:-1}
export HDF5_USE_FILE_LOCKING=FALSE   # most cluster file systems have no POSIX locks
export OMP_NUM_THREADS=$threads OMP_PROC_BIND=close OMP_PLACES=cores
if [[ $tool == sinkhorn ]]; then
  x=${1:?usage: slurm-mpi.sh X.h5 Y.h5 OUT.h5 [orbit-sinkhorn options]}
  y=${2:?usage: slurm-mpi.sh X.h5 Y.h5 OUT.h5 [orbit-sinkhorn options]}
  out=${3:?usage: slurm-mpi.sh X.h5 Y.h5 OUT.h5 [orbit-sinkhorn options]}
  shift 3
  (($#)) || set -- --eps 0.01 --scaling 0.5 --tol 1e-3
  # srun does not pass --cpus-per-task on to the tasks since SLURM 22.05: say it again.
  srun --cpus-per-task="$threads" orbit-sinkhorn "$x" "$y" "$@" -j "$threads" -o "$out"
else
  input=${1:?usage: ORBIT_TOOL=train-flow slurm-mpi.sh INPUT.h5 OUT.h5 [options]}
  out=${2:?usage: ORBIT_TOOL=train-flow slurm-mpi.sh INPUT.h5 OUT.h5 [options]}
  shift 2
  srun --cpus-per-task="$threads" "orbit-$tool" "$input" "$@" -j "$threads" -o "$out"
fi
