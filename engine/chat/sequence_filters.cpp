// Filters over sequences and mappings: select/map families, sorting, joining, aggregates.
// Like jinja2, select/reject/map/unique/items/batch/reverse return one-pass iterators
// (generators), which are always truthy and have no len().
#include <algorithm>

#include "engine/chat/filter_args.hpp"
#include "engine/chat/interpreter.hpp"
#include "engine/chat/operators.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {
namespace {

// jinja2's generator filters run only when iterated, so their errors surface then.
Value lazily(Result<Value> result) {
  return result.ok() ? std::move(result.value()) : Value::failed_iterator(result.message());
}

// jinja2's ignore_case: strings compare lower-cased unless case_sensitive.
Value fold_case(const Value& v, bool case_sensitive) {
  if (case_sensitive || !v.is_string()) return v;
  return Value(py_lower(v.as_string()));
}

// select/reject/selectattr/rejectattr.
Result<Value> select_impl(Interpreter& in, const Value& value, const CallArgs& args,
                          bool keep_matches, bool by_attribute) {
  std::vector<Value> kept;
  if (!truthy(value)) return Value::iterator(std::move(kept));
  auto items = iterate(value);
  if (!items.ok()) return items.error();
  size_t offset = 0;
  Value attribute;
  if (by_attribute) {
    if (args.positional.empty()) return make_error("Missing parameter for attribute name");
    attribute = args.positional[0];
    offset = 1;
  }
  const bool has_test = args.positional.size() > offset;
  CallArgs test_args;
  std::string test_name;
  if (has_test) {
    if (!args.positional[offset].is_string()) return make_error("test name must be a string");
    test_name = args.positional[offset].as_string();
    test_args.positional.assign(args.positional.begin() + static_cast<long>(offset) + 1,
                                args.positional.end());
    test_args.keyword = args.keyword;
  }
  for (const Value& item : items.value()) {
    if (Status s = in.budget().charge(1); !s.ok()) return s.error();
    Value subject = item;
    if (by_attribute) {
      auto got = get_attribute_path(item, attribute);
      if (!got.ok()) return got.error();
      subject = std::move(got.value());
    }
    bool match = truthy(subject);
    if (has_test) {
      auto r = in.apply_test(test_name, subject, test_args);
      if (!r.ok()) return r.error();
      match = r.value();
    }
    if (match == keep_matches) kept.push_back(item);
  }
  return Value::iterator(std::move(kept));
}

// Sorts `items` by `keys` (stable), reporting the first comparison error.
Status sort_by_keys(std::vector<Value>& items, std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Status status = Ok{};
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (!status.ok()) return false;
    auto c = reverse ? py_order(keys[b], keys[a]) : py_order(keys[a], keys[b]);
    if (!c.ok()) {
      status = c.error();
      return false;
    }
    return c.value() < 0;
  });
  if (!status.ok()) return status;
  std::vector<Value> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) sorted.push_back(std::move(items[i]));
  items = std::move(sorted);
  return Ok{};
}

Result<Value> min_max(const Value& value, const CallArgs& args, bool want_max) {
  auto a = bind_args(want_max ? "max" : "min", args, {"case_sensitive", "attribute"});
  if (!a.ok()) return a.error();
  const bool case_sensitive = a.value()[0] != nullptr && truthy(*a.value()[0]);
  auto items = iterate(value);
  if (!items.ok()) return items.error();
  if (items.value().empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const Value attribute = arg_or(a.value()[1], Value::none());
  const Value* best = nullptr;
  Value best_key;
  for (const Value& item : items.value()) {
    auto key = get_attribute_path(item, attribute);
    if (!key.ok()) return key.error();
    Value folded = fold_case(key.value(), case_sensitive);
    if (best != nullptr) {
      auto c = py_order(folded, best_key);
      if (!c.ok()) return c.error();
      if (want_max ? c.value() <= 0 : c.value() >= 0) continue;
    }
    best = &item;
    best_key = std::move(folded);
  }
  return *best;
}

}  // namespace

Result<Value> filter_select(Interpreter& in, const Value& v, const CallArgs& a) {
  return lazily(select_impl(in, v, a, true, false));
}
Result<Value> filter_reject(Interpreter& in, const Value& v, const CallArgs& a) {
  return lazily(select_impl(in, v, a, false, false));
}
Result<Value> filter_selectattr(Interpreter& in, const Value& v, const CallArgs& a) {
  return lazily(select_impl(in, v, a, true, true));
}
Result<Value> filter_rejectattr(Interpreter& in, const Value& v, const CallArgs& a) {
  return lazily(select_impl(in, v, a, false, true));
}

static Result<Value> map_impl(Interpreter& in, const Value& value, const CallArgs& args) {
  std::vector<Value> mapped;
  if (!truthy(value)) return Value::iterator(std::move(mapped));
  auto items = iterate(value);
  if (!items.ok()) return items.error();
  const Value* attribute = args.keyword_arg("attribute");
  if (args.positional.empty() && attribute != nullptr) {
    const Value* fallback = args.keyword_arg("default");
    for (const auto& [key, unused] : args.keyword)
      if (key != "attribute" && key != "default")
        return make_error("Unexpected keyword argument '" + key + "'");
    for (const Value& item : items.value()) {
      auto got = get_attribute_path(item, *attribute);
      if (!got.ok()) return got.error();
      const bool use_default =
          fallback != nullptr && !fallback->is_none() && got.value().is_undefined();
      mapped.push_back(use_default ? *fallback : std::move(got.value()));
    }
    return Value::iterator(std::move(mapped));
  }
  if (args.positional.empty()) return make_error("map requires a filter argument");
  if (!args.positional[0].is_string()) return make_error("map filter name must be a string");
  CallArgs filter_args;
  filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
  filter_args.keyword = args.keyword;
  for (const Value& item : items.value()) {
    if (Status s = in.budget().charge(1); !s.ok()) return s.error();
    auto r = in.apply_filter(args.positional[0].as_string(), item, filter_args);
    if (!r.ok()) return r.error();
    mapped.push_back(std::move(r.value()));
  }
  return Value::iterator(std::move(mapped));
}

static Result<Value> items_impl(const Value& v) {
  std::vector<Value> pairs;
  if (v.is_undefined()) return Value::iterator(std::move(pairs));
  if (!v.is_object() || v.is_namespace())
    return make_error("Can only get item pairs from a mapping.");
  for (const auto& [key, value] : v.entries()) pairs.push_back(Value::tuple({Value(key), value}));
  return Value::iterator(std::move(pairs));
}

Result<Value> filter_dictsort(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("dictsort", args, {"case_sensitive", "by", "reverse"});
  if (!a.ok()) return a.error();
  const bool case_sensitive = a.value()[0] != nullptr && truthy(*a.value()[0]);
  const Value by = arg_or(a.value()[1], Value("key"));
  const bool reverse = a.value()[2] != nullptr && truthy(*a.value()[2]);
  if (!by.is_string() || (by.as_string() != "key" && by.as_string() != "value"))
    return make_error("You can only sort by either \"key\" or \"value\"");
  if (!v.is_object() || v.is_namespace())
    return make_error("'" + py_type_name(v) + "' object has no attribute 'items'");
  std::vector<Value> pairs, keys;
  for (const auto& [key, value] : v.entries()) {
    pairs.push_back(Value::tuple({Value(key), value}));
    keys.push_back(fold_case(by.as_string() == "key" ? Value(key) : value, case_sensitive));
  }
  if (Status s = sort_by_keys(pairs, keys, reverse); !s.ok()) return s.error();
  return Value::array(std::move(pairs));
}

Result<Value> filter_sort(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("sort", args, {"reverse", "case_sensitive", "attribute"});
  if (!a.ok()) return a.error();
  const bool reverse = a.value()[0] != nullptr && truthy(*a.value()[0]);
  const bool case_sensitive = a.value()[1] != nullptr && truthy(*a.value()[1]);
  const Value attribute = arg_or(a.value()[2], Value::none());
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  // Keys are lists of attribute values ("a,b" sorts by a, then b).
  std::vector<Value> paths;
  if (attribute.is_string()) {
    const std::string& spec = attribute.as_string();
    for (size_t start = 0;;) {
      const size_t comma = spec.find(',', start);
      paths.emplace_back(spec.substr(start, comma == std::string::npos ? comma : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    paths.push_back(attribute);
  }
  std::vector<Value> keys;
  for (const Value& item : items.value()) {
    std::vector<Value> key;
    for (const Value& path : paths) {
      auto got = get_attribute_path(item, path);
      if (!got.ok()) return got.error();
      key.push_back(fold_case(got.value(), case_sensitive));
    }
    keys.push_back(Value::array(std::move(key)));
  }
  if (Status s = sort_by_keys(items.value(), keys, reverse); !s.ok()) return s.error();
  return Value::array(std::move(items.value()));
}

static Result<Value> unique_impl(Interpreter& in, const Value& v, const CallArgs& args) {
  auto a = bind_args("unique", args, {"case_sensitive", "attribute"});
  if (!a.ok()) return a.error();
  const bool case_sensitive = a.value()[0] != nullptr && truthy(*a.value()[0]);
  const Value attribute = arg_or(a.value()[1], Value::none());
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  std::vector<Value> kept, seen;
  for (const Value& item : items.value()) {
    auto key = get_attribute_path(item, attribute);
    if (!key.ok()) return key.error();
    Value folded = fold_case(key.value(), case_sensitive);
    if (std::string type = unhashable_type(folded); !type.empty())
      return make_error("unhashable type: '" + type + "'");
    bool duplicate = false;
    for (const Value& s : seen) {
      if (Status st = in.budget().charge(1); !st.ok()) return st.error();
      if (py_equal(s, folded)) {
        duplicate = true;
        break;
      }
    }
    if (duplicate) continue;
    seen.push_back(std::move(folded));
    kept.push_back(item);
  }
  return Value::iterator(std::move(kept));
}

Result<Value> filter_first(Interpreter&, const Value& v, const CallArgs&) {
  if (v.is_iterator()) {  // next(iter(generator)) consumes one item
    auto next = v.consume_one();
    if (!next.ok()) return next.error();
    if (!next.value()) return Value::undefined("No first item, sequence was empty.");
    return *next.value();
  }
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  if (items.value().empty()) return Value::undefined("No first item, sequence was empty.");
  return items.value().front();
}

Result<Value> filter_last(Interpreter&, const Value& v, const CallArgs&) {
  if (v.is_iterator()) return make_error("'generator' object is not reversible");
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  if (items.value().empty()) return Value::undefined("No last item, sequence was empty.");
  return items.value().back();
}

Result<Value> filter_list(Interpreter&, const Value& v, const CallArgs&) {
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  return Value::array(std::move(items.value()));
}

Result<Value> filter_reverse(Interpreter&, const Value& v, const CallArgs&) {
  if (v.is_string()) {
    auto chars = split_code_points(v.as_string());
    std::string out;
    out.reserve(v.as_string().size());
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
    return v.is_safe() ? Value::safe_string(std::move(out)) : Value(std::move(out));
  }
  auto items = iterate(v);
  if (!items.ok()) return make_error("argument must be iterable");
  std::reverse(items.value().begin(), items.value().end());
  return v.is_iterator() ? Value::array(std::move(items.value()))
                         : Value::iterator(std::move(items.value()));
}

Result<Value> filter_join(Interpreter& in, const Value& v, const CallArgs& args) {
  auto a = bind_args("join", args, {"d", "attribute"});
  if (!a.ok()) return a.error();
  const std::string separator = to_py_str(arg_or(a.value()[0], Value("")));
  const Value* attribute = a.value()[1];
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  std::string out;
  for (size_t i = 0; i < items.value().size(); ++i) {
    Value item = items.value()[i];
    if (attribute != nullptr && !attribute->is_none()) {
      auto got = get_attribute_path(item, *attribute);
      if (!got.ok()) return got.error();
      item = std::move(got.value());
    }
    if (i > 0) out += separator;
    out += to_py_str(item);
    if (Status s = in.budget().check_string(out.size()); !s.ok()) return s.error();
  }
  return Value(std::move(out));
}

Result<Value> filter_sum(Interpreter& in, const Value& v, const CallArgs& args) {
  auto a = bind_args("sum", args, {"attribute", "start"});
  if (!a.ok()) return a.error();
  const Value attribute = arg_or(a.value()[0], Value::none());
  Value total = arg_or(a.value()[1], Value(0));
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  for (const Value& item : items.value()) {
    auto term = get_attribute_path(item, attribute);
    if (!term.ok()) return term.error();
    auto next = binary_op(in.budget(), "+", total, term.value());
    if (!next.ok()) return next.error();
    total = std::move(next.value());
  }
  return total;
}

Result<Value> filter_max(Interpreter&, const Value& v, const CallArgs& a) {
  return min_max(v, a, true);
}
Result<Value> filter_min(Interpreter&, const Value& v, const CallArgs& a) {
  return min_max(v, a, false);
}

static Result<Value> batch_impl(const Value& v, const CallArgs& args) {
  auto a = bind_args("batch", args, {"linecount", "fill_with"});
  if (!a.ok()) return a.error();
  if (a.value()[0] == nullptr || !(a.value()[0]->is_int() || a.value()[0]->is_bool()))
    return make_error("batch() needs an integer line count");
  const int64_t count = a.value()[0]->as_int();
  if (count <= 0) return make_error("batch() line count must be positive");
  auto items = iterate(v);
  if (!items.ok()) return items.error();
  std::vector<Value> batches, current;
  for (const Value& item : items.value()) {
    if (static_cast<int64_t>(current.size()) == count) {
      batches.push_back(Value::array(std::move(current)));
      current.clear();
    }
    current.push_back(item);
  }
  if (!current.empty()) {
    const Value* fill = a.value()[1];
    if (fill != nullptr && !fill->is_none())
      while (static_cast<int64_t>(current.size()) < count) current.push_back(*fill);
    batches.push_back(Value::array(std::move(current)));
  }
  return Value::iterator(std::move(batches));
}

Result<Value> filter_map(Interpreter& in, const Value& v, const CallArgs& a) {
  return lazily(map_impl(in, v, a));
}
Result<Value> filter_items(Interpreter&, const Value& v, const CallArgs&) {
  return lazily(items_impl(v));
}
Result<Value> filter_unique(Interpreter& in, const Value& v, const CallArgs& a) {
  return lazily(unique_impl(in, v, a));
}
Result<Value> filter_batch(Interpreter&, const Value& v, const CallArgs& a) {
  return lazily(batch_impl(v, a));
}

}  // namespace troupe::chat
