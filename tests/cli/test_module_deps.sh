#!/usr/bin/env bash
# CMakeLists.txt declares, for every liborbit module, exactly the modules whose
# headers it includes (scripts/check-module-deps.py); and the check does fail
# on a tree where a module includes an undeclared module or declares an unused one.
. "$(dirname "$0")/lib.sh"
check=$ORBIT_SOURCE_DIR/scripts/check-module-deps.py
/usr/bin/python3 "$check" "$ORBIT_SOURCE_DIR" || fail "module dependencies in CMakeLists.txt do not match the includes"

# A copy of the tree, broken two ways.
mkdir tree
cp "$ORBIT_SOURCE_DIR/CMakeLists.txt" tree/
cp -r "$ORBIT_SOURCE_DIR/lib" tree/
echo '#include "orbit/ot/sinkhorn.hpp"' >> tree/lib/orbit/geometry/kabsch.cpp
rc=0; /usr/bin/python3 "$check" tree > out.txt || rc=$?
[[ $rc == 1 ]] || fail "an undeclared include passed the check"
grep -q "geometry: includes orbit/ot/ headers but does not declare orbit_ot" out.txt || fail "wrong message: $(cat out.txt)"

cp "$ORBIT_SOURCE_DIR/lib/orbit/geometry/kabsch.cpp" tree/lib/orbit/geometry/kabsch.cpp
sed -i 's/^orbit_module(gmm DEPS orbit_core)/orbit_module(gmm DEPS orbit_core orbit_geometry)/' tree/CMakeLists.txt
rc=0; /usr/bin/python3 "$check" tree > out.txt || rc=$?
[[ $rc == 1 ]] || fail "an unused dependency passed the check"
grep -q "gmm: declares orbit_geometry but includes none of its headers" out.txt || fail "wrong message: $(cat out.txt)"

# A package header reached through no declared dependency.
sed -i 's/^orbit_module(gmm DEPS orbit_core orbit_geometry)/orbit_module(gmm DEPS orbit_core)/' tree/CMakeLists.txt
echo '#include <nanoflann.hpp>' >> tree/lib/orbit/gmm/gmm.cpp
rc=0; /usr/bin/python3 "$check" tree > out.txt || rc=$?
[[ $rc == 1 ]] || fail "an unreachable package passed the check"
grep -q "gmm: includes headers of nanoflann::nanoflann" out.txt || fail "wrong message: $(cat out.txt)"
echo "module dependencies match the includes"
