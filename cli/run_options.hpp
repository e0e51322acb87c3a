#pragma once
// Flags shared by the commands that run the model (generate, chat): which model, on which device
// with how many threads, and the sampling parameters.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/device_options.hpp"
#include "cli/flags.hpp"
#include "engine/model/model.hpp"
#include "engine/result.hpp"
#include "engine/sample/sampling_params.hpp"
#include "engine/serve/engine.hpp"
#include "engine/serve/prompt_builder.hpp"

namespace troupe::cli {

// --model, --device, --threads and the sampling flags, for a command's flag list.
std::vector<FlagSpec> run_flags();

// A loaded model, the device to run it on and the flags' sampling parameters (llama.cpp's CLI
// defaults: temperature 0.8, top-p 0.95, top-k 40).
struct LoadedRuntime {
  Model model;
  DeviceOptions device;
  SamplingParams sampling;
};
Result<std::unique_ptr<LoadedRuntime>> load_runtime(const Flags& flags);

// The batching engine over the runtime's model and device, sized for one request at a time
// (single_request_config), for run_single_request.
Result<std::unique_ptr<Engine>> single_request_engine(const LoadedRuntime& runtime);

// Tokens of a chat conversation rendered with the model's template.
Result<std::vector<int32_t>> chat_prompt_tokens(const Model& model,
                                                const std::vector<ChatTurn>& conversation);

}  // namespace troupe::cli
