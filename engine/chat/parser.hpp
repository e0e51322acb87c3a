#pragma once
// Parser: tokens → Program, following jinja2's grammar and operator precedence.
#include <memory>
#include <string_view>

#include "engine/chat/ast.hpp"
#include "engine/result.hpp"

namespace troupe::chat {

Result<std::shared_ptr<const Program>> parse_template(std::string_view source);

}  // namespace troupe::chat
