#pragma once
// Python methods templates call on values: str (strip, split, startswith, ...), dict (get,
// items, keys, values) and list (index, count).
#include <string_view>

#include "engine/chat/value.hpp"

namespace troupe::chat {

// The method `name` of `obj` bound to it; Undefined when its type has no such (safe) method.
Value find_method(const Value& obj, std::string_view name);

}  // namespace troupe::chat
