# The two set-up commands of the README: `make serve` and `make test`. Each installs what is
# missing (Debian packages), builds, fetches the default model, then serves or tests.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
TROUPE := $(BUILD)/cli/troupe
# ccache keys on paths relative to the checkout, so fresh clones (CI) reuse earlier builds.
export CCACHE_BASEDIR := $(CURDIR)

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
	rm -rf build build-asan

# libFuzzer targets (clang): build each tests/fuzz/fuzz_*.cpp and run it for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= build-fuzz
FUZZ_FLAGS := -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. -DMSGPACK_NO_BOOST
# The parsers are what is fuzzed: the kernels build without their SIMD variants (scalar only).
FUZZ_ENGINE := $(wildcard engine/*/*.cpp) $(filter-out %_avx2.cpp %_avx512.cpp,$(wildcard kernels/cpu/*.cpp)) \
  $(wildcard net/*/*.cpp)
FUZZ_LIBS := -lyaml-cpp -lcrypto -lsqlite3 -lspdlog -lfmt -lpthread
fuzz: deps
	@command -v clang++ >/dev/null || apt-get install -y -qq clang libclang-rt-14-dev
	mkdir -p $(FUZZ_DIR)
	set -e; for src in tests/fuzz/fuzz_*.cpp; do \
	  name=$$(basename $$src .cpp); \
	  clang++ $(FUZZ_FLAGS) $$src $(FUZZ_ENGINE) $(FUZZ_LIBS) -o $(FUZZ_DIR)/$$name; \
	  mkdir -p $(FUZZ_DIR)/corpus-$$name; \
	  dict=tests/fuzz/$$name.dict; [ -f $$dict ] && dictflag=-dict=$$dict || dictflag=; \
	  TROUPE_FUZZ_SEED_DIR=$(FUZZ_DIR)/corpus-$$name $(FUZZ_DIR)/$$name $$dictflag \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 $(FUZZ_DIR)/corpus-$$name; \
	done
