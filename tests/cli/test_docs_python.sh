#!/usr/bin/env bash
# docs/python.md runs as written: its sh blocks, then its Python blocks in
# order as one script (they build on each other), from a folder laid out like
# the repository root after `make data`. Every check the page prints is true.
. "$(dirname "$0")/lib.sh"
need_data
py "import h5py" 2>/dev/null || { echo "skip: python3-h5py is not installed"; exit 77; }
mkdir -p .cache && ln -s "$ORBIT_DATA" .cache/data
page=$ORBIT_SOURCE_DIR/docs/python.md
/usr/bin/python3 - "$page" <<'PY'
import re, subprocess, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"```(sh|python)\n(.*?)```", text, re.S)
assert any(k == "python" for k, _ in blocks), "no python blocks found"
script = ""
for kind, code in blocks:
    if kind == "sh":
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", code], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("FAIL: sh block exited %d: %s\n%s" % (r.returncode, code.strip()[:200], r.stderr[-500:]))
    else:
        script += code
r = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True)
if r.returncode != 0:
    sys.exit("FAIL: python blocks: " + r.stderr[-800:])
if re.search(r"\bFalse\b", r.stdout):
    sys.exit("FAIL: a check printed False:\n" + r.stdout)
print("docs/python.md: %d blocks ran; output:\n%s" % (len(blocks), r.stdout[-400:]))
PY
