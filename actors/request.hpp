#pragma once
// The request actor: one per request. Tokenizes (chat template first), submits to a scheduler,
// turns token deltas into text chunks (incremental detokenization, stop strings) for its
// client, enforces the deadline, and turns the client's disappearance into an abort at the
// scheduler, so the request's KV blocks are freed at once. Ends with one GenerationEnd.
#include <chrono>
#include <memory>

#include "actors/messages.hpp"
#include "engine/model/model.hpp"
#include "engine/serve/prompt_builder.hpp"

namespace troupe {

// What every request actor of a node shares, read-only.
struct RequestContext {
  const Model* model = nullptr;  // its tokenizer
  PromptBuilder prompts;
  std::chrono::milliseconds default_timeout{600000};  // --request-timeout
  int max_model_len = 0;  // prompts must be shorter; 0: left to the scheduler
};

// Sends the client GenerationChunks, then one GenerationEnd (with an error code when it failed).
caf::actor spawn_request(caf::actor_system& system, std::shared_ptr<const RequestContext> context,
                         GenerateRequest request, caf::actor scheduler, caf::actor client);

}  // namespace troupe
