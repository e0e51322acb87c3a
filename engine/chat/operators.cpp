#include "engine/chat/operators.hpp"

#include <cmath>
#include <limits>

#include "engine/chat/methods.hpp"
#include "engine/chat/py_format.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {
namespace {

Error unsupported(std::string_view op, const Value& a, const Value& b) {
  return make_error("unsupported operand type(s) for " + std::string(op) + ": '" + py_type_name(a) +
                    "' and '" + py_type_name(b) + "'");
}

Error overflow() {
  return make_error("integer overflow (chat templates support 64-bit integers only)");
}

// jinja2's description of an object in "has no attribute" messages.
std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return py_type_name(v) + " object";
}

// repr() of a string, quick for the identifier-like names attribute misses usually have.
std::string quick_repr(std::string_view text) {
  for (char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == ' ';
    if (!plain) return format_py_repr(text);
  }
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

// Attribute misses are common (templates probe optional fields), so this stays cheap.
Value missing_attribute(const Value& obj, std::string_view name) {
  return Value::undefined(quick_repr(object_type_repr(obj)) + " has no attribute " +
                          quick_repr(name));
}

Value missing_element(const Value& obj, const Value& key) {
  return Value::undefined(object_type_repr(obj) + " has no element " + to_py_repr(key));
}

bool is_int_like(const Value& v) {
  return v.is_int() || v.is_bool();
}

Result<Value> add(RenderBudget& budget, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return Value(a.as_float() + b.as_float());
    int64_t r = 0;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return overflow();
    return Value(r);
  }
  if (a.is_string() && b.is_string()) {
    if (Status s = budget.check_string(a.as_string().size() + b.as_string().size()); !s.ok())
      return s.error();
    // Markup + str escapes the plain side (markupsafe), in either order.
    if (a.is_safe() || b.is_safe()) {
      return Value::safe_string((a.is_safe() ? a.as_string() : html_escape(a.as_string())) +
                                (b.is_safe() ? b.as_string() : html_escape(b.as_string())));
    }
    return Value(a.as_string() + b.as_string());
  }
  if (a.is_array() && b.is_array() && a.is_tuple() == b.is_tuple()) {
    if (Status s = budget.check_items(a.items().size() + b.items().size()); !s.ok())
      return s.error();
    std::vector<Value> items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return a.is_tuple() ? Value::tuple(std::move(items)) : Value::array(std::move(items));
  }
  if (a.is_string() || a.is_array()) {
    const std::string type = a.is_string() ? "str" : a.is_tuple() ? "tuple" : "list";
    return make_error("can only concatenate " + type + " (not \"" + py_type_name(b) + "\") to " +
                      type);
  }
  return unsupported("+", a, b);
}

Result<Value> repeat(RenderBudget& budget, const Value& seq, const Value& count) {
  int64_t n = std::max<int64_t>(0, count.as_int());
  if (seq.is_string()) {
    const size_t size = seq.as_string().size();
    if (size == 0) n = 0;  // '' * 10**12 is '', at once (it looped 10^12 times)
    if (size > 0 && static_cast<uint64_t>(n) > budget.limits().max_string_bytes / size)
      return budget.check_string(budget.limits().max_string_bytes + 1).error();
    std::string out;
    out.reserve(size * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return seq.is_safe() ? Value::safe_string(std::move(out)) : Value(std::move(out));
  }
  const size_t size = seq.items().size();
  if (size == 0) n = 0;
  if (size > 0 && static_cast<uint64_t>(n) > budget.limits().max_list_items / size)
    return budget.check_items(budget.limits().max_list_items + 1).error();
  if (Status s = budget.check_items(size * static_cast<size_t>(n)); !s.ok()) return s.error();
  std::vector<Value> items;
  for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq.items().begin(), seq.items().end());
  return seq.is_tuple() ? Value::tuple(std::move(items)) : Value::array(std::move(items));
}

Result<Value> multiply(RenderBudget& budget, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return Value(a.as_float() * b.as_float());
    int64_t r = 0;
    if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) return overflow();
    return Value(r);
  }
  const bool a_seq = a.is_string() || a.is_array();
  const bool b_seq = b.is_string() || b.is_array();
  if (a_seq && is_int_like(b)) return repeat(budget, a, b);
  if (b_seq && is_int_like(a)) return repeat(budget, b, a);
  if (a_seq || b_seq) {
    const Value& other = a_seq ? b : a;
    if (!other.is_array() && !other.is_string())
      return make_error("can't multiply sequence by non-int of type '" + py_type_name(other) + "'");
  }
  return unsupported("*", a, b);
}

Result<Value> divide(std::string_view op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) return unsupported(op, a, b);
  const bool ints = !a.is_float() && !b.is_float();
  if (op == "/") {
    if (b.as_float() == 0) return make_error(ints ? "division by zero" : "float division by zero");
    return Value(a.as_float() / b.as_float());
  }
  if (ints) {
    const int64_t x = a.as_int(), y = b.as_int();
    if (y == 0)
      return make_error(op == "//" ? "integer division or modulo by zero"
                                   : "integer modulo by zero");
    if (x == std::numeric_limits<int64_t>::min() && y == -1) {
      if (op == "//") return overflow();
      return Value(int64_t{0});
    }
    int64_t q = x / y, r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) {
      --q;
      r += y;
    }
    return op == "//" ? Value(q) : Value(r);
  }
  const double x = a.as_float(), y = b.as_float();
  if (y == 0) return make_error(op == "//" ? "float floor division by zero" : "float modulo");
  // CPython's float_divmod.
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  if (op == "%") return Value(mod);
  double floor_div = 0;
  if (div != 0) {
    floor_div = std::floor(div);
    if (div - floor_div > 0.5) floor_div += 1.0;
  } else {
    floor_div = std::copysign(0.0, x / y);
  }
  return Value(floor_div);
}

Result<Value> power(const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) return unsupported("** or pow()", a, b);
  if (!a.is_float() && !b.is_float() && b.as_int() >= 0) {
    int64_t result = 1, base = a.as_int(), exp = b.as_int();
    while (exp > 0) {
      if (exp & 1) {
        if (__builtin_mul_overflow(result, base, &result)) return overflow();
      }
      exp >>= 1;
      if (exp > 0 && __builtin_mul_overflow(base, base, &base)) return overflow();
    }
    return Value(result);
  }
  const double x = a.as_float(), y = b.as_float();
  if (x == 0 && y < 0) return make_error("0.0 cannot be raised to a negative power");
  if (x < 0 && y != std::floor(y)) return make_error("complex results are not supported");
  const double r = std::pow(x, y);
  if (std::isinf(r) && std::isfinite(x) && std::isfinite(y))
    return make_error("(34, 'Numerical result out of range')");  // Python's OverflowError
  return Value(r);
}

}  // namespace

Error undefined_error(const Value& v) {
  return make_error(v.undefined_message());
}

Result<Value> binary_op(RenderBudget& budget, std::string_view op, const Value& a, const Value& b) {
  if (a.is_undefined()) return undefined_error(a);
  // str % x runs str.__mod__ first, even when x is Undefined.
  if (b.is_undefined() && !(op == "%" && a.is_string())) return undefined_error(b);
  if (op == "+") return add(budget, a, b);
  if (op == "-") {
    if (!a.is_number() || !b.is_number()) return unsupported("-", a, b);
    if (a.is_float() || b.is_float()) return Value(a.as_float() - b.as_float());
    int64_t r = 0;
    if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) return overflow();
    return Value(r);
  }
  if (op == "*") return multiply(budget, a, b);
  if (op == "%" && a.is_string()) {
    auto text = py_percent_format(a.as_string(), b, budget.limits().max_string_bytes);
    if (!text.ok()) return text.error();
    if (Status s = budget.check_string(text.value().size()); !s.ok()) return s.error();
    return Value(std::move(text.value()));
  }
  if (op == "/" || op == "//" || op == "%") return divide(op, a, b);
  if (op == "**") return power(a, b);
  return make_error("unknown operator " + std::string(op));
}

Result<Value> negate(const Value& v, bool minus) {
  if (v.is_undefined()) return undefined_error(v);
  if (v.is_float()) return Value(minus ? -v.as_float() : v.as_float());
  if (v.is_int() || v.is_bool()) {
    if (!minus) return Value(v.as_int());
    if (v.as_int() == std::numeric_limits<int64_t>::min()) return overflow();
    return Value(-v.as_int());
  }
  return make_error(std::string("bad operand type for unary ") + (minus ? "-" : "+") + ": '" +
                    py_type_name(v) + "'");
}

Result<int> py_order(const Value& a, const Value& b) {
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_array() && b.is_array() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (py_equal(x[i], y[i])) continue;
      return py_order(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return make_error("'<' not supported between instances of '" + py_type_name(a) + "' and '" +
                    py_type_name(b) + "'");
}

Result<bool> compare(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return py_equal(a, b);
  if (op == "!=") return !py_equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "notin") {
    auto r = contains(b, a);
    if (!r.ok()) return r;
    return !r.value();
  }
  auto order = py_order(a, b);
  if (!order.ok()) {
    if (a.is_undefined() || b.is_undefined()) return order.error();
    return make_error("'" + std::string(op) + "' not supported between instances of '" +
                      py_type_name(a) + "' and '" + py_type_name(b) + "'");
  }
  const int c = order.value();
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

Result<bool> contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!item.is_string())
        return make_error("'in <string>' requires string as left operand, not " +
                          py_type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kArray:
      for (const Value& v : container.items())
        if (py_equal(v, item)) return true;
      return false;
    case Value::Kind::kIterator:
      return container.consume_until(item);
    case Value::Kind::kDictView:
      for (const Value& v : container.items())
        if (py_equal(v, item)) return true;
      return false;
    case Value::Kind::kObject:
      if (!container.is_namespace()) {
        if (std::string type = unhashable_type(item); !type.empty())
          return make_error("unhashable type: '" + type + "'");
        return item.is_string() && container.find(item.as_string()) != nullptr;
      }
      break;
    default:
      break;
  }
  return make_error("argument of type '" + py_type_name(container) + "' is not iterable");
}

std::string unhashable_type(const Value& v) {
  if ((v.is_array() && !v.is_tuple()) || (v.is_object() && !v.is_namespace()) ||
      (v.is_dict_view() && v.dict_view_kind() != Value::DictView::kValues))
    return py_type_name(v);
  if (v.is_tuple()) {
    for (const Value& item : v.items()) {
      std::string inner = unhashable_type(item);
      if (!inner.empty()) return inner;
    }
  }
  return {};
}

Value get_attr(const Value& obj, std::string_view name) {
  if (obj.is_object()) {
    if (!obj.is_namespace()) {
      Value method = find_method(obj, name);
      if (!method.is_undefined()) return method;
    }
    if (const Value* v = obj.find(name)) return *v;
    return missing_attribute(obj, name);
  }
  Value method = find_method(obj, name);
  if (!method.is_undefined()) return method;
  return missing_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_array() && is_int_like(key)) {
    const auto& items = obj.items();
    int64_t i = key.as_int();
    if (i < 0) i += static_cast<int64_t>(items.size());
    if (i < 0 || i >= static_cast<int64_t>(items.size())) return missing_element(obj, key);
    return items[static_cast<size_t>(i)];
  }
  if (obj.is_string() && is_int_like(key)) {
    const auto chars = split_code_points(obj.as_string());
    int64_t i = key.as_int();
    if (i < 0) i += static_cast<int64_t>(chars.size());
    if (i < 0 || i >= static_cast<int64_t>(chars.size())) return missing_element(obj, key);
    return Value(std::string(chars[static_cast<size_t>(i)]));
  }
  if (obj.is_object() && !obj.is_namespace() && key.is_string()) {
    if (const Value* v = obj.find(key.as_string())) return *v;
  }
  // Python's obj[key] failed: jinja2 falls back to attribute lookup for string keys.
  if (key.is_string()) return get_attr(obj, key.as_string());
  return missing_element(obj, key);
}

Result<Value> slice(RenderBudget& budget, const Value& obj, const Value& start, const Value& stop,
                    const Value& step, bool lenient) {
  if (lenient) {
    auto strict = slice(budget, obj, start, stop, step, false);
    if (strict.ok() || strict.message() == "slice step cannot be zero") return strict;
    return Value::undefined(object_type_repr(obj) + " has no element slice");
  }
  // jinja2 compiles slices to plain Python subscripts (no Undefined fallback), so misuse
  // raises Python's TypeError.
  if (obj.is_object() && !obj.is_namespace()) return make_error("unhashable type: 'slice'");
  if (!obj.is_array() && !obj.is_string())
    return make_error("'" + py_type_name(obj) + "' object is not subscriptable");
  for (const Value* bound : {&start, &stop, &step})
    if (!bound->is_none() && !is_int_like(*bound))
      return make_error("slice indices must be integers or None or have an __index__ method");
  const int64_t stride = step.is_none() ? 1 : step.as_int();
  if (stride == 0) return make_error("slice step cannot be zero");
  std::vector<std::string_view> chars;
  if (obj.is_string()) chars = split_code_points(obj.as_string());
  const int64_t n = obj.is_string() ? static_cast<int64_t>(chars.size())
                                    : static_cast<int64_t>(obj.items().size());
  // slice.indices(n)
  const auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) {
      i = i < -n ? (stride < 0 ? -1 : 0) : i + n;
    } else if (i >= n) {
      i = stride < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t first = clamp(start, stride < 0 ? n - 1 : 0);
  const int64_t last = clamp(stop, stride < 0 ? -1 : n);
  uint64_t count = 0;
  if (stride > 0 && first < last)
    count = static_cast<uint64_t>(last - first - 1) / static_cast<uint64_t>(stride) + 1;
  if (stride < 0 && first > last)
    count = static_cast<uint64_t>(first - last - 1) / (0 - static_cast<uint64_t>(stride)) + 1;
  if (Status s = obj.is_string() ? budget.charge(count / 16) : budget.check_items(count); !s.ok())
    return s.error();
  std::vector<size_t> picks;
  picks.reserve(count);
  for (uint64_t k = 0; k < count; ++k)  // unsigned arithmetic: wraps instead of overflowing
    picks.push_back(
        static_cast<size_t>(static_cast<uint64_t>(first) + k * static_cast<uint64_t>(stride)));
  if (obj.is_string()) {
    std::string out;
    for (size_t i : picks) out += chars[i];
    return obj.is_safe() ? Value::safe_string(std::move(out)) : Value(std::move(out));
  }
  std::vector<Value> items;
  items.reserve(picks.size());
  for (size_t i : picks) items.push_back(obj.items()[i]);
  return obj.is_tuple() ? Value::tuple(std::move(items)) : Value::array(std::move(items));
}

Result<std::vector<Value>> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return std::vector<Value>{};
    case Value::Kind::kArray:
      return v.items();
    case Value::Kind::kIterator:
      return v.consume();
    case Value::Kind::kDictView:
      return v.items();
    case Value::Kind::kString: {
      std::vector<Value> out;
      for (std::string_view c : split_code_points(v.as_string())) out.emplace_back(std::string(c));
      return out;
    }
    case Value::Kind::kObject:
      if (!v.is_namespace()) {
        std::vector<Value> out;
        out.reserve(v.entries().size());
        for (const auto& entry : v.entries()) out.emplace_back(entry.first);
        return out;
      }
      break;
    default:
      break;
  }
  return make_error("'" + py_type_name(v) + "' object is not iterable");
}

Result<int64_t> py_len(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return int64_t{0};
    case Value::Kind::kString:
      return static_cast<int64_t>(count_code_points(v.as_string()));
    case Value::Kind::kArray:
    case Value::Kind::kDictView:
      return static_cast<int64_t>(v.items().size());
    case Value::Kind::kObject:
      if (!v.is_namespace()) return static_cast<int64_t>(v.entries().size());
      break;
    default:
      break;
  }
  return make_error("object of type '" + py_type_name(v) + "' has no len()");
}

}  // namespace troupe::chat
