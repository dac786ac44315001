#!/usr/bin/env bash
# Size limits that keep the code readable (scripts/check-function-length.py): a
# library function under 120 lines of code, a tool at most 150 lines with a
# main() of at most 60; and the check does fail on a tree that breaks them.
. "$(dirname "$0")/lib.sh"
check=$ORBIT_SOURCE_DIR/scripts/check-function-length.py
# Known excesses, in code whose split is under way; remove a line when it is done.
known=()
/usr/bin/python3 "$check" --check "${known[@]}" "$ORBIT_SOURCE_DIR" > report.txt || { cat report.txt; fail "a function or tool is over its limit"; }

# A copy of the tree, broken three ways.
mkdir -p tree/lib/orbit/core tree/tools
{
  echo 'namespace orbit { int long_one(int x) {'
  for i in $(seq 1 125); do echo "  x += $i;"; done
  echo '  return x; } }'
} > tree/lib/orbit/core/long.cpp
rc=0; /usr/bin/python3 "$check" --check tree > out.txt 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a 127-line library function passed the check"
grep -q "lib/orbit/core/long.cpp:1: long_one is 127 lines" out.txt || fail "wrong message: $(cat out.txt)"
rm tree/lib/orbit/core/long.cpp
{
  echo 'int main(int argc, char** argv) {'
  for i in $(seq 1 70); do echo "  argc += $i;  // \"{\" in a string and a comment: {"; done
  echo '  return argc; }'
} > tree/tools/big.cpp
rc=0; /usr/bin/python3 "$check" --check tree > out.txt 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a 72-line main passed the check"
grep -q "tools/big.cpp: main() is 72 lines" out.txt || fail "wrong message: $(cat out.txt)"
for i in $(seq 1 90); do echo "// line $i"; done >> tree/tools/big.cpp
rc=0; /usr/bin/python3 "$check" --check tree > out.txt 2>&1 || rc=$?
grep -q "tools/big.cpp: 162 lines (a tool is at most 150)" out.txt || fail "wrong message: $(cat out.txt)"
rc=0; /usr/bin/python3 "$check" --check --allow tools/big.cpp --allow tools/big.cpp:main tree > out.txt 2>&1 || rc=$?
[[ $rc == 0 ]] || fail "--allow did not accept a known excess: $(cat out.txt)"
echo "functions and tools within their limits"
