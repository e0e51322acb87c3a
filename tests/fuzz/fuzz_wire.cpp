// libFuzzer entry point for the msgpack wire codec: any bytes, decoded as every message type,
// must give a value or a clear error, never a crash, a leak or an unbounded allocation; and a
// value that decodes must encode and decode to itself.
//
//   make fuzz FUZZ_SECONDS=300    (builds tests/fuzz/* with clang and runs each)
//
// With TROUPE_FUZZ_SEED_DIR set, the first run writes one valid message of each type there.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "net/wire/codec.hpp"
#include "tests/support/random_messages.hpp"

using namespace troupe;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("TROUPE_FUZZ_SEED_DIR");
  if (!dir || !std::filesystem::is_empty(dir)) return 0;
  test::Random r(1);
  int n = 0;
  test::for_each_message_type(r, [&](const auto& value) {
    std::ofstream(std::filesystem::path(dir) / ("seed-" + std::to_string(n++)), std::ios::binary)
        << wire::encode(value);
  });
  return 0;
}

namespace {

template <typename T>
void check(std::string_view bytes) {
  auto decoded = wire::decode<T>(bytes);
  if (!decoded) return;
  // What decodes must encode to bytes that decode again (equality is not asked: NaN != NaN).
  if (!wire::decode<T>(wire::encode(*decoded))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check<wire::EngineRequest>(bytes);
  check<wire::TokenDelta>(bytes);
  check<wire::ReplicaStats>(bytes);
  check<wire::SubmitReply>(bytes);
  check<wire::RequestFailure>(bytes);
  check<wire::WorkerStatus>(bytes);
  check<wire::HealthReport>(bytes);
  check<StepPlan>(bytes);
  check<StepResult>(bytes);
  check<GenerateRequest>(bytes);
  check<GenerationChunk>(bytes);
  check<GenerationEnd>(bytes);
  return 0;
}
