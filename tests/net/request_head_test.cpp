// RFC 9112's checks of a request's head (net/http/request_head) and the bounded JSON parse that
// every body goes through (net/api/bounded_json).
#include <catch2/catch.hpp>

#include "net/api/bounded_json.hpp"
#include "net/http/request_head.hpp"

using troupe::http::check_request_head;
using troupe::http::origin_form;
using troupe::http::RequestHead;

namespace {

RequestHead head(std::vector<std::pair<std::string, std::string>> fields,
                 std::string target = "/v1/models", int version = 11, std::string method = "POST") {
  return {std::move(method), std::move(target), version, std::move(fields)};
}

int status_of(const RequestHead& h) {
  const auto problem = check_request_head(h);
  return problem ? problem->status : 0;
}

}  // namespace

TEST_CASE("framing: only chunked, last, once, and never beside a Content-Length") {
  CHECK(status_of(head({{"host", "x"}, {"content-length", "5"}})) == 0);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", "chunked"}})) == 0);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", " Chunked ;x=1"}})) == 0);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", "gzip, chunked"}})) == 501);
  CHECK(status_of(head(
            {{"host", "x"}, {"transfer-encoding", "gzip"}, {"transfer-encoding", "chunked"}})) ==
        501);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", "chunked, chunked"}})) == 400);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", "chunked, gzip"}})) == 400);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", "identity"}})) == 400);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", ""}})) == 400);
  CHECK(status_of(head({{"host", "x"}, {"transfer-encoding", "gzip"}, {"content-length", "2"}})) ==
        400);
  CHECK(status_of(head(
            {{"host", "x"}, {"transfer-encoding", "chunked"}, {"content-length", "2"}})) == 400);
  CHECK(status_of(head({{"transfer-encoding", "chunked"}}, "/", 10)) == 400);
}

TEST_CASE("fields that must appear once, and Host on HTTP/1.1") {
  CHECK(status_of(head({{"host", "x"}, {"authorization", "a"}, {"authorization", "b"}})) == 400);
  CHECK(status_of(head({{"host", "x"}, {"host", "y"}})) == 400);
  CHECK(status_of(head({{"host", "x"}, {"content-length", "1"}, {"content-length", "1"}})) == 400);
  CHECK(status_of(head({})) == 400);
  CHECK(status_of(head({}, "/", 10)) == 0);  // HTTP/1.0 had no Host
  CHECK_THAT(check_request_head(head({}))->message, Catch::Contains("Host"));
}

TEST_CASE("targets: origin-form as is, absolute-form reduced to its path") {
  CHECK(origin_form("/v1/models?a=1") == "/v1/models?a=1");
  CHECK(origin_form("http://127.0.0.1:8000/v1/models") == "/v1/models");
  CHECK(origin_form("HTTPS://host/v1/chat/completions?x=1") == "/v1/chat/completions?x=1");
  CHECK(origin_form("http://host") == "/");
  CHECK(origin_form("http://host?q") == "/?q");
  CHECK(origin_form("*") == "*");
  CHECK_FALSE(origin_form("http:///path"));
  CHECK_FALSE(origin_form("http://"));
  CHECK_FALSE(origin_form("ftp://host/v1/models"));
  CHECK_FALSE(origin_form("host:80"));
  CHECK_FALSE(origin_form(""));
  CHECK(status_of(head({{"host", "x"}}, "*", 11, "OPTIONS")) == 0);
  CHECK(status_of(head({{"host", "x"}}, "*", 11, "GET")) == 400);
  CHECK(status_of(head({{"host", "x"}}, "host:80")) == 400);
}

TEST_CASE("JSON nesting is bounded before parsing; brackets in strings do not count") {
  using troupe::api::json_nesting_depth;
  using troupe::api::parse_bounded_json;
  CHECK(json_nesting_depth(R"({"a":[1,{"b":[]}]})", 100) == 4);
  CHECK(json_nesting_depth(R"({"a":"[[[[\"[[[", "b":[]})", 100) == 2);
  CHECK(json_nesting_depth(R"("\\" [[)", 100) == 2);  // an escaped backslash ends no string
  CHECK(json_nesting_depth(std::string(1'000'000, '['), 10) == 10);  // stops counting early
  const std::string ok = std::string(128, '[') + std::string(128, ']');
  const std::string deep = std::string(129, '[') + std::string(129, ']');
  CHECK(parse_bounded_json(ok).ok());
  REQUIRE_FALSE(parse_bounded_json(deep).ok());
  CHECK_THAT(parse_bounded_json(deep).message(), Catch::Contains("128 levels"));
  REQUIRE_FALSE(parse_bounded_json("{\"a\":").ok());
  CHECK_THAT(parse_bounded_json("{\"a\":").message(), Catch::StartsWith("not valid JSON"));
  CHECK(parse_bounded_json(std::string(300'000, '[') + std::string(300'000, ']'))
            .message()
            .find("128") != std::string::npos);
}
