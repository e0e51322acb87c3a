#pragma once
// TokenStream: the parser's cursor over lexer tokens, with jinja2's "expected token" errors.
#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/lexer.hpp"

namespace troupe::chat {

using Names = std::initializer_list<std::string_view>;

// Bounds recursion in the parser and, through the tree's shape, in the interpreter.
constexpr int kMaxNesting = 100;

struct NestingGuard {
  explicit NestingGuard(int& d) : depth(d) { ++depth; }
  ~NestingGuard() { --depth; }
  NestingGuard(const NestingGuard&) = delete;
  NestingGuard& operator=(const NestingGuard&) = delete;
  int& depth;
};

class TokenStream {
 public:
  explicit TokenStream(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

 protected:
  const Token& current() const { return tokens_[index_]; }
  const Token& look() const { return tokens_[std::min(index_ + 1, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[index_];
    if (index_ + 1 < tokens_.size()) ++index_;
    return t;
  }
  bool is_op(std::string_view op) const {
    return current().type == TokenType::kOperator && current().text == op;
  }
  bool is_name(std::string_view name) const {
    return current().type == TokenType::kName && current().text == name;
  }
  bool is_any_name(Names names) const {
    for (std::string_view n : names)
      if (is_name(n)) return true;
    return false;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }

  Error fail(std::string_view message) const { return syntax_error(current().pos, message); }
  Error fail_at(SourcePos pos, std::string_view message) const {
    return syntax_error(pos, message);
  }

  Error expected(std::string_view what) const {
    if (current().type == TokenType::kEof)
      return fail("unexpected end of template, expected '" + std::string(what) + "'.");
    return fail("expected token '" + std::string(what) + "', got '" + describe_token(current()) +
                "'");
  }

  Status expect_type(TokenType type, std::string_view what) {
    if (current().type != type) return expected(what);
    next();
    return Ok{};
  }
  Status expect_op(std::string_view op) {
    if (!is_op(op)) return expected(op);
    next();
    return Ok{};
  }
  Result<std::string> expect_name() {
    if (current().type != TokenType::kName) return expected("name");
    return next().text;
  }
  Status expect_name(std::string_view name) {
    if (!is_name(name)) return expected(name);
    next();
    return Ok{};
  }

  // End of a tuple: a closing delimiter or one of `extra_end`'s names.
  bool is_tuple_end(Names extra_end) const {
    const TokenType t = current().type;
    if (t == TokenType::kVariableEnd || t == TokenType::kBlockEnd || is_op(")")) return true;
    return is_any_name(extra_end);
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int nesting_ = 0;          // statement and expression depth
  int loop_references_ = 0;  // `loop` names parsed so far
};

}  // namespace troupe::chat
