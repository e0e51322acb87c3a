# The two set-up commands of the README: `make serve` and `make test`. Each installs what is
# missing (Debian packages), builds, fetches the default model, then serves or tests.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
TROUPE := $(BUILD)/cli/troupe

.PHONY: all deps build model serve test test-asan clean

all: build

deps:
	scripts/setup-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j$(JOBS)

model: build
	scripts/fetch-model $(TROUPE)

# Until the HTTP server lands, `serve` runs a generation demo on the default model.
serve: model
	@echo "troupe: the HTTP server is not built yet; running a 'troupe generate' demo instead."
	$(TROUPE) generate --chat --temperature 0 --max-tokens 64 --prompt "What is the capital of France?"

test: model
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, then all tests.
test-asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Asan

clean:
	rm -rf build build-asan
