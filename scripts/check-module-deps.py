#!/usr/bin/env python3
"""Checks that CMakeLists.txt says which liborbit modules each module uses.

Usage: scripts/check-module-deps.py [SOURCE_DIR]

The rule, for every `orbit_module(NAME DEPS ...)` line of CMakeLists.txt:

  * modules: the orbit_* entries of DEPS are exactly the modules whose headers
    lib/orbit/NAME/ includes (`#include "orbit/OTHER/..."`), directly. A module
    used but not declared fails, and so does one declared but not used: a
    module that only reaches another through a third still declares it, so
    the line tells a reader what the code includes without following a chain.
  * packages: a module that includes a package's header (<hdf5.h>,
    <nanoflann.hpp>, ...) reaches that package's target through DEPS, its own
    or those of the modules it declares (packages are public interfaces, so
    reaching one through io is the truth when io's headers expose it).

Prints one line per violation and exits 1; exits 0 with a summary otherwise.
"""
import os
import re
import sys

# Package headers (by their include prefix) and the CMake target that provides them.
PACKAGES = {
    "Eigen/": "Eigen3::Eigen",
    "unsupported/Eigen/": "Eigen3::Eigen",
    "hdf5.h": "HDF5::HDF5",
    "nlohmann/": "nlohmann_json::nlohmann_json",
    "CLI/": "CLI11::CLI11",
    "nanoflann.hpp": "nanoflann::nanoflann",
    "omp.h": "OpenMP::OpenMP_CXX",
    "png.h": "PNG::PNG",
    "zlib.h": "ZLIB::ZLIB",
    "assimp/": "assimp::assimp",
    "cuda_runtime.h": None,  # CUDA::cudart, added by orbit_module itself when CUDA is on
}


def declared_modules(cmake_text):
    """{module: [deps...]} from the orbit_module(...) calls (one call may span lines)."""
    out = {}
    for m in re.finditer(r"^\s*orbit_module\(([^)]*)\)", cmake_text, re.M):
        words = m.group(1).split()
        name, deps = words[0], words[1:]
        if deps and deps[0] == "DEPS":
            deps = deps[1:]
        out[name] = deps
    return out


def includes(module_dir):
    """(orbit modules, package targets) that the sources of one module include."""
    mods, pkgs = set(), set()
    for root, _, files in os.walk(module_dir):
        for f in files:
            if not f.endswith((".cpp", ".hpp", ".cu", ".in")):
                continue
            with open(os.path.join(root, f), encoding="utf-8") as src:
                for line in src:
                    m = re.match(r'\s*#\s*include\s+"orbit/([a-z_]+)/', line)
                    if m:
                        mods.add(m.group(1))
                        continue
                    m = re.match(r"\s*#\s*include\s+<([^>]+)>", line)
                    if m:
                        for prefix, target in PACKAGES.items():
                            if m.group(1).startswith(prefix) and target:
                                pkgs.add(target)
    return mods, pkgs


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8") as f:
        decl = declared_modules(f.read())
    lib = os.path.join(src, "lib", "orbit")
    problems = []
    on_disk = sorted(d for d in os.listdir(lib) if os.path.isdir(os.path.join(lib, d)))
    for d in on_disk:
        if d not in decl:
            problems.append(f"lib/orbit/{d}/ has no orbit_module({d} ...) line in CMakeLists.txt")

    def reach(name, seen=None):
        """Every dependency entry reachable from a module through DEPS."""
        seen = set() if seen is None else seen
        for dep in decl.get(name, []):
            if dep not in seen:
                seen.add(dep)
                if dep.startswith("orbit_"):
                    reach(dep[len("orbit_"):], seen)
        return seen

    for name, deps in sorted(decl.items()):
        mods, pkgs = includes(os.path.join(lib, name))
        mods.discard(name)
        declared = {d[len("orbit_"):] for d in deps if d.startswith("orbit_")}
        for m in sorted(mods - declared):
            problems.append(f"{name}: includes orbit/{m}/ headers but does not declare orbit_{m}")
        for m in sorted(declared - mods):
            problems.append(f"{name}: declares orbit_{m} but includes none of its headers")
        reachable = reach(name)
        for p in sorted(pkgs - reachable):
            problems.append(f"{name}: includes headers of {p}, which its DEPS do not reach")
    for p in problems:
        print("module deps: " + p)
    if problems:
        return 1
    print(f"module deps: {len(decl)} modules declare exactly the modules they include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
