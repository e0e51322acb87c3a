#include "net/api/json_fields.hpp"

#include <cmath>

#include "net/api/bounded_json.hpp"

namespace troupe::api {

std::string json_type_name(const nlohmann::json& value) {
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

JsonFields::JsonFields(std::string_view body) {
  auto parsed = parse_bounded_json(body);
  if (!parsed) {
    fail("", "the request body is " + parsed.message());
    return;
  }
  json_ = std::move(*parsed);
  if (!json_.is_object()) fail("", "the request body must be a JSON object");
}

const nlohmann::json* JsonFields::field(const char* name) const {
  if (error || !json_.is_object()) return nullptr;
  auto it = json_.find(name);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::has(const char* name) const {
  return field(name) != nullptr;
}

void JsonFields::fail(const std::string& param, const std::string& message) {
  if (!error) error = bad_parameter(param, message);
}

void JsonFields::read_bool(const char* name, bool& out) {
  const auto* value = field(name);
  if (!value) return;
  if (!value->is_boolean()) {
    return fail(name,
                std::string("'") + name + "' must be a boolean, got " + json_type_name(*value));
  }
  out = value->get<bool>();
}

void JsonFields::read_string(const char* name, std::string& out) {
  const auto* value = field(name);
  if (!value) return;
  if (!value->is_string()) {
    return fail(name,
                std::string("'") + name + "' must be a string, got " + json_type_name(*value));
  }
  out = value->get<std::string>();
}

void JsonFields::read_int(const char* name, int& out, long long min, long long max) {
  const auto* value = field(name);
  if (!value) return;
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!value->is_number_integer()) {
    return fail(name, std::string("'") + name + "' must be an integer in " + range + ", got " +
                          json_type_name(*value));
  }
  // Non-negative JSON integers parse as unsigned, and may not fit a long long.
  bool in_range = false;
  if (value->is_number_unsigned()) {
    const auto v = value->get<unsigned long long>();
    in_range = v <= static_cast<unsigned long long>(max) &&
               (min <= 0 || v >= static_cast<unsigned long long>(min));
  } else {
    in_range = value->get<long long>() >= min && value->get<long long>() <= max;
  }
  if (!in_range) {
    return fail(name, std::string("'") + name + "' must be in " + range + ", got " + value->dump());
  }
  out = static_cast<int>(value->get<long long>());
}

void JsonFields::read_number(const char* name, float& out, double min, double max,
                             bool min_exclusive) {
  const auto* value = field(name);
  if (!value) return;
  const std::string range = (min_exclusive ? "(" : "[") + nlohmann::json(min).dump() + ", " +
                            nlohmann::json(max).dump() + "]";
  if (!value->is_number()) {
    return fail(name, std::string("'") + name + "' must be a number in " + range + ", got " +
                          json_type_name(*value));
  }
  const double v = value->get<double>();
  if (!std::isfinite(v) || v < min || v > max || (min_exclusive && v == min)) {
    return fail(name, std::string("'") + name + "' must be in " + range + ", got " + value->dump());
  }
  out = static_cast<float>(v);
}

}  // namespace troupe::api
