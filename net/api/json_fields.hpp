#pragma once
// Typed, range-checked reads of a JSON request body's fields. The first problem is kept as an
// ApiError naming the field; later reads then do nothing, so a decoder reads straight through
// and checks `error` once. Absent and null fields leave the target unchanged.
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "net/api/api_error.hpp"

namespace troupe::api {

class JsonFields {
 public:
  // Parses `body`, which must be a JSON object.
  explicit JsonFields(std::string_view body);

  const nlohmann::json& json() const { return json_; }
  bool has(const char* name) const;  // present and not null

  void read_bool(const char* name, bool& out);
  void read_string(const char* name, std::string& out);
  void read_int(const char* name, int& out, long long min, long long max);
  void read_number(const char* name, float& out, double min, double max,
                   bool min_exclusive = false);

  void fail(const std::string& param, const std::string& message);
  std::optional<ApiError> error;

 private:
  const nlohmann::json* field(const char* name) const;
  nlohmann::json json_;
};

std::string json_type_name(const nlohmann::json& value);

}  // namespace troupe::api
