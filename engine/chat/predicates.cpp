#include "engine/chat/predicates.hpp"

#include "engine/chat/filters.hpp"
#include "engine/chat/interpreter.hpp"
#include "engine/chat/operators.hpp"
#include "engine/chat/unicode_text.hpp"

namespace troupe::chat {
namespace {

Result<const Value*> one_arg(const CallArgs& args, std::string_view test) {
  const size_t n = args.positional.size() + args.keyword.size();
  if (n != 1)
    return make_error("test '" + std::string(test) + "' takes exactly 1 argument (" +
                      std::to_string(n) + " given)");
  return args.positional.empty() ? &args.keyword[0].second : &args.positional[0];
}

// value % divisor == remainder, with Python's operator semantics.
Result<bool> modulo_is(Interpreter& in, const Value& value, const Value& divisor, int remainder) {
  auto mod = binary_op(in.budget(), "%", value, divisor);
  if (!mod.ok()) return mod.error();
  return py_equal(mod.value(), Value(remainder));
}

Result<bool> t_odd(Interpreter& in, const Value& v, const CallArgs&) {
  return modulo_is(in, v, Value(2), 1);
}
Result<bool> t_even(Interpreter& in, const Value& v, const CallArgs&) {
  return modulo_is(in, v, Value(2), 0);
}
Result<bool> t_divisibleby(Interpreter& in, const Value& v, const CallArgs& a) {
  auto num = one_arg(a, "divisibleby");
  if (!num.ok()) return num.error();
  return modulo_is(in, v, *num.value(), 0);
}
Result<bool> t_defined(Interpreter&, const Value& v, const CallArgs&) {
  return !v.is_undefined();
}
Result<bool> t_undefined(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_undefined();
}
Result<bool> t_none(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_none();
}
Result<bool> t_boolean(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_bool();
}
Result<bool> t_false(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_bool() && !v.as_bool();
}
Result<bool> t_true(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_bool() && v.as_bool();
}
Result<bool> t_integer(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_int();
}
Result<bool> t_float(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_float();
}
Result<bool> t_number(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_number();
}
Result<bool> t_string(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_string();
}
Result<bool> t_mapping(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_object() && !v.is_namespace();
}

// len() and __getitem__ both exist: str, list, tuple, dict, and jinja2's Undefined.
Result<bool> t_sequence(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_undefined() || v.is_string() || v.is_array() || (v.is_object() && !v.is_namespace());
}

Result<bool> t_iterable(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_undefined() || v.is_string() || v.is_array() || v.is_iterator() || v.is_dict_view() ||
         (v.is_object() && !v.is_namespace());
}

// Undefined defines __call__ (it raises), so Python's callable() accepts it.
Result<bool> t_callable(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_callable() || v.is_undefined();
}

// Python identity: singletons, CPython's cached small ints, and shared instances.
Result<bool> t_sameas(Interpreter&, const Value& v, const CallArgs& a) {
  auto other_r = one_arg(a, "sameas");
  if (!other_r.ok()) return other_r.error();
  const Value& other = *other_r.value();
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kBool:
      return v.as_bool() == other.as_bool();
    case Value::Kind::kInt:
      return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    case Value::Kind::kUndefined:
      return false;
    default:
      return v.same_instance(other);
  }
}

Result<bool> t_escaped(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_safe();
}

Result<bool> case_test(const Value& v, bool lower) {
  const std::string text = to_py_str(v);
  bool cased = false;
  for (size_t pos = 0; pos < text.size();) {
    const char32_t c = decode_lenient(text, pos);
    if (lower ? is_cased_upper(c) : is_cased_lower(c)) return false;
    cased = cased || is_cased_lower(c) || is_cased_upper(c);
  }
  return cased;
}
Result<bool> t_lower(Interpreter&, const Value& v, const CallArgs&) {
  return case_test(v, true);
}
Result<bool> t_upper(Interpreter&, const Value& v, const CallArgs&) {
  return case_test(v, false);
}

Result<bool> t_filter(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
Result<bool> t_test(Interpreter&, const Value& v, const CallArgs&) {
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

Result<bool> t_in(Interpreter&, const Value& v, const CallArgs& a) {
  auto seq = one_arg(a, "in");
  if (!seq.ok()) return seq.error();
  return contains(*seq.value(), v);
}

template <const char* Op>
Result<bool> t_compare(Interpreter&, const Value& v, const CallArgs& a) {
  auto other = one_arg(a, Op);
  if (!other.ok()) return other.error();
  return compare(Op, v, *other.value());
}

constexpr char kEq[] = "==";
constexpr char kNe[] = "!=";
constexpr char kLt[] = "<";
constexpr char kLe[] = "<=";
constexpr char kGt[] = ">";
constexpr char kGe[] = ">=";

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

constexpr TestEntry kTests[] = {
    {"odd", t_odd},
    {"even", t_even},
    {"divisibleby", t_divisibleby},
    {"defined", t_defined},
    {"undefined", t_undefined},
    {"filter", t_filter},
    {"test", t_test},
    {"none", t_none},
    {"boolean", t_boolean},
    {"false", t_false},
    {"true", t_true},
    {"integer", t_integer},
    {"float", t_float},
    {"lower", t_lower},
    {"upper", t_upper},
    {"string", t_string},
    {"mapping", t_mapping},
    {"number", t_number},
    {"sequence", t_sequence},
    {"iterable", t_iterable},
    {"callable", t_callable},
    {"sameas", t_sameas},
    {"escaped", t_escaped},
    {"in", t_in},
    {"==", t_compare<kEq>},
    {"eq", t_compare<kEq>},
    {"equalto", t_compare<kEq>},
    {"!=", t_compare<kNe>},
    {"ne", t_compare<kNe>},
    {">", t_compare<kGt>},
    {"gt", t_compare<kGt>},
    {"greaterthan", t_compare<kGt>},
    {">=", t_compare<kGe>},
    {"ge", t_compare<kGe>},
    {"<", t_compare<kLt>},
    {"lt", t_compare<kLt>},
    {"lessthan", t_compare<kLt>},
    {"<=", t_compare<kLe>},
    {"le", t_compare<kLe>},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const auto& entry : kTests)
    if (entry.name == name) return entry.fn;
  return nullptr;
}

}  // namespace troupe::chat
