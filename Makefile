# Thin wrapper over CMake: `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2
FUZZ_SECONDS ?= 600

.PHONY: deps configure build test test-sanitize test-sanitize-unit demo bench bench-compare fuzz clean

deps:
	bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

# Everything: the library, the crmt command, the tests, the benchmark programs.
build: configure
	cmake --build $(BUILD) -j$(JOBS)

# Each goal builds only what it runs: the demo the crmt command, the tests the test binaries (and
# the crmt command they start) plus the benchmark programs, so that those keep compiling.
TEST_TARGETS = crmt_tests crmt_integration_tests crmt_device_tests crmt_bench crmt_step_timer crmt_crown_cost
test: configure
	cmake --build $(BUILD) -j$(JOBS) --target $(TEST_TARGETS)
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its own build folder.
# Leak checking is off: LibTorch and eSpeak keep process-lifetime allocations.
test-sanitize: deps
	cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRMT_SANITIZE=ON -DCRMT_BUILD_BENCH=OFF
	cmake --build build-sanitize -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-sanitize --output-on-failure -j$(JOBS) $(SANITIZE_CTEST_ARGS)

# CI's share of the above (docs/reliability.md): the unit tests (ctest label `unit`: crmt_tests,
# which neither train a model nor run the command-line tool), under the same sanitizers, built at
# -O1 with line tables only.
test-sanitize-unit: deps
	cmake -S . -B build-sanitize-unit -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCRMT_SANITIZE=ON -DCRMT_BUILD_BENCH=OFF
	cmake --build build-sanitize-unit -j$(JOBS) --target crmt_tests
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-sanitize-unit --output-on-failure -j$(JOBS) -L unit

demo: configure
	cmake --build $(BUILD) -j$(JOBS) --target crmt_cli
	./$(BUILD)/crmt demo

bench: configure
	cmake --build $(BUILD) -j$(JOBS) --target crmt_bench
	./$(BUILD)/crmt_bench

# crmt against PyTorch (Debian's python3-torch, installed here) on the same work, CPU, 1 and 2
# threads, alternating runs: prints the table of docs/performance.md. Not a test; about 15 minutes.
bench-compare: configure
	cmake --build $(BUILD) -j$(JOBS) --target crmt_step_timer
	bash scripts/install-deps.sh --bench
	python3 bench/compare.py --timer $(BUILD)/crmt_step_timer $(COMPARE_ARGS)

clean:
	rm -rf $(BUILD)

# libFuzzer on the readers of untrusted input (clang; see fuzz/run.sh).
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)
