#include "engine/chat/methods.hpp"

#include <algorithm>

#include "engine/chat/interpreter.hpp"
#include "engine/chat/operators.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {
namespace {

using Method = Result<Value> (*)(Interpreter&, const Value& self, const CallArgs& args);

// Positional argument `index` or keyword `name`; null when absent or None.
const Value* arg(const CallArgs& args, size_t index, std::string_view name = {}) {
  const Value* v = index < args.positional.size() ? &args.positional[index]
                   : name.empty()                 ? nullptr
                                                  : args.keyword_arg(name);
  return v == nullptr || v->is_none() ? nullptr : v;
}

Status arity(std::string_view method, const CallArgs& args, size_t max_args) {
  const size_t given = args.positional.size() + args.keyword.size();
  if (given <= max_args) return Ok{};
  if (max_args == 0)
    return make_error("str." + std::string(method) + "() takes no arguments (" +
                      std::to_string(given) + " given)");
  return make_error(std::string(method) + "() takes at most " + std::to_string(max_args) +
                    " arguments (" + std::to_string(given) + " given)");
}

Result<std::string_view> string_arg(const Value* v, std::string_view method) {
  if (v == nullptr) return std::string_view();
  if (!v->is_string())
    return make_error(std::string(method) + " arg must be None or str, not " + py_type_name(*v));
  return std::string_view(v->as_string());
}

Result<Value> strip_impl(const Value& self, const CallArgs& args, bool left, bool right,
                         std::string_view name) {
  if (Status s = arity(name, args, 1); !s.ok()) return s.error();
  const Value* chars = arg(args, 0, "chars");
  if (chars == nullptr) return Value(std::string(py_strip(self.as_string(), left, right)));
  auto set = string_arg(chars, name);
  if (!set.ok()) return set.error();
  return Value(std::string(py_strip_chars(self.as_string(), set.value(), left, right)));
}

Result<Value> m_strip(Interpreter&, const Value& s, const CallArgs& a) {
  return strip_impl(s, a, true, true, "strip");
}
Result<Value> m_lstrip(Interpreter&, const Value& s, const CallArgs& a) {
  return strip_impl(s, a, true, false, "lstrip");
}
Result<Value> m_rstrip(Interpreter&, const Value& s, const CallArgs& a) {
  return strip_impl(s, a, false, true, "rstrip");
}

// str.split / str.rsplit.
Result<Value> split_impl(Interpreter& in, const Value& self, const CallArgs& args, bool reverse) {
  if (Status s = arity("split", args, 2); !s.ok()) return s.error();
  auto sep = string_arg(arg(args, 0, "sep"), "split");
  if (!sep.ok()) return sep.error();
  const Value* max_v = arg(args, 1, "maxsplit");
  int64_t maxsplit = max_v != nullptr && max_v->is_number() ? max_v->as_int() : -1;
  const std::string& text = self.as_string();
  std::vector<std::string> parts;
  if (arg(args, 0, "sep") != nullptr) {
    const std::string_view separator = sep.value();
    if (separator.empty()) return make_error("empty separator");
    if (!reverse) {
      size_t start = 0;
      while (maxsplit != 0) {
        const size_t hit = text.find(separator, start);
        if (hit == std::string::npos) break;
        parts.push_back(text.substr(start, hit - start));
        start = hit + separator.size();
        --maxsplit;
      }
      parts.push_back(text.substr(start));
    } else {
      size_t end = text.size();
      while (maxsplit != 0 && end >= separator.size()) {
        const size_t hit = text.rfind(separator, end - separator.size());
        if (hit == std::string::npos) break;
        parts.push_back(text.substr(hit + separator.size(), end - hit - separator.size()));
        end = hit;
        --maxsplit;
      }
      parts.push_back(text.substr(0, end));
      std::reverse(parts.begin(), parts.end());
    }
  } else {
    // Runs of whitespace separate; leading/trailing whitespace yields no empty parts.
    std::vector<std::pair<size_t, size_t>> words;
    size_t pos = 0;
    while (pos < text.size()) {
      while (size_t n = py_space_length(text, pos)) pos += n;
      if (pos >= text.size()) break;
      const size_t start = pos;
      while (pos < text.size() && py_space_length(text, pos) == 0) decode_lenient(text, pos);
      words.emplace_back(start, pos);
    }
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) >= words.size()) {
      for (auto [b, e] : words) parts.push_back(text.substr(b, e - b));
    } else if (!reverse) {
      for (size_t i = 0; i < static_cast<size_t>(maxsplit); ++i)
        parts.push_back(text.substr(words[i].first, words[i].second - words[i].first));
      const size_t rest = words[static_cast<size_t>(maxsplit)].first;
      parts.push_back(std::string(py_strip(std::string_view(text).substr(rest), false, true)));
    } else {
      const size_t keep = words.size() - static_cast<size_t>(maxsplit);
      parts.push_back(std::string(
          py_strip(std::string_view(text).substr(0, words[keep - 1].second), true, false)));
      for (size_t i = keep; i < words.size(); ++i)
        parts.push_back(text.substr(words[i].first, words[i].second - words[i].first));
    }
  }
  if (Status s = in.budget().check_items(parts.size()); !s.ok()) return s.error();
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.emplace_back(std::move(p));
  return Value::array(std::move(items));
}

Result<Value> m_split(Interpreter& in, const Value& s, const CallArgs& a) {
  return split_impl(in, s, a, false);
}
Result<Value> m_rsplit(Interpreter& in, const Value& s, const CallArgs& a) {
  return split_impl(in, s, a, true);
}

Result<Value> m_splitlines(Interpreter& in, const Value& self, const CallArgs& args) {
  if (Status s = arity("splitlines", args, 1); !s.ok()) return s.error();
  const Value* keep = arg(args, 0, "keepends");
  if (keep != nullptr && truthy(*keep))
    return make_error("splitlines(keepends=True) is not supported");
  std::vector<Value> items;
  for (std::string_view line : py_splitlines(self.as_string())) items.emplace_back(line);
  if (Status s = in.budget().check_items(items.size()); !s.ok()) return s.error();
  return Value::array(std::move(items));
}

Result<Value> affix_impl(const Value& self, const CallArgs& args, bool prefix) {
  const std::string_view name = prefix ? "startswith" : "endswith";
  if (args.positional.empty())
    return make_error(std::string(name) + "() takes at least 1 argument (0 given)");
  if (args.positional.size() > 1 || !args.keyword.empty())
    return make_error(std::string(name) + "() with start/end arguments is not supported");
  const Value& what = args.positional[0];
  std::vector<Value> options = what.is_tuple() ? what.items() : std::vector<Value>{what};
  const std::string& text = self.as_string();
  for (const Value& option : options) {
    if (!option.is_string())
      return make_error(std::string(name) + " first arg must be str or a tuple of str, not " +
                        py_type_name(option));
    const std::string& o = option.as_string();
    if (o.size() > text.size()) continue;
    if (prefix ? text.compare(0, o.size(), o) == 0
               : text.compare(text.size() - o.size(), o.size(), o) == 0)
      return Value(true);
  }
  return Value(false);
}

Result<Value> m_startswith(Interpreter&, const Value& s, const CallArgs& a) {
  return affix_impl(s, a, true);
}
Result<Value> m_endswith(Interpreter&, const Value& s, const CallArgs& a) {
  return affix_impl(s, a, false);
}

template <std::string (*Fn)(std::string_view)>
Result<Value> case_method(Interpreter&, const Value& self, const CallArgs& args) {
  if (Status s = arity("upper", args, 0); !s.ok()) return s.error();
  return Value(Fn(self.as_string()));
}

Result<Value> m_replace(Interpreter& in, const Value& self, const CallArgs& args) {
  if (args.positional.size() < 2)
    return make_error("replace expected at least 2 arguments, got " +
                      std::to_string(args.positional.size()));
  const Value& old_v = args.positional[0];
  const Value& new_v = args.positional[1];
  if (!old_v.is_string() || !new_v.is_string())
    return make_error("replace() argument must be str, not " +
                      py_type_name(old_v.is_string() ? new_v : old_v));
  const Value* count_v = arg(args, 2, "count");
  int64_t count = count_v != nullptr && count_v->is_number() ? count_v->as_int() : -1;
  const std::string& text = self.as_string();
  const std::string& from = old_v.as_string();
  const std::string& to = new_v.as_string();
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every code point and at the end.
    const auto chars = split_code_points(text);
    for (size_t i = 0; i <= chars.size(); ++i) {
      if (count != 0) {
        out += to;
        --count;
      }
      if (i < chars.size()) out += chars[i];
      if (Status s = in.budget().check_string(out.size()); !s.ok()) return s.error();
    }
    return Value(std::move(out));
  }
  size_t start = 0;
  while (count != 0) {
    const size_t hit = text.find(from, start);
    if (hit == std::string::npos) break;
    out.append(text, start, hit - start);
    out += to;
    start = hit + from.size();
    --count;
    if (Status s = in.budget().check_string(out.size()); !s.ok()) return s.error();
  }
  out.append(text, start, std::string::npos);
  return Value(std::move(out));
}

// find/rfind/index/count return code point positions, as Python indexes str.
Result<Value> search_impl(const Value& self, const CallArgs& args, std::string_view name) {
  if (args.positional.size() != 1 || !args.positional[0].is_string())
    return make_error(std::string(name) + "() takes exactly one str argument");
  const std::string& text = self.as_string();
  const std::string& sub = args.positional[0].as_string();
  if (name == "count") {
    if (sub.empty()) return Value(static_cast<int64_t>(count_code_points(text) + 1));
    int64_t n = 0;
    for (size_t at = text.find(sub); at != std::string::npos; at = text.find(sub, at + sub.size()))
      ++n;
    return Value(n);
  }
  const size_t at = name == "rfind" ? text.rfind(sub) : text.find(sub);
  if (at == std::string::npos) {
    if (name == "index") return make_error("substring not found");
    return Value(int64_t{-1});
  }
  return Value(static_cast<int64_t>(count_code_points(std::string_view(text).substr(0, at))));
}

Result<Value> m_find(Interpreter&, const Value& s, const CallArgs& a) {
  return search_impl(s, a, "find");
}
Result<Value> m_rfind(Interpreter&, const Value& s, const CallArgs& a) {
  return search_impl(s, a, "rfind");
}
Result<Value> m_index(Interpreter&, const Value& s, const CallArgs& a) {
  return search_impl(s, a, "index");
}
Result<Value> m_count(Interpreter&, const Value& s, const CallArgs& a) {
  return search_impl(s, a, "count");
}

Result<Value> m_join(Interpreter& in, const Value& self, const CallArgs& args) {
  if (args.positional.size() != 1) return make_error("join() takes exactly one argument");
  auto items = iterate(args.positional[0]);
  if (!items.ok()) return make_error("can only join an iterable");
  std::string out;
  for (size_t i = 0; i < items.value().size(); ++i) {
    const Value& item = items.value()[i];
    if (!item.is_string())
      return make_error("sequence item " + std::to_string(i) + ": expected str instance, " +
                        py_type_name(item) + " found");
    if (i > 0) out += self.as_string();
    out += item.as_string();
    if (Status s = in.budget().check_string(out.size()); !s.ok()) return s.error();
  }
  return Value(std::move(out));
}

template <bool (*Pred)(char32_t)>
Result<Value> char_class(Interpreter&, const Value& self, const CallArgs& args) {
  if (Status s = arity("isalpha", args, 0); !s.ok()) return s.error();
  const std::string& text = self.as_string();
  if (text.empty()) return Value(false);
  for (size_t pos = 0; pos < text.size();)
    if (!Pred(decode_lenient(text, pos))) return Value(false);
  return Value(true);
}

bool is_digit_cp(char32_t c) {
  return c >= '0' && c <= '9';
}
bool is_alnum_cp(char32_t c) {
  return is_digit_cp(c) || is_alpha(c);
}

Result<Value> case_test(const Value& self, bool want_lower) {
  bool any_cased = false;
  const std::string& text = self.as_string();
  for (size_t pos = 0; pos < text.size();) {
    const char32_t c = decode_lenient(text, pos);
    if (want_lower ? is_cased_upper(c) : is_cased_lower(c)) return Value(false);
    any_cased = any_cased || is_cased_lower(c) || is_cased_upper(c);
  }
  return Value(any_cased);
}

Result<Value> m_islower(Interpreter&, const Value& s, const CallArgs&) {
  return case_test(s, true);
}
Result<Value> m_isupper(Interpreter&, const Value& s, const CallArgs&) {
  return case_test(s, false);
}

Result<Value> justify_impl(Interpreter& in, const Value& self, const CallArgs& args,
                           std::string_view name) {
  if (args.positional.empty() || !args.positional[0].is_number())
    return make_error(std::string(name) + "() expects an integer width");
  const int64_t width = args.positional[0].as_int();
  std::string fill = " ";
  if (args.positional.size() > 1) {
    const Value& f = args.positional[1];
    if (!f.is_string() || count_code_points(f.as_string()) != 1)
      return make_error("The fill character must be exactly one character long");
    fill = f.as_string();
  }
  const std::string& text = self.as_string();
  const int64_t length = static_cast<int64_t>(count_code_points(text));
  if (width <= length) return self;
  const size_t total = static_cast<size_t>(width - length);
  if (Status s = in.budget().check_string(total * fill.size() + text.size()); !s.ok())
    return s.error();
  size_t left = 0;
  if (name == "center")
    left = total / 2 + (total & static_cast<size_t>(width) & 1);  // CPython's centering rule
  else if (name == "rjust")
    left = total;
  std::string out;
  for (size_t i = 0; i < left; ++i) out += fill;
  out += text;
  for (size_t i = left; i < total; ++i) out += fill;
  return Value(std::move(out));
}

Result<Value> m_center(Interpreter& in, const Value& s, const CallArgs& a) {
  return justify_impl(in, s, a, "center");
}
Result<Value> m_ljust(Interpreter& in, const Value& s, const CallArgs& a) {
  return justify_impl(in, s, a, "ljust");
}
Result<Value> m_rjust(Interpreter& in, const Value& s, const CallArgs& a) {
  return justify_impl(in, s, a, "rjust");
}

Result<Value> m_get(Interpreter&, const Value& self, const CallArgs& args) {
  if (args.positional.empty() || args.positional.size() > 2 || !args.keyword.empty())
    return make_error("get expected 1 or 2 positional arguments");
  const Value& key = args.positional[0];
  if (key.is_string()) {
    if (const Value* v = self.find(key.as_string())) return *v;
  }
  return args.positional.size() > 1 ? args.positional[1] : Value::none();
}

Result<Value> m_items(Interpreter&, const Value& self, const CallArgs& args) {
  if (Status s = arity("items", args, 0); !s.ok()) return s.error();
  std::vector<Value> items;
  items.reserve(self.entries().size());
  for (const auto& [k, v] : self.entries()) items.push_back(Value::tuple({Value(k), v}));
  return Value::dict_view(Value::DictView::kItems, std::move(items));
}

Result<Value> m_keys(Interpreter&, const Value& self, const CallArgs& args) {
  if (Status s = arity("keys", args, 0); !s.ok()) return s.error();
  std::vector<Value> items;
  for (const auto& entry : self.entries()) items.emplace_back(entry.first);
  return Value::dict_view(Value::DictView::kKeys, std::move(items));
}

Result<Value> m_values(Interpreter&, const Value& self, const CallArgs& args) {
  if (Status s = arity("values", args, 0); !s.ok()) return s.error();
  std::vector<Value> items;
  for (const auto& entry : self.entries()) items.push_back(entry.second);
  return Value::dict_view(Value::DictView::kValues, std::move(items));
}

Result<Value> m_list_index(Interpreter&, const Value& self, const CallArgs& args) {
  if (args.positional.size() != 1) return make_error("index() takes exactly one argument");
  for (size_t i = 0; i < self.items().size(); ++i)
    if (py_equal(self.items()[i], args.positional[0])) return Value(static_cast<int64_t>(i));
  return make_error(to_py_repr(args.positional[0]) + " is not in list");
}

Result<Value> m_list_count(Interpreter&, const Value& self, const CallArgs& args) {
  if (args.positional.size() != 1) return make_error("count() takes exactly one argument");
  int64_t n = 0;
  for (const Value& v : self.items()) n += py_equal(v, args.positional[0]) ? 1 : 0;
  return Value(n);
}

struct MethodEntry {
  std::string_view name;
  Method fn;
};

constexpr MethodEntry kStringMethods[] = {
    {"strip", m_strip},
    {"lstrip", m_lstrip},
    {"rstrip", m_rstrip},
    {"split", m_split},
    {"rsplit", m_rsplit},
    {"splitlines", m_splitlines},
    {"startswith", m_startswith},
    {"endswith", m_endswith},
    {"upper", case_method<py_upper>},
    {"lower", case_method<py_lower>},
    {"title", case_method<py_title_method>},
    {"capitalize", case_method<py_capitalize>},
    {"replace", m_replace},
    {"find", m_find},
    {"rfind", m_rfind},
    {"index", m_index},
    {"count", m_count},
    {"join", m_join},
    {"isdigit", char_class<is_digit_cp>},
    {"isalpha", char_class<is_alpha>},
    {"isalnum", char_class<is_alnum_cp>},
    {"isspace", char_class<is_py_space>},
    {"islower", m_islower},
    {"isupper", m_isupper},
    {"center", m_center},
    {"ljust", m_ljust},
    {"rjust", m_rjust},
};

constexpr MethodEntry kDictMethods[] = {
    {"get", m_get}, {"items", m_items}, {"keys", m_keys}, {"values", m_values}};

constexpr MethodEntry kListMethods[] = {{"index", m_list_index}, {"count", m_list_count}};

template <size_t N>
Method lookup(const MethodEntry (&table)[N], std::string_view name) {
  for (const auto& entry : table)
    if (entry.name == name) return entry.fn;
  return nullptr;
}

}  // namespace

Value find_method(const Value& obj, std::string_view name) {
  Method fn = nullptr;
  if (obj.is_string())
    fn = lookup(kStringMethods, name);
  else if (obj.is_object() && !obj.is_namespace())
    fn = lookup(kDictMethods, name);
  else if (obj.is_array() && !obj.is_tuple())
    fn = lookup(kListMethods, name);
  // Mutating methods (append, update, ...) are absent, as the immutable sandbox refuses them.
  if (fn == nullptr) return Value();
  auto callable = std::make_shared<Callable>();
  callable->name = std::string(name);
  callable->native = [fn, obj](Interpreter& in, const CallArgs& args) { return fn(in, obj, args); };
  return Value::callable(std::move(callable));
}

}  // namespace troupe::chat
