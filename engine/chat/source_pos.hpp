#pragma once
// Positions in template source and the errors that name them.
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace troupe::chat {

struct SourcePos {
  uint32_t line = 1;
  uint32_t column = 1;  // 1-based, in bytes
};

inline Error syntax_error(SourcePos pos, std::string_view message) {
  return make_error("chat template syntax error at line " + std::to_string(pos.line) + ", column " +
                    std::to_string(pos.column) + ": " + std::string(message));
}

inline Error runtime_error(SourcePos pos, std::string_view message) {
  return make_error("chat template error at line " + std::to_string(pos.line) + ", column " +
                    std::to_string(pos.column) + ": " + std::string(message));
}

}  // namespace troupe::chat
