// libFuzzer entry point for the checks of a request's head (net/http/request_head) and the
// bounded JSON parse every body goes through (net/api/bounded_json): any bytes, read as a head
// (a request line, then "name: value" lines), must give a verdict and never a crash; a target
// that origin_form accepts is a path; and the nesting bound must agree with the parse it guards.
//
//   make fuzz FUZZ_SECONDS=300    (builds tests/fuzz/* with clang and runs each)
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/api/bounded_json.hpp"
#include "net/http/request_head.hpp"

using namespace troupe;

namespace {

http::RequestHead head_from(std::string_view text) {
  http::RequestHead head;
  const auto end_of_line = text.find('\n');
  std::string_view line = text.substr(0, end_of_line);
  const auto space = line.find(' ');
  head.method = std::string(line.substr(0, space));
  if (space != std::string_view::npos) {
    line.remove_prefix(space + 1);
    const auto second = line.find(' ');
    head.target = std::string(line.substr(0, second));
    head.version =
        line.substr(second == std::string_view::npos ? line.size() : second + 1) == "HTTP/1.0" ? 10
                                                                                               : 11;
  }
  if (end_of_line == std::string_view::npos) return head;
  text.remove_prefix(end_of_line + 1);
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view field = text.substr(0, end);
    const auto colon = field.find(':');
    head.fields.emplace_back(
        std::string(field.substr(0, colon)),
        colon == std::string_view::npos ? std::string() : std::string(field.substr(colon + 1)));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return head;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto problem = http::check_request_head(head_from(text));
  if (problem && problem->status != 400 && problem->status != 501) std::abort();
  if (const auto target = http::origin_form(text)) {
    if (target->empty() || ((*target)[0] != '/' && *target != "*")) std::abort();
  }
  // A text within the bound parses without deep recursion; one beyond it is always refused.
  const int depth = api::json_nesting_depth(text, 64);
  const auto parsed = api::parse_bounded_json(text, 32);
  if (depth > 32 && parsed.ok()) std::abort();
  return 0;
}
