#include <catch2/catch.hpp>
#include <chrono>
#include <future>

#include "net/http/resolve_within.hpp"

using namespace troupe;
using namespace std::chrono_literals;

TEST_CASE("a lookup that does not answer is left behind at the deadline") {
  std::promise<void> answer;
  auto answered = answer.get_future().share();
  const auto start = std::chrono::steady_clock::now();
  const auto result = http::resolve_within(
      [answered]() -> Result<http::Addresses> {
        answered.wait();  // a DNS server that never answers, until the test is done
        return make_error("released");
      },
      50ms);
  const auto waited = std::chrono::steady_clock::now() - start;
  answer.set_value();
  REQUIRE_FALSE(result);
  CHECK(result.message() == "no address within 50 ms");
  CHECK(waited < 5s);  // bounded by the deadline, not by the lookup
}

TEST_CASE("a lookup's answer and its failure come back as they are") {
  const auto found = http::resolve_within(http::system_lookup("127.0.0.1", "443"), 10s);
  REQUIRE(found);
  CHECK(found->begin()->endpoint().port() == 443);
  const auto failed = http::resolve_within(
      []() -> Result<http::Addresses> { return make_error("Host not found"); }, 10s);
  REQUIRE_FALSE(failed);
  CHECK(failed.message() == "Host not found");
}
