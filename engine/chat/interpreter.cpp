#include "engine/chat/interpreter.hpp"

#include "engine/chat/interpreter_guards.hpp"
#include "engine/chat/operators.hpp"

namespace troupe::chat {
namespace {

Value make_loop(const std::vector<Value>& items, size_t i) {
  const size_t n = items.size();
  const auto as_int = [](size_t v) { return Value(static_cast<int64_t>(v)); };
  auto cycle = std::make_shared<Callable>();
  cycle->name = "cycle";
  cycle->native = [i](Interpreter&, const CallArgs& args) -> Result<Value> {
    if (args.positional.empty()) return make_error("no items for cycling given");
    return args.positional[i % args.positional.size()];
  };
  return Value::object({
      {"index", as_int(i + 1)},
      {"index0", as_int(i)},
      {"revindex", as_int(n - i)},
      {"revindex0", as_int(n - i - 1)},
      {"first", Value(i == 0)},
      {"last", Value(i + 1 == n)},
      {"length", as_int(n)},
      {"depth", Value(1)},
      {"depth0", Value(0)},
      {"previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item")},
      {"nextitem", i + 1 < n ? items[i + 1] : Value::undefined("there is no next item")},
      {"cycle", Value::callable(std::move(cycle))},
  });
}

}  // namespace

Result<std::string> Interpreter::render(const Program& program, const Value& context) {
  if (!context.is_object() || context.is_namespace())
    return make_error("the chat template context must be an object");
  if (context.depth() > budget_.limits().max_value_depth)
    return make_error("the chat template context nests deeper than " +
                      std::to_string(budget_.limits().max_value_depth) + " levels");
  scope_ = std::make_shared<Scope>();
  for (const auto& [key, value] : context.entries()) scope_->vars[key] = value;
  std::string out;
  out_ = &out;
  auto flow = execute(program.body);
  out_ = nullptr;
  scope_.reset();
  if (!flow.ok()) return flow.error();
  return out;
}

Status Interpreter::write(std::string_view text) {
  out_->append(text);
  if (out_->size() > budget_.limits().max_output_bytes)
    return make_error("the rendered template exceeds " +
                      std::to_string(budget_.limits().max_output_bytes) + " bytes");
  return budget_.charge(text.size() / 16);
}

Result<Interpreter::Flow> Interpreter::execute(const Body& body) {
  for (const NodePtr& node : body) {
    auto flow = execute_node(*node);
    if (!flow.ok() || flow.value() != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Result<std::string> Interpreter::capture(const Body& body, std::shared_ptr<Scope> scope) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  ScopeSwap swap(scope_, std::move(scope));
  auto flow = execute(body);
  out_ = saved;
  if (!flow.ok()) return flow.error();
  return buffer;
}

Result<Interpreter::Flow> Interpreter::execute_node(const Node& node) {
  if (eval_depth_ >= budget_.limits().max_eval_depth)
    return runtime_error(node.pos, "the template nests too deeply");
  DepthCounter depth(eval_depth_);
  if (Status s = budget_.charge(1); !s.ok()) return locate(node.pos, s.error());
  switch (node.kind) {
    case NodeKind::kText: {
      if (Status s = write(static_cast<const TextNode&>(node).text); !s.ok())
        return locate(node.pos, s.error());
      return Flow::kNormal;
    }
    case NodeKind::kOutput: {
      for (const ExprPtr& expr : static_cast<const OutputNode&>(node).exprs) {
        auto value = eval(*expr);
        if (!value.ok()) return value.error();
        if (Status s = write(to_py_str(value.value())); !s.ok())
          return locate(expr->pos, s.error());
      }
      return Flow::kNormal;
    }
    case NodeKind::kIf: {
      const auto& n = static_cast<const IfNode&>(node);
      for (const auto& [test, body] : n.branches) {
        auto value = eval(*test);
        if (!value.ok()) return value.error();
        if (truthy(value.value())) return execute(body);
      }
      return execute(n.else_body);
    }
    case NodeKind::kFor:
      return execute_for(static_cast<const ForNode&>(node));
    case NodeKind::kSet: {
      if (Status s = execute_set(static_cast<const SetNode&>(node)); !s.ok()) return s.error();
      return Flow::kNormal;
    }
    case NodeKind::kSetBlock: {
      const auto& n = static_cast<const SetBlockNode&>(node);
      auto text = capture(n.body, child_of(scope_));
      if (!text.ok()) return text.error();
      Value value(std::move(text.value()));
      if (n.filter) {
        auto filtered = eval_filter(static_cast<const FilterExpr&>(*n.filter), &value);
        if (!filtered.ok()) return filtered.error();
        value = std::move(filtered.value());
      }
      if (Status s = assign(n.target, value); !s.ok()) return locate(node.pos, s.error());
      return Flow::kNormal;
    }
    case NodeKind::kMacro: {
      const auto& n = static_cast<const MacroNode&>(node);
      auto closure = std::make_shared<MacroClosure>();
      closure->node = &n;
      closure->scope = scope_;
      auto callable = std::make_shared<Callable>();
      callable->name = n.name;
      callable->macro = std::move(closure);
      scope_->vars[n.name] = Value::callable(std::move(callable));
      return Flow::kNormal;
    }
    case NodeKind::kBreak:
      return Flow::kBreak;
    case NodeKind::kContinue:
      return Flow::kContinue;
    case NodeKind::kFilterBlock: {
      const auto& n = static_cast<const FilterBlockNode&>(node);
      auto text = capture(n.body, child_of(scope_));
      if (!text.ok()) return text.error();
      const Value input(std::move(text.value()));
      auto filtered = eval_filter(static_cast<const FilterExpr&>(*n.filter), &input);
      if (!filtered.ok()) return filtered.error();
      if (Status s = write(to_py_str(filtered.value())); !s.ok())
        return locate(node.pos, s.error());
      return Flow::kNormal;
    }
    case NodeKind::kWith: {
      const auto& n = static_cast<const WithNode&>(node);
      std::vector<Value> values;  // evaluated in the enclosing scope, like jinja2
      for (const auto& [target, expr] : n.assignments) {
        auto value = eval(*expr);
        if (!value.ok()) return value.error();
        values.push_back(std::move(value.value()));
      }
      ScopeSwap swap(scope_, child_of(scope_));
      for (size_t i = 0; i < values.size(); ++i) {
        if (Status s = assign(n.assignments[i].first, values[i]); !s.ok())
          return locate(node.pos, s.error());
      }
      return execute(n.body);
    }
    case NodeKind::kScope: {
      ScopeSwap swap(scope_, child_of(scope_));
      return execute(static_cast<const ScopeNode&>(node).body);
    }
  }
  return Flow::kNormal;
}

Result<Interpreter::Flow> Interpreter::execute_for(const ForNode& node) {
  auto iterable = eval(*node.iterable);
  if (!iterable.ok()) return iterable.error();
  auto listed = iterate(iterable.value());
  if (!listed.ok()) return locate(node.iterable->pos, listed.error());
  std::vector<Value> items = std::move(listed.value());
  if (node.condition) {
    // The loop filter sees the loop variables but not `loop`.
    std::vector<Value> kept;
    for (const Value& item : items) {
      if (Status s = budget_.count_iteration(); !s.ok()) return locate(node.pos, s.error());
      ScopeSwap swap(scope_, child_of(scope_));
      if (Status s = assign(node.target, item); !s.ok()) return locate(node.pos, s.error());
      auto keep = eval(*node.condition);
      if (!keep.ok()) return keep.error();
      if (truthy(keep.value())) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    ScopeSwap swap(scope_, child_of(scope_));
    return execute(node.else_body);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (Status s = budget_.count_iteration(); !s.ok()) return locate(node.pos, s.error());
    // Each iteration starts from a fresh scope: a set inside the body never leaks out, nor
    // into the next iteration (jinja2's semantics).
    ScopeSwap swap(scope_, child_of(scope_));
    if (node.uses_loop) scope_->vars["loop"] = make_loop(items, i);
    if (Status s = assign(node.target, items[i]); !s.ok()) return locate(node.pos, s.error());
    auto flow = execute(node.body);
    if (!flow.ok()) return flow;
    if (flow.value() == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Status Interpreter::execute_set(const SetNode& node) {
  auto value = eval(*node.value);
  if (!value.ok()) return value.error();
  if (Status s = assign(node.target, value.value()); !s.ok()) return locate(node.pos, s.error());
  return Ok{};
}

Status Interpreter::assign(const Target& target, const Value& value) {
  switch (target.kind) {
    case Target::Kind::kName:
      scope_->vars[target.name] = value;
      return Ok{};
    case Target::Kind::kTuple: {
      if (!value.is_array() && !value.is_string() && !value.is_object())
        return make_error("cannot unpack non-iterable " + py_type_name(value) + " object");
      auto items = iterate(value);
      if (!items.ok()) return items.error();
      const size_t want = target.items.size(), got = items.value().size();
      if (got < want)
        return make_error("not enough values to unpack (expected " + std::to_string(want) +
                          ", got " + std::to_string(got) + ")");
      if (got > want)
        return make_error("too many values to unpack (expected " + std::to_string(want) + ")");
      for (size_t i = 0; i < want; ++i) {
        if (Status s = assign(target.items[i], items.value()[i]); !s.ok()) return s;
      }
      return Ok{};
    }
    case Target::Kind::kNamespaceAttr: {
      const Value ns = lookup(target.name);
      if (!ns.is_namespace()) return make_error("cannot assign attribute on non-namespace object");
      if (!target.attr.empty() && target.attr[0] == '_')
        return make_error(
            "Chat templates cannot store underscore-prefixed attributes on a namespace, but got "
            "'" +
            target.attr + "'. Please rename the attribute.");
      // Namespaces are the only mutable values; keeping them out of each other rules out
      // reference cycles and unbounded nesting.
      if (value.holds_namespace())
        return make_error("a namespace cannot hold another namespace in chat templates");
      ns.set_namespace_attr(target.attr, value);
      return Ok{};
    }
  }
  return Ok{};
}

}  // namespace troupe::chat
