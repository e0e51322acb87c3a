#pragma once
// RFC 9112's rules for a request's head that Beast leaves to the server, checked before the body
// is read: message framing (a Transfer-Encoding must end in chunked, which is the only coding
// understood, and never comes with a Content-Length: the ambiguity request smuggling lives on),
// header fields that must appear at most once, Host on HTTP/1.1, and the request target's form
// (origin-form, or absolute-form, which a server must accept, reduced to its path). Pure: plain
// strings in, a verdict out.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::http {

struct RequestHead {
  std::string method;
  std::string target;                                       // as sent
  int version = 11;                                         // 10 or 11
  std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased, in order
};

struct HeadProblem {
  int status;  // 400, or 501 for a transfer coding the server does not implement
  std::string message;
};

// The first rule `head` breaks, or nullopt.
std::optional<HeadProblem> check_request_head(const RequestHead& head);

// The path and query of an origin-form ("/v1/models?x") or absolute-form
// ("http://host:8000/v1/models?x") target; "*" stays "*". nullopt for anything else.
std::optional<std::string> origin_form(std::string_view target);

}  // namespace troupe::http
