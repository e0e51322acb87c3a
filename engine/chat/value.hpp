#pragma once
// Value: the dynamic type templates compute with, modelled on the Python objects jinja2 sees
// (None, bool, int, float, str, list/tuple, dict, callables, jinja2's Undefined). Containers
// are immutable and shared, so copies are cheap; only namespace() objects mutate in place.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/result.hpp"

namespace troupe::chat {

class Value;
class Interpreter;
struct MacroClosure;  // defined by the interpreter

using ObjectEntries = std::vector<std::pair<std::string, Value>>;

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kArray,
    kIterator,  // a one-pass iterable (generator) that filters like select/map return
    kDictView,  // dict.keys() / values() / items(): iterable, sized, not indexable
    kObject,
    kCallable,
  };

  Value() = default;  // undefined, like a missing variable
  Value(std::nullptr_t) : kind_(Kind::kNone) {}
  Value(bool b) : kind_(Kind::kBool) { scalar_.b = b; }
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(int64_t i) : kind_(Kind::kInt) { scalar_.i = i; }
  Value(double f) : kind_(Kind::kFloat) { scalar_.f = f; }
  Value(std::string s);
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}

  // `message` is the error raised when the undefined value is used, e.g. "'x' is undefined".
  static Value undefined(std::string message);
  static Value none() { return Value(nullptr); }
  static Value safe_string(std::string s);  // jinja2 Markup: already escaped
  static Value array(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  // One-pass iterables (Python generators): iterating consumes them, and a generator whose
  // computation failed raises that error only when iterated, as jinja2's lazy filters do.
  static Value iterator(std::vector<Value> items);
  static Value failed_iterator(std::string message);
  enum class DictView : uint8_t { kKeys = 1, kValues, kItems };
  static Value dict_view(DictView which, std::vector<Value> items);
  // Duplicate keys keep the first position and the last value, like a Python dict.
  static Value object(ObjectEntries entries);
  static Value namespace_object(ObjectEntries entries);
  static Value callable(std::shared_ptr<const struct Callable> fn);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }  // bool is an int
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_tuple() const { return is_array() && flag_ != 0; }
  bool is_iterator() const { return kind_ == Kind::kIterator; }
  bool is_dict_view() const { return kind_ == Kind::kDictView; }
  DictView dict_view_kind() const { return static_cast<DictView>(flag_); }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_namespace() const { return is_object() && object_data().is_namespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }
  bool is_safe() const { return is_string() && flag_ != 0; }

  bool as_bool() const { return scalar_.b; }
  int64_t as_int() const { return is_bool() ? static_cast<int64_t>(scalar_.b) : scalar_.i; }
  double as_float() const { return is_float() ? scalar_.f : static_cast<double>(as_int()); }
  const std::string& as_string() const { return *static_cast<const std::string*>(heap_.get()); }
  const std::string& undefined_message() const;
  // Elements of an array, iterator or dict view.
  const std::vector<Value>& items() const { return array_data().items; }
  const ObjectEntries& entries() const { return object_data().entries; }
  const Value* find(std::string_view key) const;
  const Callable& callable() const { return *static_cast<const Callable*>(heap_.get()); }
  // Iterator protocol: the remaining items (all consumed), or the deferred error.
  Result<std::vector<Value>> consume() const;
  // Consumes one item; nullopt when exhausted.
  Result<std::optional<Value>> consume_one() const;
  // Consumes items up to and including the first equal to `item` (Python's `in`).
  Result<bool> consume_until(const Value& item) const;
  // Same container or namespace instance (Python `is`).
  bool same_instance(const Value& other) const { return heap_ == other.heap_; }

  // Nesting depth (0 for scalars); bounded by the interpreter to keep recursion safe.
  uint32_t depth() const;
  // True when a namespace is reachable from this value (a namespace itself included).
  bool holds_namespace() const;
  // Namespace attribute assignment; only valid on namespaces.
  void set_namespace_attr(const std::string& key, Value value) const;

 private:
  struct ArrayData {
    std::vector<Value> items;
    uint32_t depth = 1;
    bool has_namespace = false;
    // Iterator state, shared by every copy like a Python generator object.
    mutable size_t cursor = 0;
    mutable std::shared_ptr<const std::string> error;
  };
  struct ObjectData {
    ObjectEntries entries;
    std::vector<size_t> sorted;  // entry indexes ordered by key; empty for small objects
    uint32_t depth = 1;
    bool has_namespace = false;
    bool is_namespace = false;
  };
  const ArrayData& array_data() const { return *static_cast<const ArrayData*>(heap_.get()); }
  const ObjectData& object_data() const { return *static_cast<const ObjectData*>(heap_.get()); }
  static Value make_object(ObjectEntries entries, bool is_namespace);
  static void index_object(ObjectData& data);

  Kind kind_ = Kind::kUndefined;
  uint8_t flag_ = 0;  // string: 1 = safe (Markup); array: 1 = tuple; dict view: DictView
  union {
    bool b;
    int64_t i;
    double f;
  } scalar_{};
  std::shared_ptr<void> heap_;  // string, undefined message, array, object or callable
};

// Positional and keyword arguments of a call, filter or test.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  const Value* keyword_arg(std::string_view name) const;
};

// Native functions return errors without a position; the interpreter adds where it happened.
using NativeFunction = std::function<Result<Value>(Interpreter&, const CallArgs&)>;

struct Callable {
  std::string name;
  NativeFunction native;                      // built-ins and bound methods
  std::shared_ptr<const MacroClosure> macro;  // template macros
};

// Python truthiness: empty strings/containers, 0, None and Undefined are false.
bool truthy(const Value& v);
// Python str() and repr() of a value.
std::string to_py_str(const Value& v);
std::string to_py_repr(const Value& v);
// Python type name used in error messages ("int", "str", "NoneType", ...).
std::string py_type_name(const Value& v);
// Python ==.
bool py_equal(const Value& a, const Value& b);

}  // namespace troupe::chat
