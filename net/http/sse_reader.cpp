#include "net/http/sse_reader.hpp"

namespace troupe::http {

void SseReader::feed(std::string_view bytes,
                     const std::function<void(std::string_view data)>& on_event) {
  // CRLF line ends become LF (a bare CR is not used by any server we read; JSON escapes it).
  for (char c : bytes) {
    if (c != '\r') pending_ += c;
  }
  size_t start = 0;
  for (;;) {
    const size_t end = pending_.find("\n\n", start);
    if (end == std::string::npos) break;
    std::string_view event(pending_.data() + start, end - start);
    std::string data;
    while (!event.empty()) {
      const size_t newline = event.find('\n');
      std::string_view line = event.substr(0, newline);
      event = newline == std::string_view::npos ? std::string_view() : event.substr(newline + 1);
      if (line.substr(0, 5) != "data:") continue;
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (!data.empty()) data += '\n';
      data.append(line);
    }
    on_event(data);
    start = end + 2;
  }
  pending_.erase(0, start);
}

}  // namespace troupe::http
