#pragma once
// Tests (`value is name(args)`): jinja2's built-in predicates.
#include <string_view>

#include "engine/chat/ast.hpp"

namespace troupe::chat {

// nullptr when no test has that name.
TestFn find_test(std::string_view name);

}  // namespace troupe::chat
