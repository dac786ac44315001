#!/usr/bin/env bash
# share/orbit/examples/slurm-mpi.sh runs as written: its body, with the
# variables SLURM sets for `sbatch --nodes=2 --ntasks-per-node=1
# --cpus-per-task=1` and a stand-in srun that starts the tasks with mpirun,
# writes the file of one process, for orbit-sinkhorn and orbit-train-flow.
. "$(dirname "$0")/lib.sh"
grep -q '^ORBIT_HAVE_MPI_BUILT:INTERNAL=ON' "$ORBIT_BUILD_DIR/CMakeCache.txt" 2>/dev/null ||
  { echo "skip: orbit was built without MPI (install libopenmpi-dev openmpi-bin and reconfigure)"; exit 77; }
command -v mpirun >/dev/null || { echo "skip: no mpirun on PATH"; exit 77; }
# Open MPI leaks at MPI_Finalize (ompi_op_base_op_select, and plugins it unloads
# before LeakSanitizer runs, so no suppression can name them): in a sanitized
# build the ranks check memory errors and undefined behaviour but not leaks
# (docs/robustness.md); the same tools' leaks are checked by the single-process tests.
grep -qs "ORBIT_SANITIZE:BOOL=ON" "$ORBIT_BUILD_DIR/CMakeCache.txt" && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
[[ $(id -u) != 0 ]] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ex=$ORBIT_SOURCE_DIR/share/orbit/examples
mkdir bin
cat > bin/srun <<'SR'
#!/usr/bin/env bash
# srun for this test: the options the recipe passes, then mpirun with SLURM_NTASKS ranks.
while [[ $1 == --* ]]; do echo "$1" >> "$SRUN_LOG"; shift; done
exec mpirun --oversubscribe -n "$SLURM_NTASKS" "$@"
SR
chmod +x bin/srun
export SRUN_LOG=$PWD/srun.log
py '
import h5py, numpy as np
r = np.random.default_rng(2)
with h5py.File("x.h5", "w") as f: f["points"] = r.normal(size=(150, 3))
with h5py.File("y.h5", "w") as f: f["points"] = r.normal(size=(120, 3)) + 0.5
with h5py.File("t.h5", "w") as f: f["points"] = r.normal(size=(1500, 2))
'
slurm=(SLURM_JOB_ID=77 SLURM_NTASKS=2 SLURM_NNODES=2 SLURM_JOB_NUM_NODES=2 SLURM_NTASKS_PER_NODE=1 SLURM_CPUS_PER_TASK=1)
env PATH="$PWD/bin:$PATH" "${slurm[@]}" bash "$ex/slurm-mpi.sh" x.h5 y.h5 ot.h5 2>err.txt || fail "the sinkhorn job failed: $(cat err.txt)"
grep -qx -- "--cpus-per-task=1" srun.log || fail "srun was not given --cpus-per-task: $(cat srun.log)"
orbit-sinkhorn x.h5 y.h5 --eps 0.01 --scaling 0.5 --tol 1e-3 -j 1 -q -o one.h5
env PATH="$PWD/bin:$PATH" "${slurm[@]}" ORBIT_TOOL=train-flow bash "$ex/slurm-mpi.sh" t.h5 flow.h5 --layers 2 --hidden 8 --epochs 1 --seed 4 -q ||
  fail "the training job failed"
orbit-train-flow t.h5 --layers 2 --hidden 8 --epochs 1 --seed 4 -j 1 -q -o flow-one.h5
py '
import h5py, numpy as np, sys
a, b = h5py.File("one.h5"), h5py.File("ot.h5")
for k in ("f", "g"):
    if not np.array_equal(a[k][()], b[k][()]): sys.exit("ot.h5: /" + k + " differs from one process")
def sets(name):
    out = {}
    h5py.File(name).visititems(lambda k, o: out.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
p, q = sets("flow-one.h5"), sets("flow.h5")
if p.keys() != q.keys() or any(not np.array_equal(p[k], q[k]) for k in p): sys.exit("flow.h5 differs from one process")
'
# Outside an allocation the script says what is wrong.
rc=0; bash "$ex/slurm-mpi.sh" x.h5 y.h5 ot2.h5 2>err.txt || rc=$?
[[ $rc != 0 ]] && grep -q "sbatch" err.txt || fail "outside SLURM the recipe must refuse to run"
echo "SLURM MPI recipe: 2 tasks give the file of one process (sinkhorn and train-flow)"
