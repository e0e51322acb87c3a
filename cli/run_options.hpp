#pragma once
// Flags shared by the commands that run the model (generate, chat): which model, how many
// threads, and the sampling parameters.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/flags.hpp"
#include "engine/model/model.hpp"
#include "engine/model/transformer.hpp"
#include "engine/result.hpp"
#include "engine/sample/sampling_params.hpp"
#include "engine/serve/prompt_builder.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe::cli {

// --model, --threads and the sampling flags, for a command's flag list.
std::vector<FlagSpec> run_flags();

// A loaded model with its thread pool, forward pass and the flags' sampling parameters
// (llama.cpp's CLI defaults: temperature 0.8, top-p 0.95, top-k 40).
struct LoadedRuntime {
  Model model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Transformer> transformer;
  SamplingParams sampling;
};
Result<std::unique_ptr<LoadedRuntime>> load_runtime(const Flags& flags);

// Tokens of a chat conversation rendered with the model's template.
Result<std::vector<int32_t>> chat_prompt_tokens(const Model& model,
                                                const std::vector<ChatTurn>& conversation);

}  // namespace troupe::cli
