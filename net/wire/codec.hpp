#pragma once
// msgpack encodings of the payloads in net/wire/messages.hpp. Each is an array
// [schema version, kind, body], the body a map from field names to values, so that a peer in any
// language can read it and a field added later is ignored by older readers. Decoding checks
// every type and range and returns an error naming the field; malformed bytes never throw.
#include <string>
#include <string_view>

#include "engine/result.hpp"
#include "net/wire/messages.hpp"

namespace troupe::wire {

std::string encode(const EngineRequest& x);
std::string encode(const TokenDelta& x);
std::string encode(const ReplicaStats& x);

Result<EngineRequest> decode_engine_request(std::string_view bytes);
Result<TokenDelta> decode_token_delta(std::string_view bytes);
Result<ReplicaStats> decode_replica_stats(std::string_view bytes);

}  // namespace troupe::wire
