// Expression evaluation: names, operators, calls, macros, filters and tests.
#include <cmath>
#include <cstdint>

#include "engine/chat/builtins.hpp"
#include "engine/chat/filters.hpp"
#include "engine/chat/interpreter.hpp"
#include "engine/chat/interpreter_guards.hpp"
#include "engine/chat/operators.hpp"
#include "engine/chat/predicates.hpp"

namespace troupe::chat {
namespace {

bool is_negative_literal(const Expr& expr) {
  if (expr.kind != ExprKind::kLiteral) return false;
  const Value& v = static_cast<const LiteralExpr&>(expr).value;
  if (v.is_int()) return v.as_int() < 0 && v.as_int() != INT64_MIN;
  return v.is_float() && std::signbit(v.as_float()) && !std::isnan(v.as_float()) &&
         !std::isinf(v.as_float());
}

}  // namespace

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
  DepthCounter depth(eval_depth_);
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
      if (constant_mode_) return make_error("not constant");
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
      if (n.op == "**" && !constant_mode_ && is_negative_literal(*n.left)) {
        // jinja2 writes a folded negative constant into Python source unparenthesized, so
        // `-2 ** x` runs as -(2 ** x).
        auto magnitude = negate(left.value(), true);
        auto power = binary_op(budget_, n.op, magnitude.value(), right.value());
        if (!power.ok()) return locate(expr.pos, power.error());
        auto result = negate(power.value(), true);
        if (!result.ok()) return locate(expr.pos, result.error());
        return result;
      }
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
      // jinja2 never folds a conditional that yields Undefined; it runs it at render time.
      if (constant_mode_) return make_error("not constant");
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
      auto result = slice(budget_, object.value(), bounds[0], bounds[1], bounds[2], constant_mode_);
      if (!result.ok()) return locate(expr.pos, result.error());
      return result;
    }
    case ExprKind::kCall:
      if (constant_mode_) return make_error("not constant");
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
  DepthCounter depth(macro_depth_);
  // Parameters are local from the start: a default naming a parameter that has no value yet
  // sees Undefined, not an outer variable of the same name.
  for (size_t i = 0; i < n_params; ++i) {
    if (bound[i]) continue;
    scope->vars[node.params[i]] =
        i >= first_default
            ? Value::undefined("'" + node.params[i] + "' is undefined")
            : Value::undefined("parameter '" + node.params[i] + "' was not provided");
  }
  for (size_t i = first_default; i < n_params; ++i) {
    if (bound[i]) continue;
    ScopeSwap swap(scope_, scope);
    auto value = eval(*node.defaults[i - first_default]);
    if (!value.ok()) return value;
    scope->vars[node.params[i]] = std::move(value.value());
  }
  auto text = capture(node.body, std::move(scope));
  if (!text.ok()) return text.error();
  return Value(std::move(text.value()));
}

Result<Value> Interpreter::eval_filter(const FilterExpr& expr, const Value* input) {
  if (constant_mode_) {
    // Filters that need the render context are never folded, nor are block filters.
    static constexpr std::string_view kContextFilters[] = {"map", "select", "reject", "selectattr",
                                                           "rejectattr"};
    if (expr.operand == nullptr || expr.fn == nullptr) return make_error("not constant");
    for (std::string_view name : kContextFilters)
      if (expr.name == name) return make_error("not constant");
  }
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

std::optional<Value> Interpreter::evaluate_constant(const Expr& expr) {
  // Folding is an optimization: anything expensive is left for render time.
  RenderLimits limits;
  limits.max_work = 100'000;
  limits.max_string_bytes = size_t{1} << 16;
  limits.max_list_items = size_t{1} << 12;
  Interpreter interpreter(limits);
  interpreter.constant_mode_ = true;
  interpreter.scope_ = std::make_shared<Scope>();
  auto value = interpreter.eval(expr);
  if (!value.ok()) return std::nullopt;
  return std::move(value.value());
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
