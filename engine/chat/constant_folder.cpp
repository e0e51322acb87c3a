#include "engine/chat/constant_folder.hpp"

#include "engine/chat/interpreter.hpp"

namespace troupe::chat {
namespace {

// jinja2's has_safe_repr: values a folded constant may hold.
bool safe_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNone:
    case Value::Kind::kBool:
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kString:
      return true;
    case Value::Kind::kArray:
      for (const Value& item : v.items())
        if (!safe_repr(item)) return false;
      return true;
    case Value::Kind::kObject:
      if (v.is_namespace()) return false;
      for (const auto& entry : v.entries())
        if (!safe_repr(entry.second)) return false;
      return true;
    default:
      return false;
  }
}

template <typename F>
void for_each_child(Expr& expr, F&& visit) {
  const auto all = [&](std::vector<ExprPtr>& items) {
    for (ExprPtr& item : items) visit(item);
  };
  const auto keywords = [&](KeywordExprs& items) {
    for (auto& item : items) visit(item.second);
  };
  switch (expr.kind) {
    case ExprKind::kLiteral:
    case ExprKind::kName:
      return;
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kNegate:
    case ExprKind::kPlus:
    case ExprKind::kNot:
    case ExprKind::kConcat:
      all(static_cast<SequenceExpr&>(expr).items);
      return;
    case ExprKind::kDict:
      for (auto& [key, value] : static_cast<DictExpr&>(expr).items) {
        visit(key);
        visit(value);
      }
      return;
    case ExprKind::kBinary:
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      auto& b = static_cast<BinaryExpr&>(expr);
      visit(b.left);
      visit(b.right);
      return;
    }
    case ExprKind::kCompare: {
      auto& c = static_cast<CompareExpr&>(expr);
      visit(c.first);
      for (auto& rest : c.rest) visit(rest.second);
      return;
    }
    case ExprKind::kCondition: {
      auto& c = static_cast<ConditionExpr&>(expr);
      visit(c.test);
      visit(c.then_expr);
      visit(c.else_expr);
      return;
    }
    case ExprKind::kGetAttr:
      visit(static_cast<GetAttrExpr&>(expr).object);
      return;
    case ExprKind::kGetItem: {
      auto& g = static_cast<GetItemExpr&>(expr);
      visit(g.object);
      visit(g.index);
      return;
    }
    case ExprKind::kSlice: {
      auto& s = static_cast<SliceExpr&>(expr);
      visit(s.object);
      visit(s.start);
      visit(s.stop);
      visit(s.step);
      return;
    }
    case ExprKind::kCall: {
      auto& c = static_cast<CallExpr&>(expr);
      visit(c.callee);
      all(c.args);
      keywords(c.kwargs);
      return;
    }
    case ExprKind::kFilter: {
      auto& f = static_cast<FilterExpr&>(expr);
      visit(f.operand);
      all(f.args);
      keywords(f.kwargs);
      return;
    }
    case ExprKind::kTest: {
      auto& t = static_cast<TestExpr&>(expr);
      visit(t.operand);
      all(t.args);
      keywords(t.kwargs);
      return;
    }
  }
}

// The optimizer: folds every sub-expression whose constant value is representable, bottom up.
void optimize(ExprPtr& expr) {
  if (!expr) return;
  for_each_child(*expr, optimize);
  if (expr->kind == ExprKind::kLiteral) return;
  std::optional<Value> value = Interpreter::evaluate_constant(*expr);
  if (value && safe_repr(*value))
    expr = std::make_unique<LiteralExpr>(expr->pos, std::move(*value));
}

// The code generator runs the optimizer when it reaches an operator, attribute/item access,
// filter, test, conditional or call; literals, names and list/tuple/dict displays are not
// folded themselves, only their operands.
void compile_expr(ExprPtr& expr) {
  if (!expr) return;
  switch (expr->kind) {
    case ExprKind::kLiteral:
    case ExprKind::kName:
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kDict:
      for_each_child(*expr, compile_expr);
      return;
    default:
      optimize(expr);
  }
}

// {{ x }}: a constant output is computed once, whatever its value (Undefined prints as '').
void compile_output(ExprPtr& expr) {
  std::optional<Value> value = Interpreter::evaluate_constant(*expr);
  if (value)
    expr = std::make_unique<LiteralExpr>(expr->pos, std::move(*value));
  else
    compile_expr(expr);
}

void compile_body(Body& body);

void compile_node(Node& node) {
  switch (node.kind) {
    case NodeKind::kText:
    case NodeKind::kBreak:
    case NodeKind::kContinue:
      return;
    case NodeKind::kOutput:
      for (ExprPtr& expr : static_cast<OutputNode&>(node).exprs) compile_output(expr);
      return;
    case NodeKind::kIf: {
      auto& n = static_cast<IfNode&>(node);
      for (auto& [test, body] : n.branches) {
        compile_expr(test);
        compile_body(body);
      }
      compile_body(n.else_body);
      return;
    }
    case NodeKind::kFor: {
      auto& n = static_cast<ForNode&>(node);
      compile_expr(n.iterable);
      compile_expr(n.condition);
      compile_body(n.body);
      compile_body(n.else_body);
      return;
    }
    case NodeKind::kSet:
      compile_expr(static_cast<SetNode&>(node).value);
      return;
    case NodeKind::kSetBlock: {
      auto& n = static_cast<SetBlockNode&>(node);
      compile_expr(n.filter);
      compile_body(n.body);
      return;
    }
    case NodeKind::kMacro: {
      auto& n = static_cast<MacroNode&>(node);
      for (ExprPtr& d : n.defaults) compile_expr(d);
      compile_body(n.body);
      return;
    }
    case NodeKind::kFilterBlock: {
      auto& n = static_cast<FilterBlockNode&>(node);
      compile_expr(n.filter);
      compile_body(n.body);
      return;
    }
    case NodeKind::kWith: {
      auto& n = static_cast<WithNode&>(node);
      for (auto& assignment : n.assignments) compile_expr(assignment.second);
      compile_body(n.body);
      return;
    }
    case NodeKind::kScope:
      compile_body(static_cast<ScopeNode&>(node).body);
      return;
  }
}

void compile_body(Body& body) {
  for (NodePtr& node : body) compile_node(*node);
}

}  // namespace

void fold_constants(Program& program) {
  compile_body(program.body);
}

}  // namespace troupe::chat
