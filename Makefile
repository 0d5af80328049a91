# baton: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing Debian packages first (scripts/deps.sh), then build with
# CMake. `make` alone builds everything into build/.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
RUN_ARGS   ?=

.PHONY: all deps build asan run test format clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBATON_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Builds, then starts batond in the foreground on its embedded store.
run: build
	./$(BUILD)/batond $(RUN_ARGS)

# Builds the release and the ASan+UBSan trees and runs every test tier in both.
test: deps
	@bash scripts/test.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
