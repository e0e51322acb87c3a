#pragma once
// A string-keyed hash map that can be probed with a std::string_view without building a string.
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace troupe {

struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using TextMap = std::unordered_map<std::string, V, TextHash, std::equal_to<>>;

}  // namespace troupe
