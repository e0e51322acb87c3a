#include "engine/chat/filters.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "engine/chat/filter_args.hpp"
#include "engine/chat/interpreter.hpp"
#include "engine/chat/json_dump.hpp"
#include "engine/chat/methods.hpp"
#include "engine/chat/operators.hpp"
#include "engine/chat/py_format.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {

Result<std::vector<const Value*>> bind_args(std::string_view filter, const CallArgs& args,
                                            std::initializer_list<std::string_view> params) {
  std::vector<const Value*> slots(params.size(), nullptr);
  if (args.positional.size() > params.size())
    return make_error("filter '" + std::string(filter) + "' takes at most " +
                      std::to_string(params.size()) + " argument(s) (" +
                      std::to_string(args.positional.size()) + " given)");
  for (size_t i = 0; i < args.positional.size(); ++i) slots[i] = &args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    for (std::string_view p : params) {
      if (p == key) break;
      ++i;
    }
    if (i == params.size())
      return make_error("filter '" + std::string(filter) +
                        "' got an unexpected keyword argument '" + key + "'");
    if (slots[i] != nullptr)
      return make_error("filter '" + std::string(filter) + "' got multiple values for argument '" +
                        key + "'");
    slots[i] = &value;
  }
  return slots;
}

Result<Value> get_attribute_path(const Value& item, const Value& attribute) {
  std::vector<Value> parts;
  if (attribute.is_string()) {
    const std::string& path = attribute.as_string();
    size_t start = 0;
    while (true) {
      const size_t dot = path.find('.', start);
      const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
      int64_t index = 0;
      const bool digits =
          !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
      if (digits && parse_py_int(part, 10, index))
        parts.emplace_back(index);
      else
        parts.emplace_back(part);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  } else if (!attribute.is_none()) {
    parts.push_back(attribute);
  }
  Value current = item;
  for (const Value& part : parts) {
    if (current.is_undefined()) return undefined_error(current);
    current = get_item(current, part);
  }
  return current;
}

Value soft_str(const Value& v) {
  return v.is_string() ? v : Value(to_py_str(v));
}

namespace {

// Markup methods return Markup: keep the flag of the input string.
Value like(const Value& input, std::string text) {
  return input.is_safe() ? Value::safe_string(std::move(text)) : Value(std::move(text));
}

Result<Value> f_abs(Interpreter&, const Value& v, const CallArgs&) {
  if (v.is_undefined()) return undefined_error(v);
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == std::numeric_limits<int64_t>::min())
      return make_error("integer overflow (chat templates support 64-bit integers only)");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  return make_error("bad operand type for abs(): '" + py_type_name(v) + "'");
}

Result<Value> f_attr(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("attr", args, {"name"});
  if (!a.ok()) return a.error();
  if (a.value()[0] == nullptr || !a.value()[0]->is_string())
    return make_error("attr() needs an attribute name");
  const std::string& name = a.value()[0]->as_string();
  // Attributes only: dict keys are not attributes, so a dict yields its methods alone.
  if (v.is_namespace()) {
    if (const Value* found = v.find(name)) return *found;
    return Value::undefined("'TemplateNamespace object' has no attribute '" + name + "'");
  }
  if (v.is_undefined()) return undefined_error(v);
  Value method = find_method(v, name);
  if (!method.is_undefined()) return method;
  return Value::undefined(format_py_repr(py_type_name(v) + " object") + " has no attribute " +
                          format_py_repr(name));
}

template <std::string (*Fn)(std::string_view)>
Result<Value> f_case(Interpreter&, const Value& v, const CallArgs& args) {
  if (!args.positional.empty() || !args.keyword.empty())
    return make_error("this filter takes no arguments");
  const Value s = soft_str(v);
  return like(s, Fn(s.as_string()));
}

// jinja2's title: words start after runs of '-', whitespace, '(', '{', '[' or '<'.
std::string title_filter(std::string_view text) {
  std::string out;
  bool at_word_start = true;
  bool in_separator = false;
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = decode_lenient(text, pos);
    const bool separator =
        cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_py_space(cp);
    if (separator != in_separator) at_word_start = true;
    in_separator = separator;
    const std::string_view ch = text.substr(start, pos - start);
    out += at_word_start ? py_upper(ch) : py_lower(ch);
    at_word_start = false;
  }
  return out;
}

Result<Value> f_center(Interpreter& in, const Value& v, const CallArgs& args) {
  auto a = bind_args("center", args, {"width"});
  if (!a.ok()) return a.error();
  const Value s = soft_str(v);
  CallArgs call;
  call.positional.push_back(arg_or(a.value()[0], Value(80)));
  return find_method(s, "center").callable().native(in, call);
}

Result<Value> f_length(Interpreter&, const Value& v, const CallArgs&) {
  auto n = py_len(v);
  if (!n.ok()) return n.error();
  return Value(n.value());
}

Result<Value> f_default(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("default", args, {"default_value", "boolean"});
  if (!a.ok()) return a.error();
  const bool boolean = a.value()[1] != nullptr && truthy(*a.value()[1]);
  if (v.is_undefined() || (boolean && !truthy(v))) return arg_or(a.value()[0], Value(""));
  return v;
}

Result<Value> f_escape(Interpreter&, const Value& v, const CallArgs&) {
  if (v.is_safe()) return v;
  return Value::safe_string(html_escape(to_py_str(v)));
}

Result<Value> f_forceescape(Interpreter&, const Value& v, const CallArgs&) {
  return Value::safe_string(html_escape(to_py_str(v)));
}

Result<Value> f_safe(Interpreter&, const Value& v, const CallArgs&) {
  return Value::safe_string(to_py_str(v));
}

Result<Value> f_float(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("float", args, {"default"});
  if (!a.ok()) return a.error();
  const Value fallback = arg_or(a.value()[0], Value(0.0));
  if (v.is_undefined()) return undefined_error(v);
  if (v.is_number()) return Value(v.as_float());
  double parsed = 0;
  if (v.is_string() && parse_py_float(v.as_string(), parsed)) return Value(parsed);
  return fallback;
}

Result<Value> f_int(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("int", args, {"default", "base"});
  if (!a.ok()) return a.error();
  const Value fallback = arg_or(a.value()[0], Value(0));
  const Value base_v = arg_or(a.value()[1], Value(10));
  if (v.is_undefined()) return undefined_error(v);
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  double f = 0;
  bool have_float = false;
  if (v.is_float()) {
    f = v.as_float();
    if (std::isinf(f)) return make_error("cannot convert float infinity to integer");
    have_float = !std::isnan(f);
  } else if (v.is_string()) {
    int64_t parsed = 0;
    const int base = base_v.is_number() ? static_cast<int>(base_v.as_int()) : 10;
    if (parse_py_int(v.as_string(), base, parsed)) return Value(parsed);
    have_float = parse_py_float(v.as_string(), f) && !std::isnan(f) && !std::isinf(f);
  }
  if (!have_float) return fallback;
  if (f >= 9.2233720368547758e18 || f < -9.2233720368547758e18)
    return make_error("integer overflow (chat templates support 64-bit integers only)");
  return Value(static_cast<int64_t>(f));
}

Result<Value> f_indent(Interpreter& in, const Value& v, const CallArgs& args) {
  auto a = bind_args("indent", args, {"width", "first", "blank"});
  if (!a.ok()) return a.error();
  if (v.is_undefined()) return undefined_error(v);
  if (!v.is_string())
    return make_error("unsupported operand type(s) for +=: '" + py_type_name(v) + "' and 'str'");
  const Value width = arg_or(a.value()[0], Value(4));
  std::string indention;
  if (width.is_string()) {
    indention = width.as_string();
  } else if (width.is_int() || width.is_bool()) {
    const int64_t n = width.as_int();
    if (Status s = in.budget().check_string(static_cast<size_t>(std::max<int64_t>(0, n))); !s.ok())
      return s.error();
    indention.assign(static_cast<size_t>(std::max<int64_t>(0, n)), ' ');
  } else {
    return make_error("can't multiply sequence by non-int of type '" + py_type_name(width) + "'");
  }
  const bool first = a.value()[1] != nullptr && truthy(*a.value()[1]);
  const bool blank = a.value()[2] != nullptr && truthy(*a.value()[2]);
  const std::string text = v.as_string() + "\n";  // jinja2's quirk for splitlines
  const auto lines = py_splitlines(text);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out.push_back('\n');
      if (blank || !lines[i].empty()) out += indention;
    }
    out += lines[i];
    if (Status s = in.budget().check_string(out.size()); !s.ok()) return s.error();
  }
  if (first) out = indention + out;
  return like(v, std::move(out));
}

Result<Value> f_replace(Interpreter& in, const Value& v, const CallArgs& args) {
  auto a = bind_args("replace", args, {"old", "new", "count"});
  if (!a.ok()) return a.error();
  if (a.value()[0] == nullptr || a.value()[1] == nullptr)
    return make_error("replace() needs the old and new strings");
  CallArgs call;
  call.positional = {Value(to_py_str(*a.value()[0])), Value(to_py_str(*a.value()[1]))};
  if (a.value()[2] != nullptr) call.positional.push_back(*a.value()[2]);
  return find_method(Value(to_py_str(v)), "replace").callable().native(in, call);
}

// Python's round(x, n): correctly rounded, ties to even on the exact binary value, which is
// what glibc's printf does.
double round_float(double x, int64_t digits) {
  if (!std::isfinite(x) || digits > 330) return x;
  if (digits >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(digits), x);
    return std::strtod(buf, nullptr);
  }
  if (digits < -330) return std::copysign(0.0, x);
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

Result<Value> f_round(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("round", args, {"precision", "method"});
  if (!a.ok()) return a.error();
  const Value precision_v = arg_or(a.value()[0], Value(0));
  const Value method_v = arg_or(a.value()[1], Value("common"));
  const std::string method = method_v.is_string() ? method_v.as_string() : "";
  if (method != "common" && method != "ceil" && method != "floor")
    return make_error("method must be common, ceil or floor");
  if (v.is_undefined()) return undefined_error(v);
  if (!v.is_number())
    return make_error("type " + py_type_name(v) + " doesn't define __round__ method");
  if (!precision_v.is_int() && !precision_v.is_bool())
    return make_error("'" + py_type_name(precision_v) +
                      "' object cannot be interpreted as an integer");
  const int64_t precision = precision_v.as_int();
  if (method == "common") {
    if (!v.is_float()) {
      if (precision >= 0) return Value(v.as_int());
      if (precision < -18) return Value(int64_t{0});
      int64_t scale = 1;
      for (int64_t i = 0; i < -precision; ++i) scale *= 10;
      const int64_t x = v.as_int();
      int64_t q = x / scale, r = x % scale;
      if (r < 0) {
        r += scale;
        --q;
      }
      if (2 * r > scale || (2 * r == scale && (q & 1))) ++q;
      return Value(q * scale);
    }
    return Value(round_float(v.as_float(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double scaled = v.as_float() * scale;
  if (!std::isfinite(scaled)) return make_error("cannot convert float infinity to integer");
  return Value((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Result<Value> f_string(Interpreter&, const Value& v, const CallArgs&) {
  return soft_str(v);
}

Result<Value> f_title(Interpreter&, const Value& v, const CallArgs&) {
  return Value(title_filter(soft_str(v).as_string()));
}

Result<Value> f_tojson(Interpreter& in, const Value& v, const CallArgs& args) {
  auto a = bind_args("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  if (!a.ok()) return a.error();
  JsonOptions options;
  if (a.value()[0] != nullptr) options.ensure_ascii = truthy(*a.value()[0]);
  if (const Value* indent = a.value()[1]; indent != nullptr && !indent->is_none()) {
    if (indent->is_string()) {
      options.indent = indent->as_string();
    } else if (indent->is_int() || indent->is_bool()) {
      const int64_t n = std::max<int64_t>(0, indent->as_int());
      if (Status s = in.budget().check_string(static_cast<size_t>(n)); !s.ok()) return s.error();
      options.indent = std::string(static_cast<size_t>(n), ' ');
    } else {
      return make_error("can't multiply sequence by non-int of type '" + py_type_name(*indent) +
                        "'");
    }
    options.item_separator = ",";
  }
  if (const Value* sep = a.value()[2]; sep != nullptr && !sep->is_none()) {
    if (!sep->is_array() || sep->items().size() != 2 || !sep->items()[0].is_string() ||
        !sep->items()[1].is_string())
      return make_error("separators must be a pair of strings");
    options.item_separator = sep->items()[0].as_string();
    options.key_separator = sep->items()[1].as_string();
  }
  if (a.value()[3] != nullptr) options.sort_keys = truthy(*a.value()[3]);
  auto text = dump_json(in.budget(), v, options);
  if (!text.ok()) return text.error();
  return Value(std::move(text.value()));
}

Result<Value> f_trim(Interpreter&, const Value& v, const CallArgs& args) {
  auto a = bind_args("trim", args, {"chars"});
  if (!a.ok()) return a.error();
  const Value s = soft_str(v);
  const Value* chars = a.value()[0];
  if (chars == nullptr || chars->is_none())
    return like(s, std::string(py_strip(s.as_string(), true, true)));
  if (!chars->is_string())
    return make_error("strip arg must be None or str, not " + py_type_name(*chars));
  return like(s, std::string(py_strip_chars(s.as_string(), chars->as_string(), true, true)));
}

Result<Value> f_wordcount(Interpreter&, const Value& v, const CallArgs&) {
  const std::string text = to_py_str(v);
  int64_t words = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = decode_lenient(text, pos);
    const bool word = cp == '_' || (cp >= '0' && cp <= '9') || is_alpha(cp);
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value(words);
}

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

constexpr FilterEntry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", filter_batch},
    {"capitalize", f_case<py_capitalize>},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", filter_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", filter_first},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"indent", f_indent},
    {"int", f_int},
    {"items", filter_items},
    {"join", filter_join},
    {"last", filter_last},
    {"length", f_length},
    {"list", filter_list},
    {"lower", f_case<py_lower>},
    {"map", filter_map},
    {"max", filter_max},
    {"min", filter_min},
    {"reject", filter_reject},
    {"rejectattr", filter_rejectattr},
    {"replace", f_replace},
    {"reverse", filter_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", filter_select},
    {"selectattr", filter_selectattr},
    {"sort", filter_sort},
    {"string", f_string},
    {"sum", filter_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", filter_unique},
    {"upper", f_case<py_upper>},
    {"wordcount", f_wordcount},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const auto& entry : kFilters)
    if (entry.name == name) return entry.fn;
  return nullptr;
}

}  // namespace troupe::chat
