#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "net/wire/codec.hpp"
#include "tests/support/msgpack_envelope.hpp"
#include "tests/support/random_messages.hpp"

using namespace troupe;
using namespace troupe::wire;

namespace {

using test::Random;

template <typename T>
void round_trip(const T& value) {
  auto back = decode<T>(encode(value));
  REQUIRE(back.ok());
  REQUIRE(*back == value);
}

}  // namespace

TEST_CASE("every message type round-trips through msgpack (1000 random values each)") {
  Random r(1234);
  for (int i = 0; i < 1000; ++i) {
    test::for_each_message_type(r, [](const auto& value) { round_trip(value); });
  }
}

TEST_CASE(
    "floats and doubles of exactly 2^64 round-trip (msgpack-c's integer test is undefined there)") {
  // The fuzzer's find: msgpack-c converts such a value to uint64_t to ask whether it is one.
  const double two_64 = std::ldexp(1.0, 64);
  TokenDelta delta;
  delta.request_id = "r";
  delta.queue_seconds = two_64;
  delta.embedding = {static_cast<float>(two_64), 1.0f, -static_cast<float>(two_64), 0.5f};
  round_trip(delta);
  JoinRequest join;
  join.node = "n";
  join.weight = std::nextafter(two_64, 0.0);  // the integers below it still pack as integers
  round_trip(join);
}

TEST_CASE("decoding refuses the wrong kind, version or field type with a message naming it") {
  const std::string delta = encode(TokenDelta{"r1", 0, {}, FinishReason::stop, -1, {}});
  auto wrong_kind = decode<EngineRequest>(delta);
  REQUIRE_FALSE(wrong_kind.ok());
  CHECK(wrong_kind.message() == "wire: expected a engine_request message, got token_delta");

  std::string future = delta;
  future[1] = static_cast<char>(kSchemaVersion + 1);  // [version, ...]: version is byte 1
  auto wrong_version = decode<TokenDelta>(future);
  REQUIRE_FALSE(wrong_version.ok());
  CHECK(wrong_version.message().find("schema version 2") != std::string::npos);

  // {"index": "zero"} where an integer belongs.
  std::string bad = delta;
  const auto at = bad.find("index");
  REQUIRE(at != std::string::npos);
  bad.replace(at + 5, 1, std::string("\xa4zero", 5));  // the value 0 becomes "zero"
  auto wrong_type = decode<TokenDelta>(bad);
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.message() == "wire: field 'index' must be an integer");

  CHECK_FALSE(decode<TokenDelta>("").ok());
  CHECK_FALSE(decode<TokenDelta>("\x93").ok());  // an array of 3 with nothing in it
}

TEST_CASE("a rolling update: an older release's message and a newer one's both decode") {
  // The older release had no `capacity`: it takes its default.
  auto old = decode<JoinRequest>(test::old_join_request());
  REQUIRE(old.ok());
  CHECK(*old == JoinRequest{1, "r-old", "SmolLM2", 2.5, 0});
  // A newer release added fields this one does not know: they are ignored.
  auto newer = decode<JoinRequest>(
      test::old_join_request({{"capacity", test::value(int32_t{8})},
                              {"zone", test::value(std::string("eu-1"))},
                              {"gpus", test::value(std::vector<int32_t>{0, 1})}}));
  REQUIRE(newer.ok());
  CHECK(*newer == JoinRequest{1, "r-old", "SmolLM2", 2.5, 8});
  // A release that changed what a field means bumps the version: refused, naming both.
  const auto bumped = test::envelope(kSchemaVersion + 1, "join_request", {});
  CHECK_THAT(decode<JoinRequest>(bumped).message(),
             Catch::Contains("schema version 2 is not supported (this build speaks 1)"));
}

TEST_CASE("corrupted and truncated payloads give errors, never a crash (fuzz, fixed seed)") {
  Random r(99);
  int decoded = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes =
        i % 2 ? encode(EngineRequest{r.text(), {1, 2, 3}, r.sampling(), 0})
              : encode(TokenDelta{r.text(), r.int32(), r.token(), FinishReason::length, -1, {}});
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
    const bool ok = i % 2 ? decode<EngineRequest>(bytes).ok() : decode<TokenDelta>(bytes).ok();
    (ok ? decoded : refused)++;
  }
  CHECK(refused > 10000);  // most corruptions are caught
  CHECK(decoded + refused == 20000);
}
