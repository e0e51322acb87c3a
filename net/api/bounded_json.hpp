#pragma once
// Every JSON text troupe reads from outside — request bodies, a front's answers to the CLI, a
// peer's server-sent events — is parsed here, with its nesting bounded before it is parsed:
// nlohmann's values copy, compare and destroy themselves recursively, so 150,000 levels of '['
// would overflow the stack of whichever thread touches the value.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace troupe::api {

// Deeper than any real request (OpenAI's own bodies nest a handful of levels; JSON Schemas in
// response_format a few dozen) and far below what a thread's stack survives.
inline constexpr int kMaxJsonDepth = 128;

// The parsed value, or an error to follow "the request body is ...": "nested deeper than the
// limit of 128 levels ..." or "not valid JSON: <the parser's complaint>".
Result<nlohmann::json> parse_bounded_json(std::string_view text, int max_depth = kMaxJsonDepth);

// For readers that only need to know it is not usable JSON: the value, or a discarded one
// (is_discarded()) when `text` is not JSON or nests too deep.
nlohmann::json parse_bounded_json_or_discarded(std::string_view text);

// Objects whose key order matters (JSON Schemas, tools, a response's input) are parsed again
// as nlohmann's ordered_json, which finds a key by a linear scan: an object of n keys costs n^2
// (80,000 keys took 5.6 s on the HTTP thread). Such a part may hold objects of at most this many
// keys (widest_object, on the body's first parse), and only that part is parsed again.
inline constexpr size_t kMostOrderedKeys = 10000;

// An error for `param` (empty: the whole body) when `value`, its first parse, holds an object
// of more than kMostOrderedKeys keys; or nothing.
std::optional<std::string> too_wide_to_order(const nlohmann::json& value, const std::string& param);

// `body`'s top-level member `name` in key order (null when absent): the body parsed again with
// every other top-level member skipped, not stored. `body` was parsed once already.
nlohmann::ordered_json ordered_member(std::string_view body, std::string_view name);

// The nesting depth of `text`'s arrays and objects, counting no further than `stop_at` (so a
// check costs at most one pass whatever the input). Brackets inside strings do not count.
int json_nesting_depth(std::string_view text, int stop_at);

}  // namespace troupe::api
