#pragma once
// The model a command runs: --model (or the cached default), with --chat-template's file in
// place of the GGUF's own template when given (vLLM's --chat-template, llama.cpp's
// --chat-template-file): a template that knows tools makes the server use the model's own
// tool-call syntax (net/api/tool_syntax.hpp).
#include "cli/flags.hpp"
#include "engine/model/model.hpp"

namespace troupe::cli {

inline FlagSpec chat_template_flag() {
  return {"chat-template", "FILE", "a Jinja chat template to use instead of the model's own"};
}

// Errors: the path's, the model's, or the template file's (unreadable).
Result<Model> load_model_for(const Flags& flags, const ShardSpec& shard = {});

}  // namespace troupe::cli
