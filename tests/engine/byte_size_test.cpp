#include <catch2/catch.hpp>

#include "engine/serve/byte_size.hpp"

using troupe::parse_byte_size;

TEST_CASE("byte size: binary and decimal suffixes") {
  CHECK(*parse_byte_size("1000") == 1000);
  CHECK(*parse_byte_size("2GiB") == 2ll << 30);
  CHECK(*parse_byte_size("2Gi") == 2ll << 30);
  CHECK(*parse_byte_size("512MiB") == 512ll << 20);
  CHECK(*parse_byte_size("1.5KiB") == 1536);
  CHECK(*parse_byte_size("4GB") == 4000000000ll);
  CHECK(*parse_byte_size("3k") == 3000);
  CHECK(*parse_byte_size("1TiB") == 1ll << 40);
}

TEST_CASE("byte size: anything else is an error that shows the format") {
  for (const char* bad :
       {"", "GiB", "2XB", "2 GiB", "-1", "1e3", "2GiBB", "1.2.3", "2i", "99999999999TiB"}) {
    INFO(bad);
    auto r = parse_byte_size(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.message(), Catch::Contains("2GiB"));
  }
}
