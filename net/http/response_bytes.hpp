#pragma once
// HTTP/1.1 responses as the bytes that go on the wire: a complete response with Content-Length,
// or the head of a chunked one and its chunks. Pure functions, so framing is tested without
// sockets.
#include <string>
#include <string_view>

#include "net/http/http_exchange.hpp"

namespace troupe::http {

// `to_head`: the answer to a HEAD request, its head alone (the body's length, no body: the
// client reads none, so bytes after the head would be taken for the next response).
std::string response_bytes(const Response& response, bool keep_alive, bool to_head = false);
std::string stream_head_bytes(int status, const std::string& content_type, const Headers& headers,
                              bool keep_alive);
std::string chunk_bytes(std::string_view data);  // empty data gives nothing: 0 ends the body
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace troupe::http
