#pragma once
// Text Generation Inference's request body for POST /generate and /generate_stream:
// {"inputs": "...", "parameters": {...}}, decoded and validated into an engine request. TGI's
// defaults: greedy unless do_sample or a temperature asks for sampling; 100 new tokens.
#include <optional>
#include <string_view>

#include "engine/serve/generate_request.hpp"
#include "net/api/api_error.hpp"
#include "net/api/openai_request.hpp"

namespace troupe::api {

struct TgiGeneration {
  GenerateRequest request;
  bool details = false;  // report per-token details in the answer
};

std::optional<ApiError> decode_tgi_request(std::string_view body, const ApiLimits& limits,
                                           TgiGeneration& out);

// TGI's error shape: {"error": message, "error_type": "validation" | "overloaded" | ...}.
std::string tgi_error_json(const ApiError& error);
// TGI answers validation errors with 422, not 400.
int tgi_status(const ApiError& error);

}  // namespace troupe::api
