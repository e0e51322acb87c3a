// libFuzzer entry point for the GGUF reader and everything that reads a model's metadata: the
// parser, the model config, the weight table and the tokenizer vocabulary must turn any bytes
// into a value or a clear error, never an out-of-bounds read or a crash.
//
//   make fuzz FUZZ_SECONDS=300    (builds tests/fuzz/* with clang and runs each)
//
// With TROUPE_FUZZ_SEED_DIR set, the first run writes tiny valid models (llama, qwen2) there to
// start the corpus from.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/gguf/gguf_file.hpp"
#include "engine/model/model_config.hpp"
#include "engine/model/model_weights.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/vocabulary.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("TROUPE_FUZZ_SEED_DIR");
  if (!dir || !std::filesystem::is_empty(dir)) return 0;
  for (const char* arch : {"llama", "qwen2"}) {
    const auto bytes = test::tiny_model_gguf({.architecture = arch, .layers = 1});
    std::ofstream(std::filesystem::path(dir) / (std::string(arch) + ".gguf"), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = gguf::File::parse({reinterpret_cast<const std::byte*>(data), size});
  if (!file) return 0;
  auto config = read_model_config(**file);
  if (config) (void)load_model_weights(*file, *config);
  auto vocabulary = load_vocabulary(**file);
  if (vocabulary) {
    auto tokenizer = Tokenizer::create(std::move(*vocabulary));
    if (tokenizer) (void)tokenizer->encode("Hello <|im_start|> world 123", true, true);
  }
  return 0;
}
