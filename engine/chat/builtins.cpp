#include "engine/chat/builtins.hpp"

#include <ctime>
#include <string>

#include "engine/chat/interpreter.hpp"
#include "engine/chat/operators.hpp"

namespace troupe::chat {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox MAX_RANGE

Result<Value> builtin_range(Interpreter& in, const CallArgs& args) {
  if (!args.keyword.empty()) return make_error("range() takes no keyword arguments");
  const size_t n = args.positional.size();
  if (n < 1 || n > 3)
    return make_error("range expected at most 3 arguments, got " + std::to_string(n));
  for (const Value& v : args.positional) {
    if (v.is_undefined()) return undefined_error(v);
    if (!v.is_int() && !v.is_bool())
      return make_error("'" + py_type_name(v) + "' object cannot be interpreted as an integer");
  }
  const int64_t start = n == 1 ? 0 : args.positional[0].as_int();
  const int64_t stop = n == 1 ? args.positional[0].as_int() : args.positional[1].as_int();
  const int64_t step = n == 3 ? args.positional[2].as_int() : 1;
  if (step == 0) return make_error("range() arg 3 must not be zero");
  // Count in 128 bits so extreme bounds cannot overflow.
  const __int128 span = static_cast<__int128>(stop) - start;
  __int128 count = 0;
  if (step > 0 && span > 0) count = (span + step - 1) / step;
  if (step < 0 && span < 0)
    count = (-span + (-static_cast<__int128>(step)) - 1) / -static_cast<__int128>(step);
  if (count > kMaxRange)
    return make_error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  if (Status s = in.budget().check_items(static_cast<size_t>(count)); !s.ok()) return s.error();
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  for (__int128 i = 0; i < count; ++i) items.emplace_back(static_cast<int64_t>(start + i * step));
  return Value::array(std::move(items));
}

// dict(mapping_or_pairs, **kwargs) entries.
Result<ObjectEntries> dict_entries(const CallArgs& args, std::string_view name) {
  ObjectEntries entries;
  if (args.positional.size() > 1)
    return make_error(std::string(name) + " expected at most 1 argument, got " +
                      std::to_string(args.positional.size()));
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_object() && !source.is_namespace()) {
      entries = source.entries();
    } else {
      auto items = iterate(source);
      if (!items.ok()) return items.error();
      for (const Value& pair : items.value()) {
        if (!pair.is_array() || pair.items().size() != 2)
          return make_error("dictionary update sequence element has wrong length; 2 is required");
        if (!pair.items()[0].is_string())
          return make_error("chat templates support only string dictionary keys");
        entries.emplace_back(pair.items()[0].as_string(), pair.items()[1]);
      }
    }
  }
  for (const auto& [key, value] : args.keyword) entries.emplace_back(key, value);
  return entries;
}

Result<Value> builtin_dict(Interpreter&, const CallArgs& args) {
  auto entries = dict_entries(args, "dict");
  if (!entries.ok()) return entries.error();
  return Value::object(std::move(entries.value()));
}

Result<Value> builtin_namespace(Interpreter&, const CallArgs& args) {
  auto entries = dict_entries(args, "namespace");
  if (!entries.ok()) return entries.error();
  for (const auto& [key, value] : entries.value()) {
    if (!key.empty() && key[0] == '_')
      return make_error(
          "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" +
          key + "'. Please rename the attribute.");
    if (value.holds_namespace())
      return make_error("a namespace cannot hold another namespace in chat templates");
  }
  return Value::namespace_object(std::move(entries.value()));
}

Result<Value> builtin_raise_exception(Interpreter&, const CallArgs& args) {
  if (args.positional.size() != 1 || !args.keyword.empty())
    return make_error("raise_exception() takes exactly one argument");
  return make_error(to_py_str(args.positional[0]));
}

Result<Value> builtin_strftime_now(Interpreter& in, const CallArgs& args) {
  if (args.positional.size() != 1 || !args.positional[0].is_string())
    return make_error("strftime_now() takes exactly one format string");
  const std::string& format = args.positional[0].as_string();
  if (format.empty()) return Value(std::string());
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  for (size_t size = 256; size <= (size_t{1} << 20); size *= 4) {
    std::string out(size, '\0');
    const size_t n = std::strftime(out.data(), out.size(), format.c_str(), &local);
    if (n > 0) {
      out.resize(n);
      if (Status s = in.budget().check_string(n); !s.ok()) return s.error();
      return Value(std::move(out));
    }
  }
  return Value(std::string());  // the format produced nothing
}

Value make_builtin(const char* name, NativeFunction fn) {
  auto callable = std::make_shared<Callable>();
  callable->name = name;
  callable->native = std::move(fn);
  return Value::callable(std::move(callable));
}

}  // namespace

const Value* find_builtin(std::string_view name) {
  static const std::pair<std::string_view, Value> kBuiltins[] = {
      {"range", make_builtin("range", builtin_range)},
      {"dict", make_builtin("dict", builtin_dict)},
      {"namespace", make_builtin("namespace", builtin_namespace)},
      {"raise_exception", make_builtin("raise_exception", builtin_raise_exception)},
      {"strftime_now", make_builtin("strftime_now", builtin_strftime_now)},
  };
  for (const auto& [key, value] : kBuiltins)
    if (key == name) return &value;
  return nullptr;
}

}  // namespace troupe::chat
