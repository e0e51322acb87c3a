#include "engine/chat/expression_parser.hpp"

#include "engine/chat/filters.hpp"
#include "engine/chat/predicates.hpp"

namespace troupe::chat {

Result<ExprPtr> ExpressionParser::parse_tuple(bool with_condexpr, bool explicit_parens,
                                              Names extra_end) {
  const SourcePos pos = current().pos;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) {
      if (Status s = expect_op(","); !s.ok()) return s.error();
    }
    if (is_tuple_end(extra_end)) break;
    auto item = parse_expression(with_condexpr);
    if (!item.ok()) return item;
    items.push_back(std::move(item.value()));
    if (!is_op(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items.front());
    if (!explicit_parens)
      return fail("Expected an expression, got '" + describe_token(current()) + "'");
  }
  auto tuple = std::make_unique<SequenceExpr>(ExprKind::kTuple, pos);
  tuple->items = std::move(items);
  return ExprPtr(std::move(tuple));
}

Result<ExprPtr> ExpressionParser::parse_expression(bool with_condexpr) {
  if (nesting_ >= kMaxNesting) return fail("expression nests too deeply");
  NestingGuard guard(nesting_);
  if (!with_condexpr) return parse_or();
  auto expr = parse_or();
  if (!expr.ok()) return expr;
  while (is_name("if")) {
    const SourcePos pos = next().pos;
    auto node = std::make_unique<ConditionExpr>(ExprKind::kCondition, pos);
    auto test = parse_or();
    if (!test.ok()) return test;
    node->test = std::move(test.value());
    node->then_expr = std::move(expr.value());
    if (skip_name("else")) {
      auto other = parse_expression(true);
      if (!other.ok()) return other;
      node->else_expr = std::move(other.value());
    }
    expr = ExprPtr(std::move(node));
  }
  return expr;
}

template <typename Next>
Result<ExprPtr> ExpressionParser::parse_logical(std::string_view word, ExprKind kind,
                                                Next next_level) {
  auto left = (this->*next_level)();
  if (!left.ok()) return left;
  while (is_name(word)) {
    auto node = std::make_unique<BinaryExpr>(kind, next().pos);
    auto right = (this->*next_level)();
    if (!right.ok()) return right;
    node->left = std::move(left.value());
    node->right = std::move(right.value());
    left = ExprPtr(std::move(node));
  }
  return left;
}

Result<ExprPtr> ExpressionParser::parse_not() {
  if (is_name("not")) {
    if (nesting_ >= kMaxNesting) return fail("expression nests too deeply");
    NestingGuard guard(nesting_);
    auto node = std::make_unique<SequenceExpr>(ExprKind::kNot, next().pos);
    auto operand = parse_not();
    if (!operand.ok()) return operand;
    node->items.push_back(std::move(operand.value()));
    return ExprPtr(std::move(node));
  }
  return parse_compare();
}

Result<ExprPtr> ExpressionParser::parse_compare() {
  const SourcePos pos = current().pos;
  auto first = parse_math1();
  if (!first.ok()) return first;
  auto node = std::make_unique<CompareExpr>(ExprKind::kCompare, pos);
  while (true) {
    std::string op;
    if (current().type == TokenType::kOperator &&
        (current().text == "==" || current().text == "!=" || current().text == "<" ||
         current().text == "<=" || current().text == ">" || current().text == ">=")) {
      op = next().text;
    } else if (is_name("in")) {
      next();
      op = "in";
    } else if (is_name("not") && look().type == TokenType::kName && look().text == "in") {
      next();
      next();
      op = "notin";
    } else {
      break;
    }
    auto operand = parse_math1();
    if (!operand.ok()) return operand;
    node->rest.emplace_back(op, std::move(operand.value()));
  }
  if (node->rest.empty()) return first;
  node->first = std::move(first.value());
  return ExprPtr(std::move(node));
}

template <typename Next>
Result<ExprPtr> ExpressionParser::parse_binary(Names ops, Next next_level) {
  auto left = (this->*next_level)();
  if (!left.ok()) return left;
  while (current().type == TokenType::kOperator) {
    bool match = false;
    for (std::string_view op : ops) match = match || current().text == op;
    if (!match) break;
    auto node = std::make_unique<BinaryExpr>(ExprKind::kBinary, current().pos);
    node->op = next().text;
    auto right = (this->*next_level)();
    if (!right.ok()) return right;
    node->left = std::move(left.value());
    node->right = std::move(right.value());
    left = ExprPtr(std::move(node));
  }
  return left;
}

Result<ExprPtr> ExpressionParser::parse_concat() {
  const SourcePos pos = current().pos;
  auto first = parse_math2();
  if (!first.ok()) return first;
  if (!is_op("~")) return first;
  auto node = std::make_unique<SequenceExpr>(ExprKind::kConcat, pos);
  node->items.push_back(std::move(first.value()));
  while (skip_op("~")) {
    auto item = parse_math2();
    if (!item.ok()) return item;
    node->items.push_back(std::move(item.value()));
  }
  return ExprPtr(std::move(node));
}

Result<ExprPtr> ExpressionParser::parse_unary(bool with_filter) {
  if (nesting_ >= kMaxNesting) return fail("expression nests too deeply");
  NestingGuard guard(nesting_);
  Result<ExprPtr> node = ExprPtr();
  if (is_op("-") || is_op("+")) {
    const bool negate = current().text == "-";
    auto unary =
        std::make_unique<SequenceExpr>(negate ? ExprKind::kNegate : ExprKind::kPlus, next().pos);
    auto operand = parse_unary(false);
    if (!operand.ok()) return operand;
    unary->items.push_back(std::move(operand.value()));
    node = ExprPtr(std::move(unary));
  } else {
    node = parse_primary();
  }
  if (!node.ok()) return node;
  node = parse_postfix(std::move(node.value()));
  if (!node.ok() || !with_filter) return node;
  return parse_filter_expr(std::move(node.value()));
}

Result<ExprPtr> ExpressionParser::parse_primary() {
  const Token& token = current();
  const SourcePos pos = token.pos;
  switch (token.type) {
    case TokenType::kName: {
      const std::string& n = token.text;
      ExprPtr node;
      if (n == "true" || n == "True" || n == "false" || n == "False")
        node = std::make_unique<LiteralExpr>(pos, Value(n == "true" || n == "True"));
      else if (n == "none" || n == "None")
        node = std::make_unique<LiteralExpr>(pos, Value::none());
      else
        node = std::make_unique<NameExpr>(pos, n);
      if (n == "loop") ++loop_references_;
      next();
      return node;
    }
    case TokenType::kString: {
      std::string text;
      while (current().type == TokenType::kString) text += next().text;
      return ExprPtr(std::make_unique<LiteralExpr>(pos, Value(std::move(text))));
    }
    case TokenType::kInteger:
      return ExprPtr(std::make_unique<LiteralExpr>(pos, Value(next().int_value)));
    case TokenType::kFloat:
      return ExprPtr(std::make_unique<LiteralExpr>(pos, Value(next().float_value)));
    case TokenType::kOperator:
      if (token.text == "(") {
        next();
        auto inner = parse_tuple(true, true, {});
        if (!inner.ok()) return inner;
        if (Status s = expect_op(")"); !s.ok()) return s.error();
        return inner;
      }
      if (token.text == "[") return parse_list();
      if (token.text == "{") return parse_dict();
      break;
    default:
      break;
  }
  return fail("unexpected '" + describe_token(token) + "'");
}

Result<ExprPtr> ExpressionParser::parse_list() {
  auto node = std::make_unique<SequenceExpr>(ExprKind::kList, next().pos);
  while (!is_op("]")) {
    if (!node->items.empty()) {
      if (Status s = expect_op(","); !s.ok()) return s.error();
      if (is_op("]")) break;
    }
    auto item = parse_expression(true);
    if (!item.ok()) return item;
    node->items.push_back(std::move(item.value()));
  }
  next();
  return ExprPtr(std::move(node));
}

Result<ExprPtr> ExpressionParser::parse_dict() {
  auto node = std::make_unique<DictExpr>(ExprKind::kDict, next().pos);
  while (!is_op("}")) {
    if (!node->items.empty()) {
      if (Status s = expect_op(","); !s.ok()) return s.error();
      if (is_op("}")) break;
    }
    auto key = parse_expression(true);
    if (!key.ok()) return key;
    if (Status s = expect_op(":"); !s.ok()) return s.error();
    auto value = parse_expression(true);
    if (!value.ok()) return value;
    node->items.emplace_back(std::move(key.value()), std::move(value.value()));
  }
  next();
  return ExprPtr(std::move(node));
}

Result<ExprPtr> ExpressionParser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      auto sub = parse_subscript(std::move(node));
      if (!sub.ok()) return sub;
      node = std::move(sub.value());
    } else if (is_op("(")) {
      auto call = parse_call(std::move(node));
      if (!call.ok()) return call;
      node = std::move(call.value());
    } else {
      return node;
    }
  }
}

Result<ExprPtr> ExpressionParser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|")) {
      auto filtered = parse_filter(std::move(node), false);
      if (!filtered.ok()) return filtered;
      node = std::move(filtered.value());
    } else if (is_name("is")) {
      auto tested = parse_test(std::move(node));
      if (!tested.ok()) return tested;
      node = std::move(tested.value());
    } else if (is_op("(")) {
      auto call = parse_call(std::move(node));
      if (!call.ok()) return call;
      node = std::move(call.value());
    } else {
      return node;
    }
  }
}

Result<ExprPtr> ExpressionParser::parse_subscript(ExprPtr object) {
  const Token& token = next();
  const SourcePos pos = token.pos;
  if (token.text == ".") {
    const Token& attr = current();
    if (attr.type == TokenType::kName) {
      auto node = std::make_unique<GetAttrExpr>(ExprKind::kGetAttr, pos);
      node->object = std::move(object);
      node->name = next().text;
      return ExprPtr(std::move(node));
    }
    if (attr.type != TokenType::kInteger) return fail("expected name or number");
    auto node = std::make_unique<GetItemExpr>(ExprKind::kGetItem, pos);
    node->object = std::move(object);
    node->index = std::make_unique<LiteralExpr>(attr.pos, Value(next().int_value));
    return ExprPtr(std::move(node));
  }
  // '[' subscript: a single index, a slice, or a tuple of indexes.
  std::vector<ExprPtr> args;
  while (!is_op("]")) {
    if (!args.empty()) {
      if (Status s = expect_op(","); !s.ok()) return s.error();
    }
    auto arg = parse_subscribed();
    if (!arg.ok()) return arg;
    args.push_back(std::move(arg.value()));
  }
  next();  // ']'
  if (args.empty()) return fail_at(pos, "expected subscript expression");
  if (args.size() == 1 && args.front()->kind == ExprKind::kSlice) {
    static_cast<SliceExpr&>(*args.front()).object = std::move(object);
    return std::move(args.front());
  }
  for (const ExprPtr& arg : args)
    if (arg->kind == ExprKind::kSlice)
      return fail_at(pos, "slices inside tuple subscripts are not supported");
  auto node = std::make_unique<GetItemExpr>(ExprKind::kGetItem, pos);
  node->object = std::move(object);
  if (args.size() == 1) {
    node->index = std::move(args.front());
  } else {
    auto tuple = std::make_unique<SequenceExpr>(ExprKind::kTuple, pos);
    tuple->items = std::move(args);
    node->index = std::move(tuple);
  }
  return ExprPtr(std::move(node));
}

// An index or a slice (a SliceExpr without its object yet).
Result<ExprPtr> ExpressionParser::parse_subscribed() {
  const SourcePos pos = current().pos;
  ExprPtr start;
  if (!is_op(":")) {
    auto item = parse_expression(true);
    if (!item.ok() || !is_op(":")) return item;
    start = std::move(item.value());
  }
  next();  // ':'
  auto node = std::make_unique<SliceExpr>(ExprKind::kSlice, pos);
  node->start = std::move(start);
  if (!is_op(":") && !is_op("]") && !is_op(",")) {
    auto stop = parse_expression(true);
    if (!stop.ok()) return stop;
    node->stop = std::move(stop.value());
  }
  if (skip_op(":") && !is_op("]") && !is_op(",")) {
    auto step = parse_expression(true);
    if (!step.ok()) return step;
    node->step = std::move(step.value());
  }
  return ExprPtr(std::move(node));
}

Status ExpressionParser::parse_call_args(std::vector<ExprPtr>& args, KeywordExprs& kwargs) {
  const SourcePos pos = current().pos;
  if (Status s = expect_op("("); !s.ok()) return s;
  bool require_comma = false;
  while (!is_op(")")) {
    if (require_comma) {
      if (Status s = expect_op(","); !s.ok()) return s;
      if (is_op(")")) break;
    }
    if (is_op("*") || is_op("**")) return fail("*args and **kwargs in calls are not supported");
    if (current().type == TokenType::kName && look().type == TokenType::kOperator &&
        look().text == "=") {
      std::string key = next().text;
      next();
      auto value = parse_expression(true);
      if (!value.ok()) return value.error();
      kwargs.emplace_back(std::move(key), std::move(value.value()));
    } else {
      if (!kwargs.empty()) return fail_at(pos, "invalid syntax for function call expression");
      auto value = parse_expression(true);
      if (!value.ok()) return value.error();
      args.push_back(std::move(value.value()));
    }
    require_comma = true;
  }
  next();
  return Ok{};
}

Result<ExprPtr> ExpressionParser::parse_call(ExprPtr callee) {
  auto node = std::make_unique<CallExpr>(ExprKind::kCall, current().pos);
  node->callee = std::move(callee);
  if (Status s = parse_call_args(node->args, node->kwargs); !s.ok()) return s.error();
  return ExprPtr(std::move(node));
}

Result<std::string> ExpressionParser::parse_dotted_name() {
  auto name = expect_name();
  if (!name.ok()) return name;
  std::string full = name.value();
  while (skip_op(".")) {
    auto part = expect_name();
    if (!part.ok()) return part;
    full += "." + part.value();
  }
  return full;
}

// `| name(args)` chains; with `start_inline` the first filter has no leading pipe.
Result<ExprPtr> ExpressionParser::parse_filter(ExprPtr operand, bool start_inline) {
  while (is_op("|") || start_inline) {
    if (!start_inline) next();
    start_inline = false;
    auto node = std::make_unique<FilterExpr>(ExprKind::kFilter, current().pos);
    auto name = parse_dotted_name();
    if (!name.ok()) return name.error();
    node->name = name.value();
    node->fn = find_filter(node->name);
    if (is_op("(")) {
      if (Status s = parse_call_args(node->args, node->kwargs); !s.ok()) return s.error();
    }
    node->operand = std::move(operand);
    operand = std::move(node);
  }
  return operand;
}

Result<ExprPtr> ExpressionParser::parse_test(ExprPtr operand) {
  const SourcePos pos = next().pos;  // 'is'
  const bool negated = skip_name("not");
  auto node = std::make_unique<TestExpr>(ExprKind::kTest, pos);
  auto name = parse_dotted_name();
  if (!name.ok()) return name.error();
  node->name = name.value();
  node->fn = find_test(node->name);
  node->operand = std::move(operand);
  const TokenType t = current().type;
  if (is_op("(")) {
    if (Status s = parse_call_args(node->args, node->kwargs); !s.ok()) return s.error();
  } else if ((t == TokenType::kName || t == TokenType::kString || t == TokenType::kInteger ||
              t == TokenType::kFloat || is_op("[") || is_op("{")) &&
             !is_any_name({"else", "or", "and"})) {
    if (is_name("is")) return fail("You cannot chain multiple tests with is");
    auto arg = parse_primary();
    if (!arg.ok()) return arg;
    auto full = parse_postfix(std::move(arg.value()));
    if (!full.ok()) return full;
    node->args.push_back(std::move(full.value()));
  }
  if (!negated) return ExprPtr(std::move(node));
  auto negation = std::make_unique<SequenceExpr>(ExprKind::kNot, pos);
  negation->items.push_back(std::move(node));
  return ExprPtr(std::move(negation));
}

}  // namespace troupe::chat
