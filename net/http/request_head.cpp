#include "net/http/request_head.hpp"

#include <cctype>

namespace troupe::http {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The transfer codings of every Transfer-Encoding line, in order, lower-cased, parameters cut.
std::vector<std::string> transfer_codings(const RequestHead& head) {
  std::vector<std::string> codings;
  for (const auto& [name, value] : head.fields) {
    if (name != "transfer-encoding") continue;
    std::string_view rest = value;
    while (true) {
      const auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      item = trim(item.substr(0, item.find(';')));
      if (!item.empty()) codings.push_back(lower(item));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return codings;
}

size_t count_field(const RequestHead& head, std::string_view name) {
  size_t n = 0;
  for (const auto& field : head.fields) n += field.first == name;
  return n;
}

bool has_field(const RequestHead& head, std::string_view name) {
  return count_field(head, name) > 0;
}

}  // namespace

std::optional<std::string> origin_form(std::string_view target) {
  if (target == "*") return std::string(target);
  if (!target.empty() && target.front() == '/') return std::string(target);
  const auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const std::string scheme = lower(target.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  const std::string_view rest = target.substr(scheme_end + 3);
  const auto path = rest.find_first_of("/?");
  if (path == 0 || rest.empty()) return std::nullopt;  // no authority
  if (path == std::string_view::npos) return std::string("/");
  if (rest[path] == '?') return "/" + std::string(rest.substr(path));
  return std::string(rest.substr(path));
}

std::optional<HeadProblem> check_request_head(const RequestHead& head) {
  const auto codings = transfer_codings(head);
  if (has_field(head, "transfer-encoding")) {
    if (head.version < 11) {
      return HeadProblem{400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
    }
    if (has_field(head, "content-length")) {
      return HeadProblem{400, "a request may not carry both Transfer-Encoding and Content-Length"};
    }
    if (codings.empty() || codings.back() != "chunked") {
      return HeadProblem{400, "the final transfer coding must be chunked"};
    }
    if (codings.size() > 1) {  // chunked last, and something before it
      if (codings.front() == "chunked") return HeadProblem{400, "chunked may be applied only once"};
      return HeadProblem{501, "transfer coding '" + codings.front() +
                                  "' is not implemented (send the body with chunked alone)"};
    }
  }
  for (const char* name : {"authorization", "host", "content-length", "content-type"}) {
    if (count_field(head, name) > 1) {
      return HeadProblem{400, std::string("more than one ") + name + " header"};
    }
  }
  if (head.version >= 11 && !has_field(head, "host")) {
    return HeadProblem{400, "an HTTP/1.1 request needs a Host header"};
  }
  const auto target = origin_form(head.target);
  if (!target) return HeadProblem{400, "malformed request target"};
  if (*target == "*" && head.method != "OPTIONS") {
    return HeadProblem{400, "the target '*' is only for OPTIONS"};
  }
  return std::nullopt;
}

}  // namespace troupe::http
