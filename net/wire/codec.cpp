#include "net/wire/codec.hpp"

#include "net/wire/fields.hpp"

#include <bit>
#include <cmath>
#include <concepts>
#include <limits>
#include <msgpack.hpp>
#include <optional>
#include <unordered_map>

namespace troupe::wire {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;
using Object = msgpack::object;

template <class T>
const char* wire_kind();
template <>
const char* wire_kind<EngineRequest>() {
  return "engine_request";
}
template <>
const char* wire_kind<TokenDelta>() {
  return "token_delta";
}
template <>
const char* wire_kind<ReplicaStats>() {
  return "replica_stats";
}
template <>
const char* wire_kind<SubmitReply>() {
  return "submit_reply";
}
template <>
const char* wire_kind<RequestFailure>() {
  return "request_failure";
}
template <>
const char* wire_kind<WorkerStatus>() {
  return "worker_status";
}
template <>
const char* wire_kind<HealthReport>() {
  return "health_report";
}
template <>
const char* wire_kind<JoinRequest>() {
  return "join_request";
}
template <>
const char* wire_kind<NodeStatus>() {
  return "node_status";
}
template <>
const char* wire_kind<ServedRequests>() {
  return "served_requests";
}
template <>
const char* wire_kind<ClusterStatus>() {
  return "cluster_status";
}
template <>
const char* wire_kind<AutoscalerStatus>() {
  return "autoscaler_status";
}
template <>
const char* wire_kind<JoinReply>() {
  return "join_reply";
}
template <>
const char* wire_kind<StepPlan>() {
  return "step_plan";
}
template <>
const char* wire_kind<StepResult>() {
  return "step_result";
}
template <>
const char* wire_kind<GenerateRequest>() {
  return "generate_request";
}
template <>
const char* wire_kind<GenerationChunk>() {
  return "generation_chunk";
}
template <>
const char* wire_kind<GenerationEnd>() {
  return "generation_end";
}

struct FieldCounter {
  uint32_t count = 0;
  template <typename T>
  FieldCounter& operator()(const char*, T&) {
    ++count;
    return *this;
  }
};

// ---- writing ----

void put(Packer& p, const std::pair<int32_t, float>& v);
void put(Packer& p, FinishReason v);
void put(Packer& p, Pooling v);
template <Described T>
void put(Packer& p, const T& v);

void put(Packer& p, const std::string& v) {
  p.pack(v);
}
void put(Packer& p, int32_t v) {
  p.pack(v);
}
void put(Packer& p, int64_t v) {
  p.pack(v);
}
// msgpack-c packs a float or double that holds an integer as that integer, and its test first
// converts the value to uint64_t: undefined behaviour for exactly 2^64, which its range check
// lets through (the fuzzer found one). That value goes out as msgpack writes any other
// non-integer: a float32 (0xca) or float64 (0xcb) marker, then the bits, big-endian.
template <typename Bits, typename Float>
void put_float(Packer& p, Float v, char marker) {
  if (v != std::ldexp(Float{1}, 64)) {
    p.pack(v);
    return;
  }
  const auto bits = std::bit_cast<Bits>(v);
  char bytes[1 + sizeof(Bits)] = {marker};
  for (size_t i = 0; i < sizeof(Bits); ++i) {
    bytes[1 + i] = static_cast<char>(bits >> (8 * (sizeof(Bits) - 1 - i)));
  }
  p.pack_str_body(bytes, sizeof(bytes));  // raw bytes, no header of their own
}
void put(Packer& p, float v) {
  put_float<uint32_t>(p, v, static_cast<char>(0xca));
}
void put(Packer& p, double v) {
  put_float<uint64_t>(p, v, static_cast<char>(0xcb));
}
void put(Packer& p, bool v) {
  p.pack(v);
}
void put(Packer& p, const std::optional<uint64_t>& v) {
  if (v) {
    p.pack(*v);
  } else {
    p.pack_nil();
  }
}
template <typename T>
void put(Packer& p, const std::vector<T>& v) {
  p.pack_array(static_cast<uint32_t>(v.size()));
  for (const T& x : v) put(p, x);
}
void put(Packer& p, const std::pair<int32_t, float>& v) {
  p.pack_array(2);
  p.pack(v.first);
  put(p, v.second);
}
void put(Packer& p, FinishReason v) {
  p.pack(std::string(v == FinishReason::stop     ? "stop"
                     : v == FinishReason::length ? "length"
                                                 : "none"));
}

void put(Packer& p, Pooling v) {
  p.pack(std::string(v == Pooling::mean ? "mean" : v == Pooling::last ? "last" : "none"));
}

// A map body written field by field: fields("name", value)...
class Fields {
 public:
  Fields(Packer& p, uint32_t count) : p_(p) { p_.pack_map(count); }
  template <typename T>
  Fields& operator()(const char* name, const T& value) {
    p_.pack(std::string_view(name));
    put(p_, value);
    return *this;
  }

 private:
  Packer& p_;
};

template <Described T>
void put(Packer& p, const T& v) {
  T& x = const_cast<T&>(v);  // describe() lists fields of mutable structs; nothing is written
  FieldCounter counter;
  describe(counter, x);
  Fields fields(p, counter.count);
  describe(fields, x);
}

// ---- reading ----

Status get(const Object& o, const std::string& f, std::pair<int32_t, float>& out);
template <Described T>
Status get(const Object& o, const std::string& f, T& out);

Error field_error(const std::string& field, const char* what) {
  return make_error("wire: field '" + field + "' " + what);
}

Status get(const Object& o, const std::string& f, std::string& out) {
  if (o.type != msgpack::type::STR) return field_error(f, "must be a string");
  out.assign(o.via.str.ptr, o.via.str.size);
  return Ok{};
}
template <typename Int>
Status get_integer(const Object& o, const std::string& f, Int& out) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
      return field_error(f, "is out of range");
    }
    out = static_cast<Int>(o.via.u64);
    return Ok{};
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    if constexpr (std::is_signed_v<Int>) {
      if (o.via.i64 < static_cast<int64_t>(std::numeric_limits<Int>::min())) {
        return field_error(f, "is out of range");
      }
      out = static_cast<Int>(o.via.i64);
      return Ok{};
    }
    return field_error(f, "must not be negative");
  }
  return field_error(f, "must be an integer");
}
Status get(const Object& o, const std::string& f, int32_t& out) {
  return get_integer(o, f, out);
}
Status get(const Object& o, const std::string& f, int64_t& out) {
  return get_integer(o, f, out);
}
Status get(const Object& o, const std::string& f, uint64_t& out) {
  return get_integer(o, f, out);
}
template <typename Float>
Status get_float(const Object& o, const std::string& f, Float& out) {
  switch (o.type) {
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      out = static_cast<Float>(o.via.f64);
      return Ok{};
    case msgpack::type::POSITIVE_INTEGER:
      out = static_cast<Float>(o.via.u64);
      return Ok{};
    case msgpack::type::NEGATIVE_INTEGER:
      out = static_cast<Float>(o.via.i64);
      return Ok{};
    default:
      return field_error(f, "must be a number");
  }
}
Status get(const Object& o, const std::string& f, float& out) {
  return get_float(o, f, out);
}
Status get(const Object& o, const std::string& f, double& out) {
  return get_float(o, f, out);
}
Status get(const Object& o, const std::string& f, bool& out) {
  if (o.type != msgpack::type::BOOLEAN) return field_error(f, "must be true or false");
  out = o.via.boolean;
  return Ok{};
}
Status get(const Object& o, const std::string& f, std::optional<uint64_t>& out) {
  if (o.type == msgpack::type::NIL) {
    out.reset();
    return Ok{};
  }
  uint64_t v = 0;
  if (auto s = get(o, f, v); !s) return s;
  out = v;
  return Ok{};
}
Status get(const Object& o, const std::string& f, FinishReason& out) {
  std::string s;
  if (auto r = get(o, f, s); !r) return r;
  if (s == "none") {
    out = FinishReason::none;
  } else if (s == "stop") {
    out = FinishReason::stop;
  } else if (s == "length") {
    out = FinishReason::length;
  } else {
    return field_error(f, "must be \"none\", \"stop\" or \"length\"");
  }
  return Ok{};
}
Status get(const Object& o, const std::string& f, Pooling& out) {
  std::string s;
  if (auto r = get(o, f, s); !r) return r;
  if (s == "none") {
    out = Pooling::none;
  } else if (s == "mean") {
    out = Pooling::mean;
  } else if (s == "last") {
    out = Pooling::last;
  } else {
    return field_error(f, "must be \"none\", \"mean\" or \"last\"");
  }
  return Ok{};
}
Status get(const Object& o, const std::string& f, std::pair<int32_t, float>& out) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) {
    return field_error(f, "must be a [token, bias] pair");
  }
  if (auto s = get(o.via.array.ptr[0], f, out.first); !s) return s;
  return get(o.via.array.ptr[1], f, out.second);
}
template <typename T>
Status get(const Object& o, const std::string& f, std::vector<T>& out) {
  if (o.type != msgpack::type::ARRAY) return field_error(f, "must be an array");
  out.resize(o.via.array.size);
  for (uint32_t i = 0; i < o.via.array.size; ++i) {
    if (auto s = get(o.via.array.ptr[i], f + "[" + std::to_string(i) + "]", out[i]); !s) return s;
  }
  return Ok{};
}

// A map body read field by field; absent fields keep their defaults, unknown ones are ignored.
class Body {
 public:
  static Result<Body> of(const Object& o, const std::string& name) {
    if (o.type != msgpack::type::MAP) return field_error(name, "must be a map");
    Body body(name);
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      const auto& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR)
        return field_error(name, "has a key that is not a string");
      body.fields_[std::string_view(kv.key.via.str.ptr, kv.key.via.str.size)] = &kv.val;
    }
    return body;
  }
  template <typename T>
  Body& operator()(const char* name, T& out) {
    if (!status_) return *this;
    auto it = fields_.find(name);
    if (it != fields_.end()) status_ = get(*it->second, prefix_ + name, out);
    return *this;
  }
  const Status& status() const { return status_; }

 private:
  explicit Body(const std::string& name) : prefix_(name.empty() ? "" : name + ".") {}
  std::string prefix_;
  std::unordered_map<std::string_view, const Object*> fields_;
  Status status_ = Ok{};
};

template <Described T>
Status get(const Object& o, const std::string& f, T& out) {
  auto body = Body::of(o, f);
  if (!body) return body.error();
  describe(*body, out);
  return body->status();
}

// A message of type T from its envelope, after checking version and kind.
template <typename T>
Result<T> open_envelope(std::string_view bytes) {
  const char* kind = wire_kind<T>();
  msgpack::object_handle handle;
  try {
    // Limits keep a forged length from allocating gigabytes: a few MB of payload at most.
    const msgpack::unpack_limit limit(1 << 20, 1 << 10, 1 << 24, 1 << 24, 1 << 10, 16);
    handle = msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, limit);
  } catch (const std::exception& e) {
    return make_error(std::string("wire: not a valid msgpack message (") + e.what() + ")");
  }
  const Object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size != 3) {
    return make_error("wire: a message must be an array [version, kind, body]");
  }
  uint32_t version = 0;
  if (auto s = get_integer(root.via.array.ptr[0], "version", version); !s) return s.error();
  if (version != kSchemaVersion) {
    return make_error("wire: schema version " + std::to_string(version) +
                      " is not supported (this build speaks " + std::to_string(kSchemaVersion) +
                      ")");
  }
  std::string actual;
  if (auto s = get(root.via.array.ptr[1], "kind", actual); !s) return s.error();
  if (actual != kind) {
    return make_error("wire: expected a " + std::string(kind) + " message, got " + actual);
  }
  T out;
  if (auto s = get(root.via.array.ptr[2], "", out); !s) return s.error();
  return out;
}

}  // namespace

template <typename Message>
std::string encode(const Message& message) {
  msgpack::sbuffer buffer;
  Packer p(&buffer);
  p.pack_array(3);
  p.pack(kSchemaVersion);
  p.pack(std::string_view(wire_kind<Message>()));
  put(p, message);
  return std::string(buffer.data(), buffer.size());
}

template <typename Message>
Result<Message> decode(std::string_view bytes) {
  return open_envelope<Message>(bytes);
}

#define TROUPE_WIRE_MESSAGE(T)              \
  template std::string encode<T>(const T&); \
  template Result<T> decode<T>(std::string_view);
TROUPE_WIRE_MESSAGE(EngineRequest)
TROUPE_WIRE_MESSAGE(TokenDelta)
TROUPE_WIRE_MESSAGE(ReplicaStats)
TROUPE_WIRE_MESSAGE(SubmitReply)
TROUPE_WIRE_MESSAGE(RequestFailure)
TROUPE_WIRE_MESSAGE(WorkerStatus)
TROUPE_WIRE_MESSAGE(HealthReport)
TROUPE_WIRE_MESSAGE(JoinRequest)
TROUPE_WIRE_MESSAGE(JoinReply)
TROUPE_WIRE_MESSAGE(NodeStatus)
TROUPE_WIRE_MESSAGE(ClusterStatus)
TROUPE_WIRE_MESSAGE(AutoscalerStatus)
TROUPE_WIRE_MESSAGE(ServedRequests)
TROUPE_WIRE_MESSAGE(StepPlan)
TROUPE_WIRE_MESSAGE(StepResult)
TROUPE_WIRE_MESSAGE(GenerateRequest)
TROUPE_WIRE_MESSAGE(GenerationChunk)
TROUPE_WIRE_MESSAGE(GenerationEnd)
#undef TROUPE_WIRE_MESSAGE

}  // namespace troupe::wire
