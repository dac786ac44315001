#!/usr/bin/env bash
# mpirun -n 2 and -n 3: distributed Sinkhorn (balanced, unbalanced, partial,
# the divergence, float32; input from standard input) gives the potentials and
# results of one process, data-parallel flow (also its checkpoints and their
# resumption on another number of ranks), registration and canonicalizer
# training the same model bits; an error on the ranks ends
# the run with one line and no output. Skipped without MPI.
. "$(dirname "$0")/lib.sh"
grep -q '^ORBIT_HAVE_MPI_BUILT:INTERNAL=ON' "$ORBIT_BUILD_DIR/CMakeCache.txt" 2>/dev/null ||
  { echo "skip: orbit was built without MPI (install libopenmpi-dev openmpi-bin and reconfigure)"; exit 77; }
command -v mpirun >/dev/null || { echo "skip: no mpirun on PATH"; exit 77; }
# Open MPI refuses root unless told; CI containers run as root.
[[ $(id -u) != 0 ]] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
# Open MPI leaks at MPI_Finalize (ompi_op_base_op_select, and plugins it unloads
# before LeakSanitizer runs, so no suppression can name them): in a sanitized
# build the ranks check memory errors and undefined behaviour but not leaks
# (docs/robustness.md); the same tools' leaks are checked by the single-process tests.
grep -qs "ORBIT_SANITIZE:BOOL=ON" "$ORBIT_BUILD_DIR/CMakeCache.txt" && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi() { local n=$1; shift; mpirun --oversubscribe -n "$n" "$@"; }

py '
import h5py, numpy as np
r = np.random.default_rng(5)
with h5py.File("x.h5", "w") as f: f["points"] = r.normal(size=(203, 3))
with h5py.File("y.h5", "w") as f: f["points"] = r.normal(size=(170, 3)) + 0.4
n = 2400; u = r.random(n) * 4 - 2; v = r.random(n) - r.integers(0, 2, n) * 2 + np.floor(u) % 2
with h5py.File("t.h5", "w") as f: f["points"] = np.stack([u, v], 1)
'
# same A B: the potentials agree to 1e-12 relative, the scalar results too.
same() { py "
import h5py, numpy as np, sys
a, b = h5py.File('$1'), h5py.File('$2')
for k in ('f', 'g'):
    x, y = a[k][()], b[k][()]
    if not np.allclose(x, y, rtol=1e-12, atol=1e-12 * np.abs(x).max()): sys.exit('$2: /' + k + ' differs from one process')
for k in ('cost', 'dual', 'primal', 'iterations', 'marginal_error', 'mass'):
    if k in a.attrs and not np.isclose(a.attrs[k], b.attrs[k], rtol=1e-12, atol=0): sys.exit('$2: ' + k + ' differs')
"; }
run() {  # run NAME OPTIONS...: one process, then 2 and 3 ranks
  local name=$1; shift
  orbit-sinkhorn x.h5 y.h5 "$@" -j 1 -q -o "$name-1.h5" || fail "$name: one process failed"
  for n in 2 3; do
    mpi "$n" orbit-sinkhorn x.h5 y.h5 "$@" -j 1 -q -o "$name-$n.h5" || fail "$name: $n ranks failed"
    same "$name-1.h5" "$name-$n.h5"
  done
}
run balanced --eps 0.01 --scaling 0.5 --tol 1e-4
run unbalanced --eps 0.05 --rho 0.5 --tol 1e-6
run partial --eps 0.05 --mass 0.6 --tol 1e-6
run float32 --eps 0.05 --precision float32 --tol 1e-5 --overrelax 1.5
orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.1 --scaling 0.7 -j 1 -q -o div-1.h5
mpi 3 orbit-sinkhorn x.h5 y.h5 --divergence --blur 0.1 --scaling 0.7 -j 1 -q -o div-3.h5 --json > div.json
same div-1.h5 div-3.h5
py 'import json; s = json.load(open("div.json")); assert s["converged"], s'   # one summary, from rank 0

# The invocation of the docs, and only rank 0 speaks.
mpi 2 orbit-sinkhorn x.h5 y.h5 --eps 0.01 --scaling 0.5 --tol 1e-4 -j 1 -o ot.h5 2>err.txt
[[ $(grep -c '^orbit-sinkhorn: cost' err.txt) == 1 ]] || fail "expected one result line: $(cat err.txt)"

# Errors: not converged (every rank knows), and unreadable input; one line, exit 1, no output.
mpi_error() {
  local rc=0; mpi 2 "$@" >out.txt 2>err.txt </dev/null || rc=$?
  [[ $rc != 0 ]] || fail "expected a failure: $*"
  [[ $(grep -c '^orbit-[a-z-]*: error: ' err.txt) == 1 ]] || fail "expected one error line: $* :: $(cat err.txt)"
}
mpi_error orbit-sinkhorn x.h5 y.h5 --eps 0.001 --max-iter 2 -o bad.h5
grep -q 'did not converge' err.txt || fail "wrong message: $(cat err.txt)"
mpi_error orbit-sinkhorn x.h5:/nothing y.h5 --eps 0.01 -o bad.h5
[[ ! -e bad.h5 ]] || fail "a failed run left an output"

# Input from standard input reaches every rank (rank 0 reads it and broadcasts it).
for n in 2 3; do
  mpi "$n" orbit-sinkhorn - y.h5 --eps 0.01 --scaling 0.5 --tol 1e-4 -j 1 -q -o "stdin-$n.h5" < x.h5 ||
    fail "$n ranks: input from standard input failed"
  same balanced-1.h5 "stdin-$n.h5"
done

# Training: the same model bits for 1, 2 and 3 ranks.
same_model() { py "
import h5py, numpy as np, sys
def sets(name):
    out = {}
    h5py.File(name).visititems(lambda k, o: out.__setitem__(k, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out
a, b = sets('$1'), sets('$2')
assert a.keys() == b.keys() and len(a) > 10, (len(a), len(b))
bad = [k for k in a if not np.array_equal(a[k], b[k])]
if bad: sys.exit('$2: ' + ', '.join(bad[:3]) + ' differ from one process')
"; }
orbit-train-flow t.h5 --model nsf --layers 2 --hidden 16 --epochs 1 --seed 3 -j 1 -q -o flow-1.h5
for n in 2 3; do
  mpi "$n" orbit-train-flow t.h5 --model nsf --layers 2 --hidden 16 --epochs 1 --seed 3 -j 1 -q -o "flow-$n.h5"
  same_model flow-1.h5 "flow-$n.h5"
done
# Checkpoints: each rank holds the Adam moments of its slice of the parameters
# only while training; the file written after --stop-after (with the moments)
# has the bits of one process, and resuming it on another number of ranks
# gives the model of one process. --clip 0.5 makes every step clip.
flow=(t.h5 --model nsf --layers 2 --hidden 16 --seed 3 --clip 0.5 -j 1 -q)
orbit-train-flow "${flow[@]}" --epochs 3 --stop-after 1 -o part-1.h5
orbit-train-flow t.h5 --resume part-1.h5 --epochs 3 -j 1 -q -o resumed-1.h5
for n in 2 3; do
  mpi "$n" orbit-train-flow "${flow[@]}" --epochs 3 --stop-after 1 -o "part-$n.h5"
  same_model part-1.h5 "part-$n.h5"
  py "import h5py, sys; sys.exit(0 if 'model/optimizer/m' in h5py.File('part-$n.h5') else 'part-$n.h5: no optimizer state')"
  m=$((5 - n))  # the checkpoint of 2 ranks resumed on 3, that of 3 on 2
  mpi "$m" orbit-train-flow t.h5 --resume "part-$n.h5" --epochs 3 -j 1 -q -o "resumed-$n.h5"
  same_model resumed-1.h5 "resumed-$n.h5"
done
# The learned registration trainer: each rank records its share of every step's pairs.
py '
import numpy as np, h5py
rng = np.random.default_rng(2)
u = rng.normal(size=(3, 500, 3)); u /= np.linalg.norm(u, axis=2, keepdims=True)
r = 1 + 0.25 * np.sin(3 * u[..., 0] + 1) * np.cos(2 * u[..., 1]) + 0.1 * u[..., 1]
with h5py.File("shapes.h5", "w") as f: f["points"] = u * r[..., None]
'
reg=(--epochs 2 --warmup 1 --pairs 6 --batch 3 --passes 1 --points 150 --val-pairs 2 --seed 4 --hidden 16 --features 8 --components 4)
orbit-train-register shapes.h5 "${reg[@]}" -j 1 -q -o reg-1.h5
for n in 2 3; do
  mpi "$n" orbit-train-register shapes.h5 "${reg[@]}" -j 1 -q -o "reg-$n.h5"
  same_model reg-1.h5 "reg-$n.h5"
done
# The learned canonicalizer trainer: each rank records its share of every step's clouds.
can=(--group SO3 --seed 2 --epochs 2 --batch 3 --lr 0.01 --hidden 8)
orbit-train-canonicalizer shapes.h5 "${can[@]}" -j 1 -q -o canon-1.h5
for n in 2 3; do
  mpi "$n" orbit-train-canonicalizer shapes.h5 "${can[@]}" -j 1 -q -o "canon-$n.h5"
  same_model canon-1.h5 "canon-$n.h5"
done
echo "MPI: Sinkhorn (also from standard input), flow, registration and canonicalizer training over 2 and 3 ranks match one process"
