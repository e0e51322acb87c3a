#include <catch2/catch.hpp>

#include "engine/serve/engine_config.hpp"

using namespace troupe;

TEST_CASE("a CPU server's step budget: 256 tokens a thread, 512 to 2048") {
  CHECK(cpu_max_num_batched_tokens(0) == 512);  // (a pool always has a thread)
  CHECK(cpu_max_num_batched_tokens(1) == 512);
  CHECK(cpu_max_num_batched_tokens(2) == 512);
  CHECK(cpu_max_num_batched_tokens(3) == 768);
  CHECK(cpu_max_num_batched_tokens(8) == 2048);
  CHECK(cpu_max_num_batched_tokens(96) == 2048);
}
