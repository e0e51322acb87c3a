#pragma once
// ExpressionParser: jinja2's expression grammar and precedence (conditional < or < and < not
// < comparisons < + - < ~ < * / // % < ** < unary < postfix), filters and tests binding to
// the unary operand. Produces Expr trees.
#include <string>
#include <vector>

#include "engine/chat/ast.hpp"
#include "engine/chat/token_stream.hpp"

namespace troupe::chat {

class ExpressionParser : public TokenStream {
 public:
  using TokenStream::TokenStream;

 protected:
  Result<ExprPtr> parse_tuple(bool with_condexpr, bool explicit_parens, Names extra_end);
  Result<ExprPtr> parse_expression(bool with_condexpr);
  template <typename Next>
  Result<ExprPtr> parse_logical(std::string_view word, ExprKind kind, Next next_level);
  Result<ExprPtr> parse_or() {
    return parse_logical("or", ExprKind::kOr, &ExpressionParser::parse_and);
  }
  Result<ExprPtr> parse_and() {
    return parse_logical("and", ExprKind::kAnd, &ExpressionParser::parse_not);
  }
  Result<ExprPtr> parse_not();
  Result<ExprPtr> parse_compare();
  template <typename Next>
  Result<ExprPtr> parse_binary(Names ops, Next next_level);
  Result<ExprPtr> parse_math1() {
    return parse_binary({"+", "-"}, &ExpressionParser::parse_concat);
  }
  Result<ExprPtr> parse_math2() {
    return parse_binary({"*", "/", "//", "%"}, &ExpressionParser::parse_pow);
  }
  Result<ExprPtr> parse_pow() {
    return parse_binary({"**"}, &ExpressionParser::parse_unary_filtered);
  }
  Result<ExprPtr> parse_concat();
  Result<ExprPtr> parse_unary_filtered() { return parse_unary(true); }
  Result<ExprPtr> parse_unary(bool with_filter);
  Result<ExprPtr> parse_primary();
  Result<ExprPtr> parse_list();
  Result<ExprPtr> parse_dict();
  Result<ExprPtr> parse_postfix(ExprPtr node);
  Result<ExprPtr> parse_filter_expr(ExprPtr node);
  Result<ExprPtr> parse_subscript(ExprPtr object);
  // An index or a slice (a SliceExpr without its object yet).
  Result<ExprPtr> parse_subscribed();
  Status parse_call_args(std::vector<ExprPtr>& args, KeywordExprs& kwargs);
  Result<ExprPtr> parse_call(ExprPtr callee);
  Result<std::string> parse_dotted_name();
  // `| name(args)` chains; with `start_inline` the first filter has no leading pipe.
  Result<ExprPtr> parse_filter(ExprPtr operand, bool start_inline);
  Result<ExprPtr> parse_test(ExprPtr operand);
};

}  // namespace troupe::chat
