#pragma once
// Syntax tree of a parsed template: expressions (Expr) and statements (Node).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat/source_pos.hpp"
#include "engine/chat/value.hpp"

namespace troupe::chat {

// Filters and tests are resolved while parsing; nullptr means unknown, which jinja2 reports
// only when the expression actually runs.
using FilterFn = Result<Value> (*)(Interpreter&, const Value& input, const CallArgs& args);
using TestFn = Result<bool> (*)(Interpreter&, const Value& input, const CallArgs& args);

enum class ExprKind {
  kLiteral,
  kName,
  kList,
  kTuple,
  kDict,
  kNegate,
  kPlus,
  kNot,
  kBinary,  // + - * / // % **
  kAnd,
  kOr,
  kConcat,  // ~
  kCompare,
  kCondition,  // a if b else c
  kGetAttr,
  kGetItem,
  kSlice,
  kCall,
  kFilter,
  kTest,
};

struct Expr {
  Expr(ExprKind k, SourcePos p) : kind(k), pos(p) {}
  virtual ~Expr() = default;
  ExprKind kind;
  SourcePos pos;
};
using ExprPtr = std::unique_ptr<Expr>;
using KeywordExprs = std::vector<std::pair<std::string, ExprPtr>>;

struct LiteralExpr : Expr {
  LiteralExpr(SourcePos p, Value v) : Expr(ExprKind::kLiteral, p), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(SourcePos p, std::string n) : Expr(ExprKind::kName, p), name(std::move(n)) {}
  std::string name;
};

// List and tuple literals, unary operators (one item) and ~ chains.
struct SequenceExpr : Expr {
  using Expr::Expr;
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
  using Expr::Expr;
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct BinaryExpr : Expr {
  using Expr::Expr;
  std::string op;  // + - * / // % ** for kBinary; unused for kAnd / kOr
  ExprPtr left, right;
};

struct CompareExpr : Expr {
  using Expr::Expr;
  ExprPtr first;
  std::vector<std::pair<std::string, ExprPtr>> rest;  // ==, !=, <, <=, >, >=, in, notin
};

struct ConditionExpr : Expr {
  using Expr::Expr;
  ExprPtr test, then_expr, else_expr;  // else_expr may be null: Undefined
};

struct GetAttrExpr : Expr {
  using Expr::Expr;
  ExprPtr object;
  std::string name;
};

struct GetItemExpr : Expr {
  using Expr::Expr;
  ExprPtr object, index;
};

struct SliceExpr : Expr {
  using Expr::Expr;
  ExprPtr object, start, stop, step;  // bounds may be null
};

struct CallExpr : Expr {
  using Expr::Expr;
  ExprPtr callee;
  std::vector<ExprPtr> args;
  KeywordExprs kwargs;
};

struct FilterExpr : Expr {
  using Expr::Expr;
  ExprPtr operand;  // null in {% filter %} and {% set x | f %}: applied to the body
  std::string name;
  FilterFn fn = nullptr;
  std::vector<ExprPtr> args;
  KeywordExprs kwargs;
};

struct TestExpr : Expr {
  using Expr::Expr;
  ExprPtr operand;
  std::string name;
  TestFn fn = nullptr;
  std::vector<ExprPtr> args;
  KeywordExprs kwargs;
};

// Left side of set/for/with: a name, a tuple to unpack, or namespace.attr.
struct Target {
  enum class Kind { kName, kTuple, kNamespaceAttr } kind = Kind::kName;
  std::string name;
  std::string attr;
  std::vector<Target> items;
  SourcePos pos;
};

enum class NodeKind {
  kText,
  kOutput,
  kIf,
  kFor,
  kSet,
  kSetBlock,
  kMacro,
  kBreak,
  kContinue,
  kFilterBlock,
  kWith,
  kScope,  // {% generation %}: renders its body in a child scope
};

struct Node {
  Node(NodeKind k, SourcePos p) : kind(k), pos(p) {}
  virtual ~Node() = default;
  NodeKind kind;
  SourcePos pos;
};
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct TextNode : Node {
  TextNode(SourcePos p, std::string t) : Node(NodeKind::kText, p), text(std::move(t)) {}
  std::string text;
};

struct OutputNode : Node {
  using Node::Node;
  std::vector<ExprPtr> exprs;
};

struct IfNode : Node {
  using Node::Node;
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, then each elif
  Body else_body;
};

struct ForNode : Node {
  using Node::Node;
  Target target;
  ExprPtr iterable;
  ExprPtr condition;  // {% for x in xs if cond %}
  Body body, else_body;
  bool uses_loop = true;  // whether the body names `loop` (else it is not built)
};

struct SetNode : Node {
  using Node::Node;
  Target target;
  ExprPtr value;
};

struct SetBlockNode : Node {
  using Node::Node;
  Target target;
  ExprPtr filter;  // chain ending in an operand-less FilterExpr, or null
  Body body;
};

struct MacroNode : Node {
  using Node::Node;
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned to the last params
  Body body;
};

struct FilterBlockNode : Node {
  using Node::Node;
  ExprPtr filter;
  Body body;
};

struct WithNode : Node {
  using Node::Node;
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};

struct ScopeNode : Node {
  using Node::Node;
  Body body;
};

struct Program {
  Body body;
};

}  // namespace troupe::chat
