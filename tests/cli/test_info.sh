#!/usr/bin/env bash
# orbit-info on a dataset of a foreign file (FILE:/data, as the docs show for
# ModelNet files) and the attributes of datasets and groups in text mode.
. "$(dirname "$0")/lib.sh"
py '
import h5py, numpy as np
with h5py.File("ply_data_test0.h5", "w") as f:
    f["data"] = np.zeros((4, 16, 3), "f4")
    f["data"].attrs["units"] = "m"
    f["label"] = np.zeros((4, 1), "u1")
    g = f.create_group("meta")
    g.attrs["source"] = "scanner"
    g["ids"] = np.arange(4)
'
orbit-info ply_data_test0.h5:/data > one.txt
grep -q "^  /data  \[4,16,3\] float32$" one.txt || fail "FILE:/data not described: $(cat one.txt)"
! grep -q "/label" one.txt || fail "FILE:/data listed other datasets"
grep -q "units = m" one.txt || fail "dataset attributes missing in text mode"
orbit-info ply_data_test0.h5:/data --json | py 'import json,sys; j = json.load(sys.stdin); assert [d["path"] for d in j["datasets"]] == ["/data"] and j["datasets"][0]["attributes"]["units"] == "m"'
orbit-info ply_data_test0.h5 > all.txt
grep -q "/meta/  (group)" all.txt && grep -q "source = scanner" all.txt || fail "group attributes missing: $(cat all.txt)"
orbit-info ply_data_test0.h5:/meta --json | py 'import json,sys; j = json.load(sys.stdin); assert [d["path"] for d in j["datasets"]] == ["/meta/ids"]; assert j["groups"][0]["attributes"]["source"] == "scanner"'
expect_error 1 orbit-info ply_data_test0.h5:/nope
grep -q "no dataset or group '/nope'" "$TMP/.err" || fail "unexpected message: $(cat "$TMP/.err")"
echo "orbit-info describes datasets and groups"
