#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "tests/support/actor_node.hpp"
#include "tests/support/msgpack_envelope.hpp"
#include "tests/support/random_messages.hpp"

using namespace troupe;

TEST_CASE("every message type survives CAF's serialization as a registered message") {
  test::ActorSystemConfig config;
  caf::actor_system system{config};
  test::Random r(77);
  for (int i = 0; i < 300; ++i) {
    test::for_each_message_type(r, [&](const auto& value) {
      using T = std::decay_t<decltype(value)>;
      // As it would cross nodes: a message holding the value, by the registered type name.
      caf::message sent = caf::make_message(value);
      std::vector<char> bytes;
      caf::binary_serializer sink{system, bytes};
      REQUIRE_FALSE(sink(sent));
      caf::message received;
      caf::binary_deserializer source{system, bytes};
      REQUIRE_FALSE(source(received));
      REQUIRE(received.match_elements<T>());
      REQUIRE(received.get_as<T>(0) == value);
    });
  }
}

TEST_CASE("across nodes a message is its msgpack encoding, so an older node's join is understood") {
  test::ActorSystemConfig config;
  caf::actor_system system{config};
  const wire::JoinRequest join{1, "r1", "SmolLM2", 1.0, 4};
  std::vector<char> bytes;
  caf::binary_serializer sink{system, bytes};
  REQUIRE_FALSE(sink(caf::make_message(join)));
  const std::string encoded = wire::encode(join);
  CHECK(std::search(bytes.begin(), bytes.end(), encoded.begin(), encoded.end()) != bytes.end());

  // What an older release's node puts on the wire for its JoinRequest: CAF's framing of the
  // payload (a string) around that release's msgpack, which lacked `capacity`.
  std::vector<char> old_bytes;
  caf::binary_serializer old_sink{system, old_bytes};
  std::string old_payload = test::old_join_request();
  REQUIRE_FALSE(old_sink(old_payload));
  wire::JoinRequest received;
  caf::binary_deserializer source{system, old_bytes};
  REQUIRE_FALSE(source(received));
  CHECK(received == wire::JoinRequest{1, "r-old", "SmolLM2", 2.5, 0});

  // Bytes that are no message at all are an error, not a crash.
  std::vector<char> junk;
  caf::binary_serializer junk_sink{system, junk};
  std::string garbage = "\x93\x01";
  REQUIRE_FALSE(junk_sink(garbage));
  caf::binary_deserializer junk_source{system, junk};
  CHECK(junk_source(received));
}
