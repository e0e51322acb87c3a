#pragma once
// JSON text read into template values, as Python's json.loads gives them to jinja2: objects as
// dicts in their key order, integers as int, other numbers as float. A request's tools and an
// assistant's earlier tool calls reach the chat template so (engine/ has no JSON library).
#include <string_view>

#include "engine/chat/value.hpp"
#include "engine/result.hpp"

namespace troupe::chat {

// Nests at most this deep; deeper text is refused before it can exhaust the stack.
inline constexpr int kMaxJsonValueDepth = 128;

// Errors name the byte offset of the problem.
Result<Value> parse_json_value(std::string_view text);

}  // namespace troupe::chat
