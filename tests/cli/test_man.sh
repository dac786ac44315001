#!/usr/bin/env bash
# Man pages come from the same option declarations as --help: every option in
# --help is in the man page, and the man pages in man/ are current.
. "$(dirname "$0")/lib.sh"
found=0
for tool in "$ORBIT_BIN"/orbit-*; do
  name=$(basename "$tool")
  found=$((found + 1))
  "$tool" --help > help.txt
  "$tool" --help-man > man.1
  upper=${name^^}
  grep -qF ".TH ${upper//-/\\-} 1" man.1 || fail "$name: man page header"
  # Every long option of --help appears in the man page (roff escapes '-' as '\-').
  for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' help.txt | sort -u); do
    esc=${opt//-/\\-}
    grep -qF -- "$esc" man.1 || fail "$name: $opt is in --help but not in the man page"
  done
  # And every option of the man page is in --help.
  for opt in $(grep -oE -- '\\-\\-[a-z][a-z0-9\\-]*' man.1 | sed 's/\\-/-/g' | sort -u); do
    grep -qF -- "$opt" help.txt || fail "$name: $opt is in the man page but not in --help"
  done
  committed="$ORBIT_SOURCE_DIR/man/$name.1"
  [[ -f $committed ]] || fail "$name: man/$name.1 is missing (run make man)"
  diff -q <(sed 1d "$committed") <(sed 1d man.1) >/dev/null || fail "$name: man/$name.1 is stale (run make man)"
done
((found >= 3)) || fail "no tools found in $ORBIT_BIN"
echo "man pages agree with --help for $found tools"
