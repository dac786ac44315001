#!/usr/bin/env bash
# The SLURM recipes run as written: the array script's body, run with the
# variables SLURM sets for `--array=0-3`, `--array=1-4` and `--array=0-6:2`,
# followed by the merge script, gives the file of one unsharded run; the
# submit script hands sbatch the array and a merge that depends on it.
. "$(dirname "$0")/lib.sh"
ex=$ORBIT_SOURCE_DIR/share/orbit/examples
py "
import h5py, numpy as np
rng = np.random.default_rng(3)
with h5py.File('clouds.h5', 'w') as f:
    f['points'] = rng.normal(size=(10, 900, 3))
"
orbit-transform clouds.h5 --random-rotation uniform --crop 0.7 --noise 0.01 --resample 717 --seed 1 -q -o one.h5
# run_array DIR MIN MAX STEP [COUNT]: every task of one array, in reverse order.
run_array() {
  local dir=$1 min=$2 max=$3 step=$4 id
  for ((id = max; id >= min; id -= step)); do
    [[ $(( (id - min) % step )) == 0 ]] || continue
    env SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=$min SLURM_ARRAY_TASK_MAX=$max SLURM_ARRAY_TASK_STEP=$step \
        SLURM_CPUS_PER_TASK=1 ${5:+SLURM_ARRAY_TASK_COUNT=$5} bash "$ex/slurm-array.sh" clouds.h5 "$dir" 2>/dev/null \
      || fail "array task $id of $min-$max:$step failed"
  done
  bash "$ex/slurm-merge.sh" "$dir" || fail "merge of $dir failed"
}
same() { py "
import h5py, numpy as np, sys
a, b = h5py.File('$1'), h5py.File('$2')
for k in ('points', 'transform', 'indices'):
    if not np.array_equal(a[k][:], b[k][:]): sys.exit('$2: /' + k + ' differs from the unsharded run')
"; }
run_array zero 0 3 1 4 && same one.h5 zero/all.h5
run_array one 1 4 1 && same one.h5 one/all.h5          # older SLURM: no SLURM_ARRAY_TASK_COUNT
run_array stepped 0 6 2 4 && same one.h5 stepped/all.h5
[[ $(ls zero) == $'all.h5\npart-1-of-4.h5\npart-2-of-4.h5\npart-3-of-4.h5\npart-4-of-4.h5' ]] || fail "unexpected files: $(ls zero)"
# Outside an array the task script says what is wrong.
rc=0; bash "$ex/slurm-array.sh" clouds.h5 x 2>err.txt || rc=$?
[[ $rc != 0 ]] && grep -q "sbatch --array" err.txt || fail "a task outside an array must refuse to run"
rc=0; bash "$ex/slurm-merge.sh" empty-dir 2>err.txt || rc=$?
[[ $rc == 1 ]] && grep -q "no slices" err.txt || fail "merge of an empty folder must fail clearly"
# The submit script, against a stand-in sbatch that records its arguments.
mkdir bin
cat > bin/sbatch <<'SB'
#!/usr/bin/env bash
echo "$*" >> "$SBATCH_LOG"
n=$(wc -l < "$SBATCH_LOG"); echo "$((1000 + n));cluster"
SB
chmod +x bin/sbatch
out=$(PATH=$PWD/bin:$PATH SBATCH_LOG=$PWD/sbatch.log bash "$ex/slurm-submit.sh" clouds.h5 out 8)
[[ $out == "array job 1001, merge job 1002" ]] || fail "submit printed: $out"
grep -q -- "^--parsable --array=0-7 $ex/slurm-array.sh clouds.h5 out$" sbatch.log || fail "array submission: $(cat sbatch.log)"
grep -q -- "^--parsable --dependency=afterok:1001 $ex/slurm-merge.sh out$" sbatch.log || fail "merge submission: $(cat sbatch.log)"
echo "SLURM recipes: 0-based, 1-based and stepped arrays merge to the unsharded file"
