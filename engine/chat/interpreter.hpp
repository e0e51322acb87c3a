#pragma once
// Interpreter: runs a parsed template against a context and produces the rendered text, with
// jinja2's scoping (for bodies and macros get their own scope; if does not) and
// transformers' globals (raise_exception, strftime_now, namespace, dict, range).
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/chat/ast.hpp"
#include "engine/chat/render_budget.hpp"
#include "engine/chat/value.hpp"

namespace troupe::chat {

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
};

// A macro value: its definition and the scope it was defined in. The scope is held weakly so
// values stored in scopes never keep scopes alive (no reference cycles).
struct MacroClosure {
  const MacroNode* node = nullptr;
  std::weak_ptr<Scope> scope;
};

class Interpreter {
 public:
  explicit Interpreter(const RenderLimits& limits) : budget_(limits) {}

  // Renders `program`; `context` must be an object whose entries become template variables.
  Result<std::string> render(const Program& program, const Value& context);

  RenderBudget& budget() { return budget_; }

  // jinja2's as_const: the value of an expression made only of constants, computed the way its
  // compile-time optimizer does (slices fall back to Undefined); nullopt when not constant.
  static std::optional<Value> evaluate_constant(const Expr& expr);

  // Services for filters: apply a filter or test by name (map, select, ...).
  Result<Value> apply_filter(std::string_view name, const Value& input, const CallArgs& args);
  Result<bool> apply_test(std::string_view name, const Value& input, const CallArgs& args);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Result<Flow> execute(const Body& body);
  Result<Flow> execute_node(const Node& node);
  Result<Flow> execute_for(const ForNode& node);
  Status execute_set(const SetNode& node);
  Result<std::string> capture(const Body& body, std::shared_ptr<Scope> scope);
  Status assign(const Target& target, const Value& value);
  Status write(std::string_view text);

  Result<Value> eval(const Expr& expr);
  Result<Value> eval_inner(const Expr& expr);
  Result<Value> eval_call(const CallExpr& expr);
  Result<Value> eval_filter(const FilterExpr& expr, const Value* input);
  Result<Value> eval_test(const TestExpr& expr);
  Result<Value> eval_compare(const CompareExpr& expr);
  Status eval_args(const std::vector<ExprPtr>& args, const KeywordExprs& kwargs, CallArgs& out);
  Result<Value> call_macro(const Callable& macro, const CallArgs& args, SourcePos call_pos);
  Value lookup(const std::string& name) const;

  RenderBudget budget_;
  std::shared_ptr<Scope> scope_;
  std::string* out_ = nullptr;
  int eval_depth_ = 0;
  int macro_depth_ = 0;
  bool constant_mode_ = false;  // evaluating for the constant folder
};

}  // namespace troupe::chat
