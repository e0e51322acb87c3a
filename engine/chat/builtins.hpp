#pragma once
// Global functions templates can call: jinja2's range, namespace and dict, and the helpers
// transformers adds (raise_exception, strftime_now).
#include <string_view>

#include "engine/chat/value.hpp"

namespace troupe::chat {

// nullptr when no global has that name.
const Value* find_builtin(std::string_view name);

}  // namespace troupe::chat
