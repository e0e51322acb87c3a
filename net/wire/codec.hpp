#pragma once
// msgpack encodings of every actor message type. Each is an array [schema version, kind, body],
// the body a map from field names to values (nested structs are maps too), so that a peer in
// any language can read it and a field added later is ignored by older readers. Decoding checks
// every type and range and returns an error naming the field; malformed bytes never throw.
#include <string>
#include <string_view>

#include "engine/result.hpp"
#include "engine/serve/generate_request.hpp"
#include "engine/serve/step_plan.hpp"
#include "net/wire/messages.hpp"

namespace troupe::wire {

// Defined for: EngineRequest, TokenDelta, ReplicaStats, SubmitReply, RequestFailure,
// WorkerStatus, HealthReport, JoinRequest, JoinReply, NodeStatus, ClusterStatus, StepPlan,
// StepResult, GenerateRequest, GenerationChunk, GenerationEnd.
template <typename Message>
std::string encode(const Message& message);

template <typename Message>
Result<Message> decode(std::string_view bytes);

}  // namespace troupe::wire
