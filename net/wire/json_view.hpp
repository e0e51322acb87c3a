#pragma once
// A wire type as JSON, field by field through its one field list (net/wire/fields.hpp), so
// that GET /cluster shows what crosses between nodes under the same names, with nothing to keep
// in step by hand.
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "net/wire/fields.hpp"

namespace troupe::wire {

template <typename T>
nlohmann::json json_view(const T& value);

namespace detail {

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

struct JsonWriter {
  nlohmann::json& out;
  template <typename Field>
  JsonWriter& operator()(const char* name, Field& field) {
    out[name] = json_view(field);
    return *this;
  }
};

}  // namespace detail

template <typename T>
nlohmann::json json_view(const T& value) {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) {
    return value;
  } else if constexpr (detail::IsVector<T>::value) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : value) list.push_back(json_view(item));
    return list;
  } else {
    nlohmann::json object = nlohmann::json::object();
    detail::JsonWriter writer{object};
    describe(writer, const_cast<T&>(value));  // describe reads here; it never writes
    return object;
  }
}

}  // namespace troupe::wire
