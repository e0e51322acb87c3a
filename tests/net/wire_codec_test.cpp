#include <catch2/catch.hpp>
#include <random>

#include "net/wire/codec.hpp"

using namespace troupe;
using namespace troupe::wire;

namespace {

// Random values over each field's whole range, including the awkward ones (empty, negative,
// non-ASCII, huge).
struct Random {
  std::mt19937_64 rng;
  explicit Random(uint64_t seed) : rng(seed) {}

  int64_t integer(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }
  bool coin() { return integer(0, 1) == 1; }
  float real() {
    const float picks[] = {0.0f, -0.0f, 1e-30f, -2.5f, 3.25e10f, 0.7f};
    return coin() ? picks[integer(0, 5)] : std::uniform_real_distribution<float>(-5, 5)(rng);
  }
  std::string text() {
    const char* pieces[] = {"", "a", "é", "你好", "🙂", "\n", "\"", "\\u0000", "stop", " "};
    std::string s;
    for (int64_t i = integer(0, 6); i > 0; --i) s += pieces[integer(0, 9)];
    if (coin()) s.push_back('\0');
    return s;
  }
  template <typename F>
  auto list(F make, int max = 8) {
    std::vector<decltype(make())> v;
    for (int64_t i = integer(0, max); i > 0; --i) v.push_back(make());
    return v;
  }
  int32_t int32() { return static_cast<int32_t>(integer(INT32_MIN, INT32_MAX)); }
  int64_t int64() { return coin() ? integer(INT64_MIN, INT64_MAX) : integer(-3, 3); }

  SamplingParams sampling() {
    SamplingParams p;
    p.temperature = real(), p.top_p = real(), p.top_k = int32(), p.min_p = real();
    p.repetition_penalty = real(), p.presence_penalty = real(), p.frequency_penalty = real();
    p.logit_bias = list([&] { return std::pair<int32_t, float>(int32(), real()); });
    if (coin()) p.seed = static_cast<uint64_t>(integer(INT64_MIN, INT64_MAX));
    p.n = int32(), p.max_tokens = int32();
    p.stop = list([&] { return text(); });
    p.stop_token_ids = list([&] { return int32(); });
    p.ignore_eos = coin();
    p.logprobs = int32();
    return p;
  }
  SampledToken token() {
    SampledToken t;
    t.token = int32(), t.logprob = real();
    t.top = list([&] { return TokenLogprob{int32(), real()}; }, 5);
    return t;
  }
};

}  // namespace

TEST_CASE("every wire payload round-trips through msgpack (1000 random values each)") {
  Random r(1234);
  for (int i = 0; i < 1000; ++i) {
    EngineRequest req{r.text(), r.list([&] { return r.int32(); }, 50), r.sampling(), r.int32()};
    auto back = decode_engine_request(encode(req));
    REQUIRE(back.ok());
    REQUIRE(*back == req);

    TokenDelta delta{r.text(), r.int32(), r.token(), static_cast<FinishReason>(r.integer(0, 2))};
    auto delta_back = decode_token_delta(encode(delta));
    REQUIRE(delta_back.ok());
    REQUIRE(*delta_back == delta);

    ReplicaStats stats{
        r.text(),  r.int32(), r.int32(), r.int32(), r.int32(),
        r.int64(), r.int64(), r.int64(), r.int64(), r.coin() ? 0.0 : 1.5e-3 * r.int32()};
    auto stats_back = decode_replica_stats(encode(stats));
    REQUIRE(stats_back.ok());
    REQUIRE(*stats_back == stats);
  }
}

TEST_CASE("decoding refuses the wrong kind, version or field type with a message naming it") {
  const std::string delta = encode(TokenDelta{"r1", 0, {}, FinishReason::stop});
  auto wrong_kind = decode_engine_request(delta);
  REQUIRE_FALSE(wrong_kind.ok());
  CHECK(wrong_kind.message() == "wire: expected a engine_request message, got token_delta");

  std::string future = delta;
  future[1] = static_cast<char>(kSchemaVersion + 1);  // [version, ...]: version is byte 1
  auto wrong_version = decode_token_delta(future);
  REQUIRE_FALSE(wrong_version.ok());
  CHECK(wrong_version.message().find("schema version 2") != std::string::npos);

  // {"index": "zero"} where an integer belongs.
  std::string bad = delta;
  const auto at = bad.find("index");
  REQUIRE(at != std::string::npos);
  bad.replace(at + 5, 1, std::string("\xa4zero", 5));  // the value 0 becomes "zero"
  auto wrong_type = decode_token_delta(bad);
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.message() == "wire: field 'index' must be an integer");

  CHECK_FALSE(decode_token_delta("").ok());
  CHECK_FALSE(decode_token_delta("\x93").ok());  // an array of 3 with nothing in it
}

TEST_CASE("corrupted and truncated payloads give errors, never a crash (fuzz, fixed seed)") {
  Random r(99);
  int decoded = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes =
        i % 2 ? encode(EngineRequest{r.text(), {1, 2, 3}, r.sampling(), 0})
              : encode(TokenDelta{r.text(), r.int32(), r.token(), FinishReason::length});
    switch (r.integer(0, 2)) {
      case 0:  // flip a few bytes
        for (int64_t k = r.integer(1, 4); k > 0; --k) {
          bytes[static_cast<size_t>(r.integer(0, int64_t(bytes.size()) - 1))] =
              static_cast<char>(r.integer(0, 255));
        }
        break;
      case 1:  // cut it short
        bytes.resize(static_cast<size_t>(r.integer(0, int64_t(bytes.size()) - 1)));
        break;
      default:  // random garbage
        bytes = r.text() + std::string(static_cast<size_t>(r.integer(0, 64)), '\xdd');
    }
    const bool ok = i % 2 ? decode_engine_request(bytes).ok() : decode_token_delta(bytes).ok();
    (ok ? decoded : refused)++;
  }
  CHECK(refused > 10000);  // most corruptions are caught
  CHECK(decoded + refused == 20000);
}
