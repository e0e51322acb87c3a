#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>

#include "net/http/http_client.hpp"

using namespace troupe;
namespace asio = boost::asio;

TEST_CASE("the blocking client gives up on a server that never answers") {
  // A server that accepts (the kernel completes the handshake from the listen backlog) and then
  // reads nothing and says nothing.
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = std::to_string(silent.local_endpoint().port());
  const auto start = std::chrono::steady_clock::now();
  const auto response = http::fetch(http::Url{"127.0.0.1", port, ""}, "GET", "/health", {}, "", {},
                                    std::chrono::seconds(1));
  const auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(response);
  INFO(response.message());
  CHECK(response.message().find("timeout") != std::string::npos);
  CHECK(waited < std::chrono::seconds(10));
}
