#pragma once
// What a generation call reserves against its key's tokens-per-minute limit when it is admitted:
// its prompts (estimated from their text, as OpenAI estimates from characters) and the most
// tokens it may generate. Reserving up front is what keeps a burst of concurrent requests from
// overshooting the limit; the call settles to what it really used when it ends.
#include <vector>

#include "engine/serve/generate_request.hpp"

namespace troupe::api {

// Tokens the requests of one call may use at most: for each, its prompt (token ids counted,
// text at 4 bytes a token, rounded up) and n samples of up to max_tokens, each bounded by what
// the context leaves after the prompt.
int64_t token_reservation(const std::vector<GenerateRequest>& requests, int max_model_len);

}  // namespace troupe::api
