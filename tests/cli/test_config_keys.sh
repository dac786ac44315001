#!/usr/bin/env bash
# --config files: keys are long option names; a key that names no option, an
# underscore spelling or a section is refused (exit 2, one line naming the key
# and the closest option) instead of being ignored.
. "$(dirname "$0")/lib.sh"
py '
import numpy as np, h5py
with h5py.File("cloud.h5", "w") as f:
    f["points"] = np.random.default_rng(0).normal(size=(300, 3))
'
check_config() {  # check_config TEXT PATTERN
  printf '%s\n' "$1" > c.toml
  expect_error 2 orbit-transform cloud.h5 --config c.toml -o out.h5
  grep -qF -- "$2" "$TMP/.err" || fail "config '$1': expected '$2' in: $(cat "$TMP/.err")"
  [[ ! -e out.h5 ]] || fail "config '$1': an output was written"
}
check_config 'crpo = 0.5' "unknown key 'crpo' (did you mean 'crop'?)"
check_config 'random_rotation = "uniform"' "unknown key 'random_rotation' (write it with dashes: 'random-rotation')"
check_config $'[transform]\ncrop = 0.5' "unknown section 'transform'"
check_config 'zzzzzzzzzz = 1' "unknown key 'zzzzzzzzzz' (keys are the long option names of --help)"
# A correct file still works.
printf 'crop = 0.5\nseed = 2\n' > ok.toml
orbit-transform cloud.h5 --config ok.toml -q -o ok.h5
py 'import h5py; assert h5py.File("ok.h5")["points"].shape == (150, 3)'
# The registration tool checks its keys too (every tool shares the shell).
printf 'metod = "icp"\n' > r.toml
expect_error 2 orbit-register cloud.h5 cloud.h5 --config r.toml -o T.h5
grep -qF "did you mean 'method'?" "$TMP/.err" || fail "orbit-register: $(cat "$TMP/.err")"
echo "config keys are checked"
