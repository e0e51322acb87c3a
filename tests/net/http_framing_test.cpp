#include <catch2/catch.hpp>

#include "net/http/http_client.hpp"
#include "net/http/response_bytes.hpp"
#include "net/http/sse_reader.hpp"

using namespace troupe::http;

TEST_CASE("a complete response carries its length and the connection's fate") {
  Response r{404, "application/json", "{}", {{"Retry-After", "1"}}};
  CHECK(response_bytes(r, true) ==
        "HTTP/1.1 404 Not Found\r\nServer: troupe\r\nContent-Type: application/json\r\n"
        "Connection: keep-alive\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\n{}");
  CHECK(response_bytes(r, false).find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("a HEAD's answer is the head alone; a 204 has no length and no body") {
  Response r{200, "application/json", "{\"ok\":1}", {}};
  const std::string head = response_bytes(r, true, /*to_head=*/true);
  CHECK(head.find("Content-Length: 8\r\n\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");  // no body bytes follow
  Response preflight{204, "", "", {{"Access-Control-Max-Age", "600"}}};
  CHECK(response_bytes(preflight, true) ==
        "HTTP/1.1 204 No Content\r\nServer: troupe\r\nConnection: keep-alive\r\n"
        "Access-Control-Max-Age: 600\r\n\r\n");
}

TEST_CASE("a stream is chunked: hex sizes, and a zero chunk ends it") {
  const std::string head = stream_head_bytes(200, "text/event-stream", {}, true);
  CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(head.find("Content-Length") == std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  CHECK(chunk_bytes(std::string(26, 'x')) == "1a\r\n" + std::string(26, 'x') + "\r\n");
  CHECK(chunk_bytes("").empty());  // an empty chunk would end the body early
  CHECK(kLastChunk == "0\r\n\r\n");
}

TEST_CASE("the SSE reader gives each event's data across any split of the bytes") {
  const std::string stream =
      "data: {\"a\":1}\n\ndata:{\"b\":2}\r\n\r\n: a comment\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
  for (size_t split = 0; split <= stream.size(); ++split) {
    SseReader reader;
    std::vector<std::string> events;
    auto collect = [&](std::string_view data) { events.emplace_back(data); };
    reader.feed(std::string_view(stream).substr(0, split), collect);
    reader.feed(std::string_view(stream).substr(split), collect);
    REQUIRE(events.size() == 4);
    CHECK(events[0] == "{\"a\":1}");
    CHECK(events[1] == "{\"b\":2}");
    CHECK(events[2] == "x\ny");  // the comment line is skipped, data lines join with \n
    CHECK(events[3] == "[DONE]");
  }
}

TEST_CASE("URLs: host, port and a base path") {
  auto url = parse_url("http://example.org:8080/base/");
  REQUIRE(url);
  CHECK(url->host == "example.org");
  CHECK(url->port == "8080");
  CHECK(url->path == "/base");
  auto plain = parse_url("http://127.0.0.1");
  REQUIRE(plain);
  CHECK(plain->port == "80");
  CHECK(plain->path.empty());
  CHECK_FALSE(parse_url("https://example.org"));
  CHECK_FALSE(parse_url("http://"));
  CHECK_FALSE(parse_url("example.org"));
}
