#!/usr/bin/env python3
"""Runs the shell examples of README.md and docs/*.md as written.

Each page runs in a fresh folder laid out like the repository root after
`make data` (.cache/data is the data set; share/, fuzz/, scripts/ and bench/
are the source tree's), with the built tools first on PATH, then /usr/bin
(Debian's python3, with python3-h5py and python3-numpy, for the blocks that
make a ModelNet-style file or a model), and ORBIT_DATA set. Its
```sh, ```bash and bare ``` blocks run in order, each with `bash -euo
pipefail`, so a block may use only the files that earlier blocks of the same
page create or the data under ORBIT_DATA. Blocks fenced as ```text (syntax
lines, program output, layouts) are not examples and are not run.

A block that cannot run here (it needs root, apt, a cluster, the network, or
rebuilds the project) starts with a comment that says so and why:

    # not run by the docs test: installs Debian packages with apt-get

Such blocks are counted and printed, never run.

Pages that another test already runs as written are listed in
COVERED_ELSEWHERE and skipped here. Pages in KNOWN_FAILING run and are
reported, but do not fail the test (each entry says what is wrong).

Long runs are shrunk by SHRINK below: per page, exact text replacements
applied to the blocks before they run (fewer epochs, smaller sizes). Each
replacement must match the page, so the table cannot go stale silently.

Usage: docs_examples.py SOURCE_DIR [PAGE...]   (pages relative to SOURCE_DIR)
Environment: ORBIT_BIN (the built tools), ORBIT_DATA (the data set).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

NOT_RUN = re.compile(r"^\s*#\s*not run by the docs test:\s*(\S.*)$")
FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
RUN_KINDS = {"", "sh", "bash", "shell", "console"}
BLOCK_TIMEOUT = 150  # seconds; a block that takes longer is a failure

# Per page: (text as written, text the test runs). Keep each one small and
# obvious; a replacement that no longer matches the page is an error.
SHRINK = {
    "README.md": [
        ("--layers 8 --hidden 128 --bins 8 --epochs 200", "--layers 2 --hidden 16 --bins 4 --epochs 2"),
        ("--samples 32", "--samples 4"),
    ],
    "docs/orbit-sinkhorn.md": [
        ("--sample 20000", "--sample 2000"),
    ],
    "docs/orbit-train-flow.md": [
        ("--epochs 200", "--epochs 2"),
        ("--epochs 400", "--epochs 3"),
        ("--epochs 50", "--epochs 2"),
        ("--resample 4000", "--resample 320"),
        ("--patience 5 --plot-loss", "--patience 5 --epochs 2 --plot-loss"),
        ("--context digits.h5:/labels -o cond.h5", "--context digits.h5:/labels --epochs 2 -o cond.h5"),
        ("--manifold sphere -o sphere.h5", "--manifold sphere --epochs 2 -o sphere.h5"),
        ("--manifold so3 -o so3.h5", "--manifold so3 --epochs 2 -o so3.h5"),
        ("-o interp.h5", "--epochs 2 -o interp.h5"),
        ("-o pose.h5", "--epochs 2 -o pose.h5"),
    ],
    "docs/orbit-train-register.md": [
        ("train.h5 --seed 1 -o model.h5", "train.h5 --seed 1 --epochs 1 --points 64 --hidden 16 -o model.h5"),
        ("--rotation uniform -o model.h5", "--rotation uniform --epochs 1 --points 64 --hidden 16 -o model.h5"),
        ("--epochs 60", "--epochs 2"),
    ],
    "docs/orbit-canonicalize.md": [
        ("train.h5 --group SO3 --seed 1 -o canon.h5", "train.h5 --group SO3 --seed 1 --epochs 2 --hidden 8 -o canon.h5"),
    ],
    "docs/orbit-transform.md": [
        ("--copies 1000", "--copies 40"),
    ],
    "docs/orbit-eval-invariance.md": [
        ("--samples 32", "--samples 4"),
    ],
}

# Pages whose blocks another test runs as written, with more checks.
COVERED_ELSEWHERE = {
    "docs/python.md": "tests/cli/test_docs_python.sh runs its shell blocks and then its Python blocks",
}

# Pages whose examples are known not to run yet, with what is wrong. They are
# run and reported like the others; their failures do not fail the test, and
# a page listed here that passes is reported so the entry can be removed.
KNOWN_FAILING = {
}


def blocks_of(text):
    """(kind, code, line) for every fenced block of a page."""
    out = []
    for m in FENCE.finditer(text):
        out.append((m.group(1).lower(), m.group(2), text.count("\n", 0, m.start()) + 1))
    return out


def shrink(page, text):
    applied = []
    for old, new in SHRINK.get(page, []):
        if old not in text:
            raise SystemExit("FAIL: %s: the shrink table replaces %r, which the page no longer contains" % (page, old))
        text = text.replace(old, new)
        applied.append("%s -> %s" % (old, new))
    return text, applied


def layout_like_repo_root(folder, source, data):
    os.makedirs(os.path.join(folder, ".cache"))
    os.symlink(data, os.path.join(folder, ".cache", "data"))
    for entry in ("share", "fuzz", "scripts", "bench"):
        if os.path.exists(os.path.join(source, entry)):
            os.symlink(os.path.join(source, entry), os.path.join(folder, entry))


def sanitized_build():
    cache = os.path.join(os.environ.get("ORBIT_BUILD_DIR", ""), "CMakeCache.txt")
    return os.path.exists(cache) and "ORBIT_SANITIZE:BOOL=ON" in open(cache).read()


def block_env(env, code):
    """Under the sanitizers, mpirun's ranks check memory errors but not leaks:
    Open MPI leaks at MPI_Finalize (tests/cli/test_mpi.sh, docs/robustness.md)."""
    if "mpirun" not in code or not sanitized_build():
        return env
    out = dict(env)
    out["ASAN_OPTIONS"] = (out["ASAN_OPTIONS"] + ":" if out.get("ASAN_OPTIONS") else "") + "detect_leaks=0"
    return out


def run_page(source, page, env):
    text = open(os.path.join(source, page)).read()
    text, applied = shrink(page, text)
    ran, skipped, failures = 0, [], []
    folder = tempfile.mkdtemp(prefix="orbit-docs-")
    start = time.time()
    try:
        layout_like_repo_root(folder, source, env["ORBIT_DATA"])
        for kind, code, line in blocks_of(text):
            if kind not in RUN_KINDS:
                continue
            first = next((l for l in code.splitlines() if l.strip()), "")
            m = NOT_RUN.match(first)
            if m:
                skipped.append((line, m.group(1)))
                continue
            ran += 1
            try:
                r = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=folder, env=block_env(env, code),
                                   stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
                rc, err = r.returncode, r.stderr
            except subprocess.TimeoutExpired as e:
                rc, err = "timeout after %d s" % BLOCK_TIMEOUT, (e.stderr or b"").decode(errors="replace")
            if rc != 0:
                failures.append("%s:%d: block exited %s\n    %s\n    stderr: %s" % (
                    page, line, rc, code.strip().replace("\n", "\n    ")[:600], err.strip()[-600:].replace("\n", "\n    ")))
                break  # later blocks build on this one
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ran, skipped, failures, applied, time.time() - start


def main():
    source = os.path.abspath(sys.argv[1])
    pages = sys.argv[2:] or ["README.md"] + sorted(
        "docs/" + f for f in os.listdir(os.path.join(source, "docs")) if f.endswith(".md"))
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([env["ORBIT_BIN"], "/usr/bin", env.get("PATH", "")])
    env["HDF5_USE_FILE_LOCKING"] = "FALSE"
    total_ran = total_skipped = 0
    failed, known, fixed = [], [], []
    for page in pages:
        if page in COVERED_ELSEWHERE:
            print("%-36s not run here: %s" % (page, COVERED_ELSEWHERE[page]))
            continue
        ran, skipped, failures, applied, seconds = run_page(source, page, env)
        total_ran += ran
        total_skipped += len(skipped)
        status = "ok" if not failures else ("known failure" if page in KNOWN_FAILING else "FAIL")
        print("%-36s %2d blocks run, %d not run, %5.1f s  %s" % (page, ran, len(skipped), seconds, status))
        for line, why in skipped:
            print("    not run (line %d): %s" % (line, why))
        for a in applied:
            print("    shrunk: " + a)
        for f in failures:
            print("    " + f.replace("\n", "\n    "))
        if failures and page in KNOWN_FAILING:
            known.append(page)
        elif failures:
            failed.append(page)
        elif page in KNOWN_FAILING:
            fixed.append(page)
    print("%d blocks run, %d not run (marked), %d pages failed%s" % (
        total_ran, total_skipped, len(failed), ", %d known failures" % len(known) if known else ""))
    for page in known:
        print("known failure: %s: %s" % (page, KNOWN_FAILING[page]))
    for page in fixed:
        print("%s now runs: remove it from KNOWN_FAILING" % page)
    if failed:
        sys.exit("FAIL: examples that do not run as written: " + " ".join(failed))


if __name__ == "__main__":
    main()
