#pragma once
// Argument binding shared by the filter implementations: Python-style positional/keyword
// matching against a parameter list, and jinja2's dotted attribute getter.
#include <initializer_list>
#include <string_view>
#include <vector>

#include "engine/chat/value.hpp"

namespace troupe::chat {

// Binds `args` to `params` (in order); a slot is null when the argument was not given.
Result<std::vector<const Value*>> bind_args(std::string_view filter, const CallArgs& args,
                                            std::initializer_list<std::string_view> params);

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0.
Result<Value> get_attribute_path(const Value& item, const Value& attribute);

// jinja2's soft_str: strings (Markup included) unchanged, anything else through str().
Value soft_str(const Value& v);

// Value given by the caller, or `fallback` when absent.
inline const Value& arg_or(const Value* given, const Value& fallback) {
  return given != nullptr ? *given : fallback;
}

// Sequence filters, implemented in sequence_filters.cpp.
Result<Value> filter_batch(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_dictsort(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_first(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_items(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_join(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_last(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_list(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_map(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_max(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_min(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_reject(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_rejectattr(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_reverse(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_select(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_selectattr(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_sort(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_sum(Interpreter&, const Value&, const CallArgs&);
Result<Value> filter_unique(Interpreter&, const Value&, const CallArgs&);

}  // namespace troupe::chat
