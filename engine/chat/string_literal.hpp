#pragma once
// String literal bodies in templates decode like Python's unicode-escape codec, which is what
// jinja2 applies: \n \t \\ \' \" \xNN \uNNNN \UNNNNNNNN octal, line continuations, and
// unknown escapes kept as written. Errors carry Python's message (e.g. "truncated \xXX escape").
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace troupe::chat {

Result<std::string> decode_string_literal(std::string_view raw);

}  // namespace troupe::chat
