#pragma once
// Python semantics of the operators templates use: arithmetic, comparison, membership,
// attribute and item access, slicing and iteration. Errors carry Python's messages and no
// position; the interpreter adds where they happened.
#include <string_view>
#include <vector>

#include "engine/chat/render_budget.hpp"
#include "engine/chat/value.hpp"

namespace troupe::chat {

// + - * / // % ** (including str % args formatting).
Result<Value> binary_op(RenderBudget& budget, std::string_view op, const Value& a, const Value& b);
Result<Value> negate(const Value& v, bool minus);

// ==, !=, <, <=, >, >=, in, notin.
Result<bool> compare(std::string_view op, const Value& a, const Value& b);
// Three-way Python ordering (for sort/min/max); errors on unorderable types.
Result<int> py_order(const Value& a, const Value& b);
Result<bool> contains(const Value& container, const Value& item);

// jinja2's getattr/getitem: a miss gives an Undefined naming what was missing. `obj` must not
// be Undefined (that is an error the caller reports).
Value get_attr(const Value& obj, std::string_view name);
Value get_item(const Value& obj, const Value& key);
// Python's obj[start:stop:step]; with `lenient`, type errors give Undefined (jinja2's getitem).
Result<Value> slice(RenderBudget& budget, const Value& obj, const Value& start, const Value& stop,
                    const Value& step, bool lenient);

// Python iteration: list/tuple items, string characters, dict keys; Undefined is empty.
Result<std::vector<Value>> iterate(const Value& v);
// len(): strings count code points; errors for scalars.
Result<int64_t> py_len(const Value& v);

// Type name of the first unhashable part of `v` (list, dict), or empty when hashable.
std::string unhashable_type(const Value& v);

// Error for using an undefined value, or a Python TypeError naming the operand types.
Error undefined_error(const Value& v);

}  // namespace troupe::chat
