#!/usr/bin/env bash
# Every shell example of README.md and docs/*.md runs as written, page by page,
# after the blocks before it (tests/cli/docs_examples.py says how: one fresh
# folder per page, blocks that cannot run here are marked in the page, long
# runs shrunk by a table in that script).
. "$(dirname "$0")/lib.sh"
need_data
/usr/bin/python3 "$ORBIT_SOURCE_DIR/tests/cli/docs_examples.py" "$ORBIT_SOURCE_DIR" "$@"
