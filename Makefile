# The two set-up commands of the README: `make serve` and `make test`. Each installs what is
# missing (Debian packages), builds, fetches the default model, then serves or tests.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
TROUPE := $(BUILD)/cli/troupe
# ccache keys on paths relative to the checkout, so fresh clones (CI) reuse earlier builds.
export CCACHE_BASEDIR := $(CURDIR)
# ... and caches the compilations that use a precompiled header (actors/CMakeLists.txt).
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime

.PHONY: all deps build model serve test test-asan clean fuzz

all: build

deps:
	scripts/setup-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j$(JOBS)

model: build
	scripts/fetch-model $(TROUPE)

# Serves the default model on port 8000 (ctrl-c drains and exits). PORT=N picks another port.
PORT ?= 8000
serve: model
	@echo "troupe: serving on http://localhost:$(PORT) (chat page at /). Try:"
	@echo "  curl http://localhost:$(PORT)/v1/chat/completions -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"messages\": [{\"role\": \"user\", \"content\": \"What is the capital of France?\"}]}'"
	$(TROUPE) serve --port $(PORT)

# One test at a time: the model tests use every core themselves, and two at once on a small
# machine spin against each other (ten times slower in all).
test: model
	ctest --test-dir $(BUILD) --output-on-failure

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, then all tests.
test-asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Asan

clean:
	rm -rf build build-asan build-fuzz

# libFuzzer targets (tests/fuzz, built with clang by their own CMake project), each for
# FUZZ_SECONDS over its committed corpus; make test runs each for 8 s.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= build-fuzz
fuzz: deps
	tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)
