#include <catch2/catch.hpp>

#include "tests/support/actor_node.hpp"
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
