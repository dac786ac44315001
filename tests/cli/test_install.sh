#!/usr/bin/env bash
# liborbit installs as a library: `cmake --install` into a fresh prefix, then a
# small external program (share/orbit/examples/cxx) builds and runs against the
# installed tree through pkg-config and through find_package(Orbit), with the
# shared library and with the static archive.
. "$(dirname "$0")/lib.sh"
: "${ORBIT_BUILD_DIR:?}"
need_data
P=$TMP/prefix
cmake --install "$ORBIT_BUILD_DIR" --prefix "$P" >install.log || fail "cmake --install: $(tail -3 install.log)"
[[ -f $P/lib/liborbit.a && -e $P/lib/liborbit.so ]] || fail "liborbit.a / liborbit.so not installed"
[[ -f $P/include/orbit/registration/register.hpp && -f $P/include/orbit/core/version.hpp ]] || fail "headers not installed"
[[ -x $P/bin/orbit-register && -f $P/share/man/man1/orbit-register.1 ]] || fail "tools or man pages not installed"

orbit-convert "$ORBIT_DATA/meshes/bunny00.off" --sample 1500 --seed 1 -q -o bunny.h5

# A library built with the sanitizers (make test-sanitize) needs programs
# built with them too: the ASan runtime must be the first library loaded.
san=()
grep -qs "ORBIT_SANITIZE:BOOL=ON" "$ORBIT_BUILD_DIR/CMakeCache.txt" && san=(-fsanitize=address,undefined)

# pkg-config, shared library (the .pc file carries an rpath to the installed lib/).
flags=$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs orbit) || fail "pkg-config does not find orbit"
g++ -std=c++20 -O1 "${san[@]}" "$ORBIT_SOURCE_DIR/share/orbit/examples/cxx/align.cpp" $flags -o align_pc 2>build.log \
  || fail "build with pkg-config: $(head -5 build.log)"
./align_pc bunny.h5 > out.txt || fail "align (pkg-config) failed: $(cat out.txt)"
grep -q "^liborbit .*RRE" out.txt || fail "unexpected output: $(cat out.txt)"
loaded=$(ldd ./align_pc | awk '/liborbit/ {print $3}')
[[ -n $loaded && $(realpath "$loaded") == $(realpath "$P"/lib/liborbit.so) ]] \
  || fail "align_pc loads '$loaded', not the installed liborbit.so"

# find_package(Orbit): Orbit::orbit (shared) and Orbit::orbit_static.
CMAKE_PREFIX_PATH=$P cmake -S "$ORBIT_SOURCE_DIR/share/orbit/examples/cxx" -B cm -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="${san[*]}" >cm.log 2>&1 \
  || fail "configure with find_package(Orbit): $(tail -5 cm.log)"
cmake --build cm -j 2 >>cm.log 2>&1 || fail "build with find_package(Orbit): $(grep -m3 -i error cm.log)"
LD_LIBRARY_PATH=$P/lib ./cm/align bunny.h5 >/dev/null || fail "align (Orbit::orbit) failed"
./cm/align_static bunny.h5 >/dev/null || fail "align_static (Orbit::orbit_static) failed"
! ldd ./cm/align_static | grep -q liborbit || fail "align_static should not need liborbit.so"
echo "installed liborbit builds external programs with pkg-config and find_package: $(cat out.txt)"
