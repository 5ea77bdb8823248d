# Thin wrapper over CMake: `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2
FUZZ_SECONDS ?= 600

.PHONY: deps configure build test test-sanitize test-sanitize-unit demo bench bench-compare fuzz clean

deps:
	bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its own build folder.
# Leak checking is off: LibTorch and eSpeak keep process-lifetime allocations.
test-sanitize: deps
	cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRMT_SANITIZE=ON -DCRMT_BUILD_BENCH=OFF
	cmake --build build-sanitize -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-sanitize --output-on-failure -j$(JOBS) $(SANITIZE_CTEST_ARGS)

# CI's share of the above (docs/reliability.md): the unit tests that neither train a model nor run
# the command-line tool, under the same sanitizers, built at -O1 with line tables only to fit CI.
SANITIZE_UNIT_EXCLUDE = Cli|RadiiSurvive|KillAndResume|Distributed|TwoProcessesEqualOne|BadInput|BaselineMethods|Lipschitz|ApgdOnAModel|ApgdCheckOnAModel|Embedded|Trainer|Study|Sweep|FinalStages|Report|PaperFigures|Tsne|Pretrained|ResNet|AuditGuaranteed|MakeFixture|PrepareVideos
test-sanitize-unit: deps
	cmake -S . -B build-sanitize-unit -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCRMT_SANITIZE=ON -DCRMT_BUILD_BENCH=OFF
	cmake --build build-sanitize-unit -j$(JOBS) --target crmt_tests
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-sanitize-unit --output-on-failure -j$(JOBS) -E '$(SANITIZE_UNIT_EXCLUDE)'

demo: build
	./$(BUILD)/crmt demo

bench: build
	./$(BUILD)/crmt_bench

# crmt against PyTorch (Debian's python3-torch, installed here) on the same work, CPU, 1 and 2
# threads, alternating runs: prints the table of docs/performance.md. Not a test; about 15 minutes.
bench-compare: build
	bash scripts/install-deps.sh --bench
	python3 bench/compare.py --timer $(BUILD)/crmt_step_timer $(COMPARE_ARGS)

clean:
	rm -rf $(BUILD)

# libFuzzer on the readers of untrusted input (clang; see fuzz/run.sh).
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)
