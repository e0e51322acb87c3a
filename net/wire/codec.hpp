#pragma once
// msgpack encodings of every actor message type: what crosses between nodes (CAF carries these
// bytes: actors/messages.hpp). Each is an array [schema version, kind, body], the body a map from
// field names to values (nested structs are maps too), so that a peer in any language can read
// it. Nodes of two adjacent releases share a cluster during a rolling update: a release may add
// fields (older readers ignore them; newer readers give a field an older writer left out its
// default) and keeps kSchemaVersion; renaming or retyping a field, or changing what one means,
// bumps it, and nodes that speak different versions refuse each other's messages. Decoding
// checks every type and range and returns an error naming the field; malformed bytes never
// throw.
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/result.hpp"
#include "engine/serve/generate_request.hpp"
#include "engine/serve/step_plan.hpp"
#include "net/wire/messages.hpp"

namespace troupe::wire {

inline constexpr uint32_t kSchemaVersion = 1;

// The types encode and decode are defined for.
template <typename T>
inline constexpr bool kIsMessage =
    std::is_same_v<T, EngineRequest> || std::is_same_v<T, TokenDelta> ||
    std::is_same_v<T, ReplicaStats> || std::is_same_v<T, SubmitReply> ||
    std::is_same_v<T, RequestFailure> || std::is_same_v<T, WorkerStatus> ||
    std::is_same_v<T, HealthReport> || std::is_same_v<T, JoinRequest> ||
    std::is_same_v<T, JoinReply> || std::is_same_v<T, NodeStatus> ||
    std::is_same_v<T, ServedRequests> || std::is_same_v<T, ClusterStatus> ||
    std::is_same_v<T, AutoscalerStatus> || std::is_same_v<T, StepPlan> ||
    std::is_same_v<T, StepResult> || std::is_same_v<T, GenerateRequest> ||
    std::is_same_v<T, GenerationChunk> || std::is_same_v<T, GenerationEnd>;

template <typename Message>
std::string encode(const Message& message);

template <typename Message>
Result<Message> decode(std::string_view bytes);

}  // namespace troupe::wire
