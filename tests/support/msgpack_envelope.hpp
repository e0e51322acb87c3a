#pragma once
// Builds wire envelopes field by field, as another release of troupe would write them: the tests
// of rolling-update compatibility leave fields out and add unknown ones.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

namespace troupe::test {

using Packer = msgpack::packer<msgpack::sbuffer>;

// [version, kind, {name: value...}]; each field packs its own value.
inline std::string envelope(
    uint32_t version, const std::string& kind,
    const std::vector<std::pair<std::string, std::function<void(Packer&)>>>& fields) {
  msgpack::sbuffer buffer;
  Packer p(&buffer);
  p.pack_array(3);
  p.pack(version);
  p.pack(kind);
  p.pack_map(static_cast<uint32_t>(fields.size()));
  for (const auto& [name, value] : fields) {
    p.pack(name);
    value(p);
  }
  return std::string(buffer.data(), buffer.size());
}

template <class T>
std::function<void(Packer&)> value(T v) {
  return [v](Packer& p) { p.pack(v); };
}

// A JoinRequest as a release from before `capacity` existed wrote it, plus whatever `extra`
// fields a later release might add.
inline std::string old_join_request(
    std::vector<std::pair<std::string, std::function<void(Packer&)>>> extra = {}) {
  std::vector<std::pair<std::string, std::function<void(Packer&)>>> fields = {
      {"protocol", value(int32_t{1})},
      {"node", value(std::string("r-old"))},
      {"model", value(std::string("SmolLM2"))},
      {"weight", value(2.5)},
  };
  for (auto& f : extra) fields.push_back(std::move(f));
  return envelope(1, "join_request", fields);
}

}  // namespace troupe::test
