#include "net/http/response_bytes.hpp"

#include <boost/beast/http/status.hpp>
#include <cstdio>

namespace troupe::http {
namespace {

std::string head(int status, const std::string& content_type, const Headers& headers,
                 bool keep_alive) {
  const auto reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(reason.data(), reason.size());
  out += "\r\nServer: troupe\r\n";
  if (!content_type.empty()) out += "Content-Type: " + content_type + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  return out;
}

}  // namespace

std::string response_bytes(const Response& response, bool keep_alive, bool to_head) {
  std::string out = head(response.status, response.content_type, response.headers, keep_alive);
  // RFC 9110 8.6: a 1xx, 204 or 304 has no body and sends no Content-Length.
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  if (bodiless) return out + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
  if (!to_head) out += response.body;
  return out;
}

std::string stream_head_bytes(int status, const std::string& content_type, const Headers& headers,
                              bool keep_alive) {
  return head(status, content_type, headers, keep_alive) +
         "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
}

std::string chunk_bytes(std::string_view data) {
  if (data.empty()) return {};
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out = size;
  out.append(data);
  out += "\r\n";
  return out;
}

}  // namespace troupe::http
