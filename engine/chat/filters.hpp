#pragma once
// Filters (`value | name(args)`): jinja2's built-ins plus transformers' tojson.
#include <string_view>

#include "engine/chat/ast.hpp"

namespace troupe::chat {

// nullptr when no filter has that name.
FilterFn find_filter(std::string_view name);

}  // namespace troupe::chat
