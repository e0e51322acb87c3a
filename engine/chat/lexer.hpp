#pragma once
// Lexer: template source → tokens, with jinja2's whitespace rules as HuggingFace configures
// them (trim_blocks, lstrip_blocks, '-'/'+' modifiers, no trailing newline kept).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/source_pos.hpp"
#include "engine/result.hpp"

namespace troupe::chat {

enum class TokenType : uint8_t {
  kData,           // literal template text, already whitespace-controlled
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEof,
};

struct Token {
  TokenType type = TokenType::kEof;
  std::string text;  // data, name, decoded string value or operator spelling
  int64_t int_value = 0;
  double float_value = 0;
  SourcePos pos;
};

Result<std::vector<Token>> tokenize(std::string_view source);

// How jinja2 names a token in syntax errors ("end of print statement", "'+'", a name).
std::string describe_token(const Token& token);

}  // namespace troupe::chat
