#include "engine/chat/interpreter.hpp"

#include "engine/chat/builtins.hpp"
#include "engine/chat/filters.hpp"
#include "engine/chat/operators.hpp"
#include "engine/chat/predicates.hpp"

namespace troupe::chat {
namespace {

Error locate(SourcePos pos, const Error& error) {
  return runtime_error(pos, error.message);
}

// Runs `scope` as the current scope for the guard's lifetime.
class ScopeSwap {
 public:
  ScopeSwap(std::shared_ptr<Scope>& slot, std::shared_ptr<Scope> scope)
      : slot_(slot), saved_(std::move(slot)) {
    slot_ = std::move(scope);
  }
  ~ScopeSwap() { slot_ = std::move(saved_); }
  ScopeSwap(const ScopeSwap&) = delete;
  ScopeSwap& operator=(const ScopeSwap&) = delete;

 private:
  std::shared_ptr<Scope>& slot_;
  std::shared_ptr<Scope> saved_;
};

std::shared_ptr<Scope> child_of(const std::shared_ptr<Scope>& parent) {
  auto scope = std::make_shared<Scope>();
  scope->parent = parent;
  return scope;
}

class DepthGuard {
 public:
  explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int& depth_;
};

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
  DepthGuard depth(eval_depth_);
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
    scope_->vars["loop"] = make_loop(items, i);
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

Value Interpreter::lookup(const std::string& name) const {
  for (const Scope* s = scope_.get(); s != nullptr; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  if (const Value* builtin = find_builtin(name)) return *builtin;
  return Value::undefined("'" + name + "' is undefined");
}

Result<Value> Interpreter::eval(const Expr& expr) {
  if (eval_depth_ >= budget_.limits().max_eval_depth)
    return runtime_error(expr.pos, "the template nests too deeply");
  DepthGuard depth(eval_depth_);
  if (Status s = budget_.charge(1); !s.ok()) return locate(expr.pos, s.error());
  auto value = eval_inner(expr);
  if (value.ok() && value.value().depth() > budget_.limits().max_value_depth)
    return runtime_error(expr.pos, "a value nests deeper than " +
                                       std::to_string(budget_.limits().max_value_depth) +
                                       " levels");
  return value;
}

Status Interpreter::eval_args(const std::vector<ExprPtr>& args, const KeywordExprs& kwargs,
                              CallArgs& out) {
  for (const ExprPtr& arg : args) {
    auto value = eval(*arg);
    if (!value.ok()) return value.error();
    out.positional.push_back(std::move(value.value()));
  }
  for (const auto& [name, expr] : kwargs) {
    auto value = eval(*expr);
    if (!value.ok()) return value.error();
    out.keyword.emplace_back(name, std::move(value.value()));
  }
  return Ok{};
}

Result<Value> Interpreter::eval_inner(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return static_cast<const LiteralExpr&>(expr).value;
    case ExprKind::kName:
      return lookup(static_cast<const NameExpr&>(expr).name);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      const auto& items = static_cast<const SequenceExpr&>(expr).items;
      std::vector<Value> values;
      values.reserve(items.size());
      for (const ExprPtr& item : items) {
        auto value = eval(*item);
        if (!value.ok()) return value;
        values.push_back(std::move(value.value()));
      }
      if (Status s = budget_.check_items(values.size()); !s.ok())
        return locate(expr.pos, s.error());
      return expr.kind == ExprKind::kList ? Value::array(std::move(values))
                                          : Value::tuple(std::move(values));
    }
    case ExprKind::kDict: {
      ObjectEntries entries;
      for (const auto& [key_expr, value_expr] : static_cast<const DictExpr&>(expr).items) {
        auto key = eval(*key_expr);
        if (!key.ok()) return key;
        if (!key.value().is_string())
          return runtime_error(key_expr->pos, "chat templates support only string dictionary keys");
        auto value = eval(*value_expr);
        if (!value.ok()) return value;
        entries.emplace_back(key.value().as_string(), std::move(value.value()));
      }
      return Value::object(std::move(entries));
    }
    case ExprKind::kNegate:
    case ExprKind::kPlus: {
      auto operand = eval(*static_cast<const SequenceExpr&>(expr).items[0]);
      if (!operand.ok()) return operand;
      auto result = negate(operand.value(), expr.kind == ExprKind::kNegate);
      if (!result.ok()) return locate(expr.pos, result.error());
      return result;
    }
    case ExprKind::kNot: {
      auto operand = eval(*static_cast<const SequenceExpr&>(expr).items[0]);
      if (!operand.ok()) return operand;
      return Value(!truthy(operand.value()));
    }
    case ExprKind::kBinary: {
      const auto& n = static_cast<const BinaryExpr&>(expr);
      auto left = eval(*n.left);
      if (!left.ok()) return left;
      auto right = eval(*n.right);
      if (!right.ok()) return right;
      auto result = binary_op(budget_, n.op, left.value(), right.value());
      if (!result.ok()) return locate(expr.pos, result.error());
      return result;
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      const auto& n = static_cast<const BinaryExpr&>(expr);
      auto left = eval(*n.left);
      if (!left.ok()) return left;
      // Python's and/or return an operand, not a bool.
      if (truthy(left.value()) == (expr.kind == ExprKind::kOr)) return left;
      return eval(*n.right);
    }
    case ExprKind::kConcat: {
      std::string text;
      for (const ExprPtr& item : static_cast<const SequenceExpr&>(expr).items) {
        auto value = eval(*item);
        if (!value.ok()) return value;
        text += to_py_str(value.value());
        if (Status s = budget_.check_string(text.size()); !s.ok())
          return locate(expr.pos, s.error());
      }
      return Value(std::move(text));
    }
    case ExprKind::kCompare:
      return eval_compare(static_cast<const CompareExpr&>(expr));
    case ExprKind::kCondition: {
      const auto& n = static_cast<const ConditionExpr&>(expr);
      auto test = eval(*n.test);
      if (!test.ok()) return test;
      if (truthy(test.value())) return eval(*n.then_expr);
      if (n.else_expr) return eval(*n.else_expr);
      return Value::undefined("the inline if-expression on line " + std::to_string(expr.pos.line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::kGetAttr: {
      const auto& n = static_cast<const GetAttrExpr&>(expr);
      auto object = eval(*n.object);
      if (!object.ok()) return object;
      if (object.value().is_undefined()) return locate(expr.pos, undefined_error(object.value()));
      return get_attr(object.value(), n.name);
    }
    case ExprKind::kGetItem: {
      const auto& n = static_cast<const GetItemExpr&>(expr);
      auto object = eval(*n.object);
      if (!object.ok()) return object;
      if (object.value().is_undefined()) return locate(expr.pos, undefined_error(object.value()));
      auto index = eval(*n.index);
      if (!index.ok()) return index;
      return get_item(object.value(), index.value());
    }
    case ExprKind::kSlice: {
      const auto& n = static_cast<const SliceExpr&>(expr);
      auto object = eval(*n.object);
      if (!object.ok()) return object;
      if (object.value().is_undefined()) return locate(expr.pos, undefined_error(object.value()));
      Value bounds[3] = {Value::none(), Value::none(), Value::none()};
      const Expr* exprs[3] = {n.start.get(), n.stop.get(), n.step.get()};
      for (int i = 0; i < 3; ++i) {
        if (exprs[i] == nullptr) continue;
        auto bound = eval(*exprs[i]);
        if (!bound.ok()) return bound;
        bounds[i] = std::move(bound.value());
      }
      auto result = slice(budget_, object.value(), bounds[0], bounds[1], bounds[2]);
      if (!result.ok()) return locate(expr.pos, result.error());
      return result;
    }
    case ExprKind::kCall:
      return eval_call(static_cast<const CallExpr&>(expr));
    case ExprKind::kFilter:
      return eval_filter(static_cast<const FilterExpr&>(expr), nullptr);
    case ExprKind::kTest:
      return eval_test(static_cast<const TestExpr&>(expr));
  }
  return runtime_error(expr.pos, "unknown expression");
}

Result<Value> Interpreter::eval_compare(const CompareExpr& expr) {
  auto left = eval(*expr.first);
  if (!left.ok()) return left;
  Value current = std::move(left.value());
  for (const auto& [op, operand] : expr.rest) {
    auto right = eval(*operand);
    if (!right.ok()) return right;
    auto result = compare(op, current, right.value());
    if (!result.ok()) return locate(operand->pos, result.error());
    if (!result.value()) return Value(false);
    current = std::move(right.value());
  }
  return Value(true);
}

Result<Value> Interpreter::eval_call(const CallExpr& expr) {
  auto callee = eval(*expr.callee);
  if (!callee.ok()) return callee;
  CallArgs args;
  if (Status s = eval_args(expr.args, expr.kwargs, args); !s.ok()) return s.error();
  const Value& fn = callee.value();
  if (fn.is_undefined()) return locate(expr.pos, undefined_error(fn));
  if (!fn.is_callable())
    return runtime_error(expr.pos, "'" + py_type_name(fn) + "' object is not callable");
  if (fn.callable().macro) {
    if (macro_depth_ >= budget_.limits().max_macro_depth)
      return runtime_error(expr.pos, "macros recurse deeper than " +
                                         std::to_string(budget_.limits().max_macro_depth) +
                                         " calls");
    return call_macro(fn.callable(), args, expr.pos);  // body errors carry their own position
  }
  auto result = fn.callable().native(*this, args);
  if (!result.ok()) return locate(expr.pos, result.error());
  return result;
}

Result<Value> Interpreter::call_macro(const Callable& macro, const CallArgs& args,
                                      SourcePos call_pos) {
  const MacroNode& node = *macro.macro->node;
  auto parent = macro.macro->scope.lock();
  if (!parent)
    return runtime_error(call_pos, "macro '" + node.name + "' was called after its scope ended");
  const size_t n_params = node.params.size();
  if (args.positional.size() > n_params)
    return runtime_error(call_pos, "macro '" + node.name + "' takes not more than " +
                                       std::to_string(n_params) + " argument(s)");
  auto scope = child_of(parent);
  std::vector<bool> bound(n_params, false);
  for (size_t i = 0; i < args.positional.size(); ++i) {
    scope->vars[node.params[i]] = args.positional[i];
    bound[i] = true;
  }
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < n_params && node.params[i] != key) ++i;
    if (i == n_params)
      return runtime_error(call_pos,
                           "macro '" + node.name + "' takes no keyword argument '" + key + "'");
    if (bound[i])
      return runtime_error(
          call_pos, "macro '" + node.name + "' got multiple values for argument '" + key + "'");
    scope->vars[key] = value;
    bound[i] = true;
  }
  const size_t first_default = n_params - node.defaults.size();
  DepthGuard depth(macro_depth_);
  for (size_t i = 0; i < n_params; ++i) {
    if (bound[i]) continue;
    if (i >= first_default) {
      ScopeSwap swap(scope_, scope);  // defaults see earlier parameters
      auto value = eval(*node.defaults[i - first_default]);
      if (!value.ok()) return value;
      scope->vars[node.params[i]] = std::move(value.value());
    } else {
      scope->vars[node.params[i]] =
          Value::undefined("parameter '" + node.params[i] + "' was not provided");
    }
  }
  auto text = capture(node.body, std::move(scope));
  if (!text.ok()) return text.error();
  return Value(std::move(text.value()));
}

Result<Value> Interpreter::eval_filter(const FilterExpr& expr, const Value* input) {
  Value operand;
  if (expr.operand == nullptr) {
    operand = *input;
  } else if (input != nullptr && expr.operand->kind == ExprKind::kFilter) {
    auto inner = eval_filter(static_cast<const FilterExpr&>(*expr.operand), input);
    if (!inner.ok()) return inner;
    operand = std::move(inner.value());
  } else {
    auto value = eval(*expr.operand);
    if (!value.ok()) return value;
    operand = std::move(value.value());
  }
  CallArgs args;
  if (Status s = eval_args(expr.args, expr.kwargs, args); !s.ok()) return s.error();
  if (expr.fn == nullptr) return runtime_error(expr.pos, "No filter named '" + expr.name + "'.");
  auto result = expr.fn(*this, operand, args);
  if (!result.ok()) return locate(expr.pos, result.error());
  return result;
}

Result<Value> Interpreter::eval_test(const TestExpr& expr) {
  auto operand = eval(*expr.operand);
  if (!operand.ok()) return operand;
  CallArgs args;
  if (Status s = eval_args(expr.args, expr.kwargs, args); !s.ok()) return s.error();
  if (expr.fn == nullptr)
    return runtime_error(expr.pos, "No test named '" + expr.name + "' found.");
  auto result = expr.fn(*this, operand.value(), args);
  if (!result.ok()) return locate(expr.pos, result.error());
  return Value(result.value());
}

Result<Value> Interpreter::apply_filter(std::string_view name, const Value& input,
                                        const CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (fn == nullptr) return make_error("No filter named '" + std::string(name) + "'.");
  return fn(*this, input, args);
}

Result<bool> Interpreter::apply_test(std::string_view name, const Value& input,
                                     const CallArgs& args) {
  TestFn fn = find_test(name);
  if (fn == nullptr) return make_error("No test named '" + std::string(name) + "' found.");
  return fn(*this, input, args);
}

}  // namespace troupe::chat
