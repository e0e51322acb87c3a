#pragma once
// Splits a Server-Sent Events byte stream into the data of its events, across arbitrary piece
// boundaries: "data: x\n\n" (or "data:x", as TGI writes) gives "x"; lines may end in CRLF. Other
// fields and comments are skipped.
#include <functional>
#include <string>
#include <string_view>

namespace troupe::http {

class SseReader {
 public:
  void feed(std::string_view bytes, const std::function<void(std::string_view data)>& on_event);

 private:
  std::string pending_;  // bytes of an event not yet ended by a blank line
};

}  // namespace troupe::http
