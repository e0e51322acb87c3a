#include "engine/chat/parser.hpp"

#include <initializer_list>

#include "engine/chat/filters.hpp"
#include "engine/chat/lexer.hpp"
#include "engine/chat/predicates.hpp"

namespace troupe::chat {
namespace {

// Bounds recursion in the parser and, through the tree's shape, in the interpreter.
constexpr int kMaxNesting = 100;

using Names = std::initializer_list<std::string_view>;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<std::shared_ptr<const Program>> parse() {
    auto program = std::make_shared<Program>();
    auto body = subparse({});
    if (!body.ok()) return body.error();
    program->body = std::move(body.value());
    return std::shared_ptr<const Program>(std::move(program));
  }

 private:
  // ---- token stream ----
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

  // jinja2's message for a tag nobody is waiting for, or for end of input inside a block.
  Error unknown_tag(const std::string* name, SourcePos pos) const {
    std::string message =
        name ? "Encountered unknown tag '" + *name + "'." : "Unexpected end of template.";
    if (!end_stack_.empty()) {
      message += " Jinja was looking for the following tags: ";
      bool first = true;
      for (std::string_view n : end_stack_.back()) {
        if (!first) message += " or ";
        first = false;
        message += "'" + std::string(n) + "'";
      }
      message += ".";
    }
    if (!tag_stack_.empty())
      message += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
    return syntax_error(pos, message);
  }

  struct DepthGuard {
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
    int& depth;
  };

  // ---- statements ----
  Result<Body> subparse(std::vector<std::string_view> end_names) {
    const bool pushed = !end_names.empty();
    if (pushed) end_stack_.push_back(std::move(end_names));
    auto body = subparse_inner();
    if (pushed) end_stack_.pop_back();
    return body;
  }

  Result<Body> subparse_inner() {
    Body body;
    while (current().type != TokenType::kEof) {
      const Token& token = current();
      if (token.type == TokenType::kData) {
        body.push_back(std::make_unique<TextNode>(token.pos, token.text));
        next();
      } else if (token.type == TokenType::kVariableBegin) {
        const SourcePos pos = next().pos;
        auto expr = parse_tuple(true, false, {});
        if (!expr.ok()) return expr.error();
        Status end = expect_type(TokenType::kVariableEnd, "end of print statement");
        if (!end.ok()) return end.error();
        auto node = std::make_unique<OutputNode>(NodeKind::kOutput, pos);
        node->exprs.push_back(std::move(expr.value()));
        body.push_back(std::move(node));
      } else if (token.type == TokenType::kBlockBegin) {
        next();
        if (!end_stack_.empty() && current().type == TokenType::kName) {
          for (std::string_view n : end_stack_.back())
            if (current().text == n) return body;
        }
        auto node = parse_statement();
        if (!node.ok()) return node.error();
        if (node.value()) body.push_back(std::move(node.value()));
        Status end = expect_type(TokenType::kBlockEnd, "end of statement block");
        if (!end.ok()) return end.error();
      } else {
        return fail("unexpected '" + describe_token(token) + "'");
      }
    }
    return body;
  }

  // Body of a block statement up to one of `end_names`; the end tag name is left current
  // unless `drop_end` consumes it.
  Result<Body> parse_statements(std::vector<std::string_view> end_names, bool drop_end) {
    skip_op(":");
    Status begin = expect_type(TokenType::kBlockEnd, "end of statement block");
    if (!begin.ok()) return begin.error();
    auto saved = end_names;
    auto body = subparse(std::move(end_names));
    if (!body.ok()) return body;
    if (current().type == TokenType::kEof) {
      end_stack_.push_back(std::move(saved));
      Error e = unknown_tag(nullptr, current().pos);
      end_stack_.pop_back();
      return e;
    }
    if (drop_end) next();
    return body;
  }

  Result<NodePtr> parse_statement() {
    if (current().type != TokenType::kName) return fail("tag name expected");
    if (nesting_ >= kMaxNesting) return fail("template nests too deeply");
    DepthGuard guard(nesting_);
    const std::string name = current().text;
    const SourcePos pos = current().pos;
    static const Names kUnsupported = {"extends", "include", "import",
                                       "from",    "call",    "autoescape"};
    for (std::string_view n : kUnsupported)
      if (name == n) return fail("the '" + name + "' tag is not supported in chat templates");
    static const Names kKnown = {"for",   "if",       "set",   "macro",      "filter", "with",
                                 "break", "continue", "print", "generation", "block"};
    bool known = false;
    for (std::string_view n : kKnown) known = known || name == n;
    if (!known) return unknown_tag(&name, pos);
    tag_stack_.push_back(name);
    Result<NodePtr> node = parse_known_statement(name, pos);
    tag_stack_.pop_back();
    return node;
  }

  Result<NodePtr> parse_known_statement(const std::string& name, SourcePos pos) {
    next();
    if (name == "for") return parse_for(pos);
    if (name == "if") return parse_if(pos);
    if (name == "set") return parse_set(pos);
    if (name == "macro") return parse_macro(pos);
    if (name == "filter") return parse_filter_block(pos);
    if (name == "with") return parse_with(pos);
    if (name == "print") return parse_print(pos);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0)
        return fail_at(
            pos, name == "break" ? "'break' outside loop" : "'continue' not properly in loop");
      return NodePtr(
          std::make_unique<Node>(name == "break" ? NodeKind::kBreak : NodeKind::kContinue, pos));
    }
    // generation (transformers' assistant tracker) and block render their body in place.
    auto node = std::make_unique<ScopeNode>(NodeKind::kScope, pos);
    std::string block_name;
    if (name == "block") {
      auto n = expect_name();
      if (!n.ok()) return n.error();
      block_name = n.value();
      skip_name("scoped");
      skip_name("required");
    }
    auto body = parse_statements({name == "block" ? "endblock" : "endgeneration"}, true);
    if (!body.ok()) return body.error();
    if (name == "block") skip_name(block_name);
    node->body = std::move(body.value());
    return NodePtr(std::move(node));
  }

  // Bodies rendered into a separate buffer (macro, set block, filter block): break and
  // continue cannot cross their boundary.
  Result<Body> parse_captured_body(std::string_view end_name) {
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    auto body = parse_statements({end_name}, true);
    loop_depth_ = saved_loops;
    return body;
  }

  Result<NodePtr> parse_for(SourcePos pos) {
    auto node = std::make_unique<ForNode>(NodeKind::kFor, pos);
    auto target = parse_assign_target({"in"}, false);
    if (!target.ok()) return target.error();
    node->target = std::move(target.value());
    if (Status s = expect_name("in"); !s.ok()) return s.error();
    auto iterable = parse_tuple(false, false, {"recursive"});
    if (!iterable.ok()) return iterable.error();
    node->iterable = std::move(iterable.value());
    if (skip_name("if")) {
      auto condition = parse_expression(true);
      if (!condition.ok()) return condition.error();
      node->condition = std::move(condition.value());
    }
    skip_name("recursive");  // accepted; calling loop() is not supported
    ++loop_depth_;
    auto body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (!body.ok()) return body.error();
    node->body = std::move(body.value());
    if (next().text == "else") {
      auto else_body = parse_statements({"endfor"}, true);
      if (!else_body.ok()) return else_body.error();
      node->else_body = std::move(else_body.value());
    }
    return NodePtr(std::move(node));
  }

  Result<NodePtr> parse_if(SourcePos pos) {
    auto node = std::make_unique<IfNode>(NodeKind::kIf, pos);
    while (true) {
      auto test = parse_tuple(false, false, {});
      if (!test.ok()) return test.error();
      auto body = parse_statements({"elif", "else", "endif"}, false);
      if (!body.ok()) return body.error();
      node->branches.emplace_back(std::move(test.value()), std::move(body.value()));
      const std::string tag = next().text;
      if (tag == "elif") continue;
      if (tag == "else") {
        auto else_body = parse_statements({"endif"}, true);
        if (!else_body.ok()) return else_body.error();
        node->else_body = std::move(else_body.value());
      }
      break;
    }
    return NodePtr(std::move(node));
  }

  Result<NodePtr> parse_set(SourcePos pos) {
    auto target = parse_assign_target({}, true);
    if (!target.ok()) return target.error();
    if (skip_op("=")) {
      auto node = std::make_unique<SetNode>(NodeKind::kSet, pos);
      node->target = std::move(target.value());
      auto value = parse_tuple(true, false, {});
      if (!value.ok()) return value.error();
      node->value = std::move(value.value());
      return NodePtr(std::move(node));
    }
    auto node = std::make_unique<SetBlockNode>(NodeKind::kSetBlock, pos);
    node->target = std::move(target.value());
    if (is_op("|")) {
      auto filter = parse_filter(nullptr, false);
      if (!filter.ok()) return filter.error();
      node->filter = std::move(filter.value());
    }
    auto body = parse_captured_body("endset");
    if (!body.ok()) return body.error();
    node->body = std::move(body.value());
    return NodePtr(std::move(node));
  }

  Result<NodePtr> parse_macro(SourcePos pos) {
    auto node = std::make_unique<MacroNode>(NodeKind::kMacro, pos);
    auto name = expect_name();
    if (!name.ok()) return name.error();
    node->name = name.value();
    if (Status s = expect_op("("); !s.ok()) return s.error();
    while (!is_op(")")) {
      if (!node->params.empty()) {
        if (Status s = expect_op(","); !s.ok()) return s.error();
        if (is_op(")")) break;
      }
      auto param = expect_name();
      if (!param.ok()) return param.error();
      node->params.push_back(param.value());
      if (skip_op("=")) {
        auto def = parse_expression(true);
        if (!def.ok()) return def.error();
        node->defaults.push_back(std::move(def.value()));
      } else if (!node->defaults.empty()) {
        return fail("non-default argument follows default argument");
      }
    }
    next();
    auto body = parse_captured_body("endmacro");
    if (!body.ok()) return body.error();
    node->body = std::move(body.value());
    return NodePtr(std::move(node));
  }

  Result<NodePtr> parse_filter_block(SourcePos pos) {
    auto node = std::make_unique<FilterBlockNode>(NodeKind::kFilterBlock, pos);
    auto filter = parse_filter(nullptr, true);
    if (!filter.ok()) return filter.error();
    node->filter = std::move(filter.value());
    auto body = parse_captured_body("endfilter");
    if (!body.ok()) return body.error();
    node->body = std::move(body.value());
    return NodePtr(std::move(node));
  }

  Result<NodePtr> parse_with(SourcePos pos) {
    auto node = std::make_unique<WithNode>(NodeKind::kWith, pos);
    while (current().type != TokenType::kBlockEnd) {
      if (!node->assignments.empty()) {
        if (Status s = expect_op(","); !s.ok()) return s.error();
      }
      auto target = parse_assign_target({}, false);
      if (!target.ok()) return target.error();
      if (Status s = expect_op("="); !s.ok()) return s.error();
      auto value = parse_expression(true);
      if (!value.ok()) return value.error();
      node->assignments.emplace_back(std::move(target.value()), std::move(value.value()));
    }
    auto body = parse_statements({"endwith"}, true);
    if (!body.ok()) return body.error();
    node->body = std::move(body.value());
    return NodePtr(std::move(node));
  }

  Result<NodePtr> parse_print(SourcePos pos) {
    auto node = std::make_unique<OutputNode>(NodeKind::kOutput, pos);
    while (current().type != TokenType::kBlockEnd) {
      if (!node->exprs.empty()) {
        if (Status s = expect_op(","); !s.ok()) return s.error();
      }
      auto expr = parse_expression(true);
      if (!expr.ok()) return expr.error();
      node->exprs.push_back(std::move(expr.value()));
    }
    return NodePtr(std::move(node));
  }

  // Names, tuples of names and (for set) namespace.attr references.
  Result<Target> parse_assign_target(Names extra_end, bool with_namespace) {
    const SourcePos pos = current().pos;
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) {
        if (Status s = expect_op(","); !s.ok()) return s.error();
      }
      if (is_tuple_end(extra_end)) break;
      auto item = parse_target_primary(with_namespace);
      if (!item.ok()) return item.error();
      items.push_back(std::move(item.value()));
      if (!is_op(",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (items.empty())
        return fail("Expected an expression, got '" + describe_token(current()) + "'");
      return std::move(items.front());
    }
    Target t;
    t.kind = Target::Kind::kTuple;
    t.items = std::move(items);
    t.pos = pos;
    return t;
  }

  Result<Target> parse_target_primary(bool with_namespace) {
    Target t;
    t.pos = current().pos;
    if (current().type == TokenType::kName) {
      const std::string name = next().text;
      static const Names kConstants = {"true", "false", "none", "True", "False", "None"};
      for (std::string_view c : kConstants)
        if (name == c) return fail_at(t.pos, "can't assign to 'const'");
      t.name = name;
      if (with_namespace && is_op(".")) {
        next();
        auto attr = expect_name();
        if (!attr.ok()) return attr.error();
        t.kind = Target::Kind::kNamespaceAttr;
        t.attr = attr.value();
      }
      return t;
    }
    if (is_op("(")) {
      next();
      auto inner = parse_assign_target({}, with_namespace);
      if (!inner.ok()) return inner;
      if (Status s = expect_op(")"); !s.ok()) return s.error();
      return inner;
    }
    if (current().type == TokenType::kString || current().type == TokenType::kInteger ||
        current().type == TokenType::kFloat)
      return fail("can't assign to 'const'");
    return fail("can't assign to this expression");
  }

  bool is_tuple_end(Names extra_end) const {
    const TokenType t = current().type;
    if (t == TokenType::kVariableEnd || t == TokenType::kBlockEnd || is_op(")")) return true;
    return is_any_name(extra_end);
  }

  // ---- expressions ----
  Result<ExprPtr> parse_tuple(bool with_condexpr, bool explicit_parens, Names extra_end) {
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

  Result<ExprPtr> parse_expression(bool with_condexpr) {
    if (nesting_ >= kMaxNesting) return fail("expression nests too deeply");
    DepthGuard guard(nesting_);
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
  Result<ExprPtr> parse_logical(std::string_view word, ExprKind kind, Next next_level) {
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

  Result<ExprPtr> parse_or() { return parse_logical("or", ExprKind::kOr, &Parser::parse_and); }
  Result<ExprPtr> parse_and() { return parse_logical("and", ExprKind::kAnd, &Parser::parse_not); }

  Result<ExprPtr> parse_not() {
    if (is_name("not")) {
      if (nesting_ >= kMaxNesting) return fail("expression nests too deeply");
      DepthGuard guard(nesting_);
      auto node = std::make_unique<SequenceExpr>(ExprKind::kNot, next().pos);
      auto operand = parse_not();
      if (!operand.ok()) return operand;
      node->items.push_back(std::move(operand.value()));
      return ExprPtr(std::move(node));
    }
    return parse_compare();
  }

  Result<ExprPtr> parse_compare() {
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
  Result<ExprPtr> parse_binary(Names ops, Next next_level) {
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

  Result<ExprPtr> parse_math1() { return parse_binary({"+", "-"}, &Parser::parse_concat); }
  Result<ExprPtr> parse_math2() { return parse_binary({"*", "/", "//", "%"}, &Parser::parse_pow); }
  Result<ExprPtr> parse_pow() { return parse_binary({"**"}, &Parser::parse_unary_filtered); }

  Result<ExprPtr> parse_concat() {
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

  Result<ExprPtr> parse_unary_filtered() { return parse_unary(true); }

  Result<ExprPtr> parse_unary(bool with_filter) {
    if (nesting_ >= kMaxNesting) return fail("expression nests too deeply");
    DepthGuard guard(nesting_);
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

  Result<ExprPtr> parse_primary() {
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

  Result<ExprPtr> parse_list() {
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

  Result<ExprPtr> parse_dict() {
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

  Result<ExprPtr> parse_postfix(ExprPtr node) {
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

  Result<ExprPtr> parse_filter_expr(ExprPtr node) {
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

  Result<ExprPtr> parse_subscript(ExprPtr object) {
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
  Result<ExprPtr> parse_subscribed() {
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

  Status parse_call_args(std::vector<ExprPtr>& args, KeywordExprs& kwargs) {
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

  Result<ExprPtr> parse_call(ExprPtr callee) {
    auto node = std::make_unique<CallExpr>(ExprKind::kCall, current().pos);
    node->callee = std::move(callee);
    if (Status s = parse_call_args(node->args, node->kwargs); !s.ok()) return s.error();
    return ExprPtr(std::move(node));
  }

  Result<std::string> parse_dotted_name() {
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
  Result<ExprPtr> parse_filter(ExprPtr operand, bool start_inline) {
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

  Result<ExprPtr> parse_test(ExprPtr operand) {
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

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;
  std::vector<std::vector<std::string_view>> end_stack_;
  std::vector<std::string> tag_stack_;
};

}  // namespace

Result<std::shared_ptr<const Program>> parse_template(std::string_view source) {
  auto tokens = tokenize(source);
  if (!tokens.ok()) return tokens.error();
  return Parser(std::move(tokens.value())).parse();
}

}  // namespace troupe::chat
