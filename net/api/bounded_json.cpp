#include "net/api/bounded_json.hpp"

#include <algorithm>

namespace troupe::api {

int json_nesting_depth(std::string_view text, int stop_at) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest >= stop_at) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced input is the parser's to reject
    }
  }
  return deepest;
}

Result<nlohmann::json> parse_bounded_json(std::string_view text, int max_depth) {
  if (json_nesting_depth(text, max_depth + 1) > max_depth) {
    return make_error("nested deeper than the limit of " + std::to_string(max_depth) +
                      " levels of arrays and objects");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse errors, and numbers beyond a double
    return make_error(std::string("not valid JSON: ") + e.what());
  }
}

nlohmann::json parse_bounded_json_or_discarded(std::string_view text) {
  auto parsed = parse_bounded_json(text);
  return parsed ? std::move(*parsed) : nlohmann::json(nlohmann::json::value_t::discarded);
}

namespace {

// The most keys any object within `value` holds (recursive: bounded by kMaxJsonDepth).
size_t widest_object(const nlohmann::json& value) {
  size_t widest = value.is_object() ? value.size() : 0;
  if (value.is_structured()) {
    for (const auto& item : value) widest = std::max(widest, widest_object(item));
  }
  return widest;
}

}  // namespace

std::optional<std::string> too_wide_to_order(const nlohmann::json& value,
                                             const std::string& param) {
  if (widest_object(value) <= kMostOrderedKeys) return std::nullopt;
  return (param.empty() ? "the request" : "'" + param + "'") + " holds an object of more than " +
         std::to_string(kMostOrderedKeys) + " keys";
}

nlohmann::ordered_json ordered_member(std::string_view body, std::string_view name) {
  bool keep = true;
  const auto only_name = [&](int depth, nlohmann::ordered_json::parse_event_t event,
                             nlohmann::ordered_json& parsed) {
    if (depth == 1 && event == nlohmann::ordered_json::parse_event_t::key) keep = parsed == name;
    return depth == 0 || keep;
  };
  nlohmann::ordered_json whole = nlohmann::ordered_json::parse(body, only_name);
  return whole.is_object() && whole.contains(name) ? whole[std::string(name)]
                                                   : nlohmann::ordered_json();
}

}  // namespace troupe::api
