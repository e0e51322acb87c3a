#include "engine/chat/parser.hpp"

#include "engine/chat/constant_folder.hpp"
#include "engine/chat/expression_parser.hpp"

namespace troupe::chat {
namespace {

// Statements ({% for %}, {% if %}, {% set %}, {% macro %}, ...) and the text between them.
class Parser : public ExpressionParser {
 public:
  using ExpressionParser::ExpressionParser;

  Result<std::shared_ptr<const Program>> parse() {
    auto program = std::make_shared<Program>();
    auto body = subparse({});
    if (!body.ok()) return body.error();
    program->body = std::move(body.value());
    fold_constants(*program);
    return std::shared_ptr<const Program>(std::move(program));
  }

 private:
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
    NestingGuard guard(nesting_);
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
    const int loop_references = loop_references_;
    auto body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (!body.ok()) return body.error();
    node->body = std::move(body.value());
    node->uses_loop = loop_references_ != loop_references;
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
