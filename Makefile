# Thin wrapper around CMake. `make demo` and `make test` do all the set-up on
# a fresh Debian 12 machine (missing packages are installed with apt-get).
BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc)
DATA    ?= $(CURDIR)/.cache/data
CMAKE_FLAGS ?=

.PHONY: all deps deps-bench deps-fuzz configure build demo test test-sanitize fuzz fuzz-build data bench install man clean model

all: build

deps:
	@scripts/deps.sh build

deps-bench:
	@scripts/deps.sh bench

deps-fuzz:
	@scripts/deps.sh fuzz

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DORBIT_DATA_DIR=$(DATA) $(CMAKE_FLAGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

data:
	@scripts/fetch-data.sh $(DATA)

# The UDPReg registration model, the trainer's default recipe (about 8 minutes of CPU on
# two idle cores), from the training meshes only (never the ones in
# share/orbit/data/eval-shapes.txt).
MODEL ?= $(BUILD)/udpreg-model.h5
model: configure data
	cmake --build $(BUILD) -j $(JOBS) --target orbit-convert orbit-train-register
	@set -e; work=$$(mktemp -d); trap 'rm -rf "$$work"' EXIT; \
	for m in $$(cat $(DATA)/meshes/train-shapes.txt); do \
	  $(BUILD)/bin/orbit-convert $(DATA)/meshes/$$m.off --sample 2048 --seed 1 --normalize -o "$$work/$$m.h5" -q; \
	done; \
	$(BUILD)/bin/orbit-train-register "$$work"/*.h5 --seed 1 -o $(MODEL)

demo: build data
	@ORBIT_BIN=$(CURDIR)/$(BUILD)/bin ORBIT_DATA=$(DATA) share/orbit/demo.sh

# With clang on the machine, the tests also run every fuzz target for a few
# seconds and every regression input (FUZZ_CI_SECONDS per target).
FUZZ_BUILD       ?= $(BUILD)-fuzz
FUZZ_SECONDS     ?= 60
FUZZ_CI_SECONDS  ?= 5
test: build data
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@if command -v clang++ >/dev/null && scripts/deps.sh fuzz --check; then \
	  $(MAKE) --no-print-directory fuzz-build && fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_CI_SECONDS); \
	else echo "orbit: clang/libFuzzer not installed, fuzz targets skipped (make deps-fuzz)"; fi

fuzz-build:
	cmake -S . -B $(FUZZ_BUILD) -DORBIT_FUZZ=ON -DORBIT_SANITIZE=ON -DORBIT_NATIVE=OFF -DORBIT_TESTS=OFF \
	  -DORBIT_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-targets

# Every fuzz target for FUZZ_SECONDS, then every regression input.
fuzz: deps-fuzz fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The whole suite under AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (CUDA off: nvcc's code is not instrumented, and
# the CUDA runtime does not start beside ASan's shadow memory). Debug keeps the assertions (Eigen's bounds checks
# included) at -O1, ASan's recommended level: at -O0 the numerical tests run
# tens of times slower. Any UBSan finding ends its test (no recovery); leaks
# fail it, except those fuzz/lsan.supp lists: leaks inside third-party
# libraries only (docs/robustness.md says which and why). The premise of the
# Assimp suppression is checked first: orbit never takes ownership of an
# Assimp scene. cli_test_hardening feeds every input of fuzz/regressions
# through the sanitized tools; with clang and libFuzzer installed they also
# run through the sanitized fuzz targets. SANITIZE_TIMEOUT: seconds per test.
SANITIZE_TIMEOUT ?= 3600
SANITIZE_ENV = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0
test-sanitize: deps data
	@! grep -rnE 'GetOrphanedScene|aiImportFile|aiReleaseImport' lib tools || \
	  { echo "orbit: Assimp scenes owned by orbit code: fuzz/lsan.supp's libassimp entry would hide their leaks" >&2; exit 1; }
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g1 -O1" \
	  -DCMAKE_CXX_FLAGS=-fno-sanitize-recover=undefined -DORBIT_SANITIZE=ON -DORBIT_NATIVE=OFF -DORBIT_CUDA=OFF \
	  -DORBIT_DATA_DIR=$(DATA)
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && $(SANITIZE_ENV) ctest --output-on-failure -j $(JOBS) --timeout $(SANITIZE_TIMEOUT)
	@if command -v clang++ >/dev/null && scripts/deps.sh fuzz --check; then \
	  $(MAKE) --no-print-directory fuzz-build && fuzz/run.sh $(FUZZ_BUILD) 0; \
	else echo "orbit: clang/libFuzzer not installed, regression inputs ran through the tools only (make deps-fuzz)"; fi

bench: build data deps-bench
	@ORBIT_BIN=$(CURDIR)/$(BUILD)/bin ORBIT_DATA=$(DATA) bench/run-all.sh

man: build
	cp $(BUILD)/man/*.1 man/

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(FUZZ_BUILD)
