# Thin wrapper over CMake: `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2

.PHONY: deps configure build test demo bench clean

deps:
	bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

demo: build
	./$(BUILD)/crmt demo

bench: build
	./$(BUILD)/crmt_bench

clean:
	rm -rf $(BUILD)
