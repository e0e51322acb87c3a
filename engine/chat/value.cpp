#include "engine/chat/value.hpp"

#include <algorithm>

#include "engine/chat/py_format.hpp"

namespace troupe::chat {

Value::Value(std::string s)
    : kind_(Kind::kString), heap_(std::make_shared<std::string>(std::move(s))) {}

Value Value::undefined(std::string message) {
  Value v;
  v.heap_ = std::make_shared<std::string>(std::move(message));
  return v;
}

Value Value::safe_string(std::string s) {
  Value v(std::move(s));
  v.flag_ = 1;
  return v;
}

Value Value::array(std::vector<Value> items) {
  auto data = std::make_shared<ArrayData>();
  for (const Value& item : items) {
    data->depth = std::max(data->depth, item.depth() + 1);
    data->has_namespace = data->has_namespace || item.holds_namespace();
  }
  data->items = std::move(items);
  Value v;
  v.kind_ = Kind::kArray;
  v.heap_ = std::move(data);
  return v;
}

Value Value::tuple(std::vector<Value> items) {
  Value v = array(std::move(items));
  v.flag_ = 1;
  return v;
}

Value Value::iterator(std::vector<Value> items) {
  Value v = array(std::move(items));
  v.kind_ = Kind::kIterator;
  return v;
}

Value Value::dict_view(DictView which, std::vector<Value> items) {
  Value v = array(std::move(items));
  v.kind_ = Kind::kDictView;
  v.flag_ = static_cast<uint8_t>(which);
  return v;
}

Value Value::failed_iterator(std::string message) {
  Value v = iterator({});
  static_cast<ArrayData*>(v.heap_.get())->error =
      std::make_shared<const std::string>(std::move(message));
  return v;
}

Result<std::vector<Value>> Value::consume() const {
  const ArrayData& data = array_data();
  if (data.error) {
    Error e = make_error(*data.error);
    data.error.reset();  // a generator that raised is exhausted
    return e;
  }
  std::vector<Value> rest(data.items.begin() + static_cast<long>(data.cursor), data.items.end());
  data.cursor = data.items.size();
  return rest;
}

Result<std::optional<Value>> Value::consume_one() const {
  const ArrayData& data = array_data();
  if (data.error) return consume().error();
  if (data.cursor >= data.items.size()) return std::optional<Value>();
  return std::optional<Value>(data.items[data.cursor++]);
}

Result<bool> Value::consume_until(const Value& item) const {
  const ArrayData& data = array_data();
  if (data.error) return consume().error();
  while (data.cursor < data.items.size()) {
    if (py_equal(data.items[data.cursor++], item)) return true;
  }
  return false;
}

namespace {

// Objects up to this size are searched linearly; larger ones keep a sorted index.
constexpr size_t kLinearObject = 16;

}  // namespace

Value Value::make_object(ObjectEntries entries, bool is_namespace) {
  auto data = std::make_shared<ObjectData>();
  data->is_namespace = is_namespace;
  data->has_namespace = is_namespace;
  data->entries.reserve(entries.size());
  for (auto& [key, value] : entries) {
    data->depth = std::max(data->depth, value.depth() + 1);
    data->has_namespace = data->has_namespace || value.holds_namespace();
  }
  // Python dict semantics for repeated keys: first position, last value.
  if (entries.size() <= kLinearObject) {
    for (auto& entry : entries) {
      auto it = std::find_if(data->entries.begin(), data->entries.end(),
                             [&](const auto& e) { return e.first == entry.first; });
      if (it != data->entries.end())
        it->second = std::move(entry.second);
      else
        data->entries.push_back(std::move(entry));
    }
  } else {
    for (auto& entry : entries) data->entries.push_back(std::move(entry));
    std::vector<size_t> order(data->entries.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return data->entries[a].first < data->entries[b].first;
    });
    std::vector<bool> drop(order.size(), false);
    bool any_dropped = false;
    for (size_t i = 1; i < order.size(); ++i) {
      auto& prev = data->entries[order[i - 1]];
      auto& cur = data->entries[order[i]];
      if (prev.first != cur.first) continue;
      prev.second = std::move(cur.second);  // earlier slot keeps the later value
      std::swap(order[i - 1], order[i]);    // carry the surviving slot forward
      drop[order[i - 1]] = true;
      any_dropped = true;
    }
    if (any_dropped) {
      ObjectEntries kept;
      for (size_t i = 0; i < data->entries.size(); ++i)
        if (!drop[i]) kept.push_back(std::move(data->entries[i]));
      data->entries = std::move(kept);
    }
  }
  index_object(*data);
  Value v;
  v.kind_ = Kind::kObject;
  v.heap_ = std::move(data);
  return v;
}

void Value::index_object(ObjectData& data) {
  data.sorted.clear();
  if (data.entries.size() <= kLinearObject) return;
  data.sorted.resize(data.entries.size());
  for (size_t i = 0; i < data.sorted.size(); ++i) data.sorted[i] = i;
  std::sort(data.sorted.begin(), data.sorted.end(),
            [&](size_t a, size_t b) { return data.entries[a].first < data.entries[b].first; });
}

Value Value::object(ObjectEntries entries) {
  return make_object(std::move(entries), false);
}

Value Value::namespace_object(ObjectEntries entries) {
  return make_object(std::move(entries), true);
}

Value Value::callable(std::shared_ptr<const Callable> fn) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.heap_ = std::const_pointer_cast<Callable>(std::move(fn));
  return v;
}

const std::string& Value::undefined_message() const {
  static const std::string kDefault = "value is undefined";
  return heap_ ? *static_cast<const std::string*>(heap_.get()) : kDefault;
}

const Value* Value::find(std::string_view key) const {
  const ObjectData& data = object_data();
  if (data.sorted.empty()) {
    for (const auto& entry : data.entries)
      if (entry.first == key) return &entry.second;
    return nullptr;
  }
  auto it =
      std::lower_bound(data.sorted.begin(), data.sorted.end(), key,
                       [&](size_t i, std::string_view k) { return data.entries[i].first < k; });
  if (it == data.sorted.end() || data.entries[*it].first != key) return nullptr;
  return &data.entries[*it].second;
}

uint32_t Value::depth() const {
  if (is_array() || is_iterator() || is_dict_view()) return array_data().depth;
  if (is_object()) return object_data().depth;
  return 0;
}

bool Value::holds_namespace() const {
  if (is_array() || is_iterator() || is_dict_view()) return array_data().has_namespace;
  if (is_object()) return object_data().has_namespace;
  return false;
}

void Value::set_namespace_attr(const std::string& key, Value value) const {
  auto& data = *static_cast<ObjectData*>(heap_.get());
  data.depth = std::max(data.depth, value.depth() + 1);
  for (auto& entry : data.entries) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return;
    }
  }
  data.entries.emplace_back(key, std::move(value));
  index_object(data);
}

const Value* CallArgs::keyword_arg(std::string_view name) const {
  for (const auto& [key, value] : keyword)
    if (key == name) return &value;
  return nullptr;
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int() != 0;
    case Value::Kind::kFloat:
      return v.as_float() != 0.0;
    case Value::Kind::kString:
      return !v.as_string().empty();
    case Value::Kind::kArray:
    case Value::Kind::kDictView:
      return !v.items().empty();
    case Value::Kind::kIterator:
      return true;  // Python generators are always truthy
    case Value::Kind::kObject:
      return v.is_namespace() || !v.entries().empty();
    case Value::Kind::kCallable:
      return true;
  }
  return false;
}

namespace {

void append_repr(std::string& out, const Value& v);

void append_entries(std::string& out, const Value& v) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, value] : v.entries()) {
    if (!first) out += ", ";
    first = false;
    out += format_py_repr(key);
    out += ": ";
    append_repr(out, value);
  }
  out.push_back('}');
}

void append_str(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return;
    case Value::Kind::kNone:
      out += "None";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::kFloat:
      out += format_py_float(v.as_float());
      return;
    case Value::Kind::kString:
      out += v.as_string();
      return;
    case Value::Kind::kArray: {
      out.push_back(v.is_tuple() ? '(' : '[');
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, v.items()[i]);
      }
      if (v.is_tuple() && v.items().size() == 1) out.push_back(',');
      out.push_back(v.is_tuple() ? ')' : ']');
      return;
    }
    case Value::Kind::kIterator:
      out += "<generator object>";
      return;
    case Value::Kind::kDictView: {
      out += py_type_name(v) + "([";
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, v.items()[i]);
      }
      out += "])";
      return;
    }
    case Value::Kind::kObject:
      if (v.is_namespace()) {
        out += "<Namespace ";
        append_entries(out, v);
        out += ">";
      } else {
        append_entries(out, v);
      }
      return;
    case Value::Kind::kCallable:
      out += v.callable().macro ? "<Macro '" + v.callable().name + "'>"
                                : "<built-in function " + v.callable().name + ">";
      return;
  }
}

void append_repr(std::string& out, const Value& v) {
  if (v.is_string())
    out += format_py_repr(v.as_string());
  else if (v.is_undefined())
    out += "Undefined";
  else
    append_str(out, v);
}

}  // namespace

std::string to_py_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_str(out, v);
  return out;
}

std::string to_py_repr(const Value& v) {
  std::string out;
  append_repr(out, v);
  return out;
}

std::string py_type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return v.is_safe() ? "Markup" : "str";
    case Value::Kind::kArray:
      return v.is_tuple() ? "tuple" : "list";
    case Value::Kind::kIterator:
      return "generator";
    case Value::Kind::kDictView:
      switch (v.dict_view_kind()) {
        case Value::DictView::kKeys:
          return "dict_keys";
        case Value::DictView::kValues:
          return "dict_values";
        case Value::DictView::kItems:
          return "dict_items";
      }
      return "dict_view";
    case Value::Kind::kObject:
      return v.is_namespace() ? "TemplateNamespace" : "dict";
    case Value::Kind::kCallable:
      return v.callable().macro ? "Macro" : "builtin_function_or_method";
  }
  return "object";
}

bool py_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kArray: {
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!py_equal(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case Value::Kind::kObject: {
      if (a.is_namespace() || b.is_namespace()) return a.same_instance(b);
      if (a.entries().size() != b.entries().size()) return false;
      for (const auto& [key, value] : a.entries()) {
        const Value* other = b.find(key);
        if (other == nullptr || !py_equal(value, *other)) return false;
      }
      return true;
    }
    case Value::Kind::kDictView: {
      // keys and items views compare like sets; values views only by identity.
      if (a.dict_view_kind() != b.dict_view_kind() ||
          a.dict_view_kind() == Value::DictView::kValues)
        return a.same_instance(b);
      if (a.items().size() != b.items().size()) return false;
      for (const Value& x : a.items()) {
        bool found = false;
        for (const Value& y : b.items()) found = found || py_equal(x, y);
        if (!found) return false;
      }
      return true;
    }
    case Value::Kind::kCallable:
    case Value::Kind::kIterator:
      return a.same_instance(b);
    default:
      return false;
  }
}

}  // namespace troupe::chat
