#pragma once
// A text-level generation request as a server receives it (after the HTTP codecs), and what comes
// back: text chunks per sample as tokens arrive, then one end with usage or an error. The
// request actor turns one into the other around the engine.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/sample/sampler.hpp"
#include "engine/sample/sampling_params.hpp"

namespace troupe {

struct ChatTurn {
  ChatTurn() = default;
  ChatTurn(std::string r, std::string c, std::string calls = {}, std::string call_id = {})
      : role(std::move(r)),
        content(std::move(c)),
        tool_calls(std::move(calls)),
        tool_call_id(std::move(call_id)) {}
  std::string role;
  std::string content;
  // For templates that know tools: an assistant's calls as a JSON array in OpenAI's shape, and
  // the call a tool message answers. Empty: none.
  std::string tool_calls;
  std::string tool_call_id;
  bool operator==(const ChatTurn&) const = default;
};

// Exactly one of: messages (rendered with the model's chat template), prompt_tokens, prompt.
struct GenerateRequest {
  std::string id;
  std::vector<ChatTurn> messages;
  std::vector<int32_t> prompt_tokens;
  std::string prompt;
  std::string tools;  // with messages: the tools as a JSON array, for the chat template; or empty
  SamplingParams sampling;
  int32_t priority = 0;
  int64_t timeout_ms = 0;  // 0: the server's --request-timeout
  bool operator==(const GenerateRequest&) const = default;
};

// New output of one sample. `finish_reason` is empty until its last chunk: "stop" or "length".
struct GenerationChunk {
  std::string request_id;
  int32_t index = 0;
  std::string text;
  std::vector<SampledToken> tokens;  // the tokens behind this chunk, with their log-probabilities
  std::string finish_reason;
  // On the request's first chunk: its prompt's length in tokens, computed by then (0 on the
  // others). A client that leaves afterwards is still charged for it.
  int32_t prompt_tokens = 0;
  double queue_seconds = -1;     // on the first chunk: from arrival at the engine to its first step
  std::vector<float> embedding;  // an embedding request's vector (SamplingParams::pooling)
  bool operator==(const GenerationChunk&) const = default;
};

// Error codes a request can end with (empty: none), as machine-readable strings.
namespace request_error {
inline constexpr const char* kInvalid = "invalid_request";  // bad prompt or parameters
inline constexpr const char* kContextLength = "context_length_exceeded";  // prompt too long
inline constexpr const char* kOverloaded = "overloaded";       // the waiting queue is full
inline constexpr const char* kDraining = "draining";           // the node stopped admitting
inline constexpr const char* kTimeout = "timeout";             // the deadline passed
inline constexpr const char* kWorkerFailed = "worker_failed";  // the model worker crashed
inline constexpr const char* kUnavailable = "unavailable";     // no scheduler to serve it
}  // namespace request_error

// The last message of a request: usage, and an error when it did not complete.
struct GenerationEnd {
  std::string request_id;
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;  // over all samples
  std::string error;              // a request_error code, empty on success
  std::string message;            // what went wrong, for people
  bool operator==(const GenerationEnd&) const = default;
};

}  // namespace troupe
