#include "cli/run_options.hpp"

#include "cli/model_loading.hpp"
#include "cli/model_store.hpp"
#include "engine/chat/chat_template.hpp"
#include "engine/serve/single_request.hpp"

namespace troupe::cli {
namespace {

Result<SamplingParams> sampling_from_flags(const Flags& flags, int vocab_size) {
  SamplingParams p;
  auto number = [&](const char* name, double fallback, auto& out) -> Status {
    auto v = flags.get_double(name, fallback);
    if (!v) return v.error();
    out = static_cast<std::decay_t<decltype(out)>>(*v);
    return Ok{};
  };
  auto integer = [&](const char* name, long long fallback, auto& out) -> Status {
    auto v = flags.get_int(name, fallback);
    if (!v) return v.error();
    if (*v < -(1ll << 31) || *v > (1ll << 31) - 1) {
      return make_error("flag --" + std::string(name) + " is out of range");
    }
    out = static_cast<std::decay_t<decltype(out)>>(*v);
    return Ok{};
  };
  for (const Status& s : {number("temperature", 0.8, p.temperature), number("top-p", 0.95, p.top_p),
                          integer("top-k", 40, p.top_k), number("min-p", 0.0, p.min_p),
                          number("repetition-penalty", 1.0, p.repetition_penalty),
                          number("presence-penalty", 0.0, p.presence_penalty),
                          number("frequency-penalty", 0.0, p.frequency_penalty),
                          integer("max-tokens", 256, p.max_tokens)}) {
    if (!s) return s.error();
  }
  if (flags.has("seed")) {
    auto seed = flags.get_int("seed", 0);
    if (!seed) return seed.error();
    p.seed = static_cast<uint64_t>(*seed);
  }
  p.stop = flags.get_all("stop");
  p.ignore_eos = flags.has("ignore-eos");
  if (auto s = validate(p, vocab_size); !s) return s.error();
  return p;
}

}  // namespace

std::vector<FlagSpec> run_flags() {
  std::vector<FlagSpec> flags{model_flag(), chat_template_flag()};
  for (FlagSpec& f : device_flags()) flags.push_back(std::move(f));
  for (FlagSpec& f : std::vector<FlagSpec>{
           {"max-tokens", "N", "most tokens to generate (default 256)"},
           {"temperature", "F", "sampling temperature, 0 for greedy (default 0.8)"},
           {"top-p", "F", "nucleus sampling mass in (0, 1] (default 0.95)"},
           {"top-k", "N", "sample from the N most likely tokens, 0 for all (default 40)"},
           {"min-p", "F", "drop tokens below F times the top probability (default 0)"},
           {"repetition-penalty", "F", "penalty for tokens already seen, 1 for none (default 1)"},
           {"presence-penalty", "F", "in [-2, 2] (default 0)"},
           {"frequency-penalty", "F", "in [-2, 2] (default 0)"},
           {"seed", "N", "random seed: the same seed gives the same output"},
           {"stop", "TEXT", "stop when TEXT is generated (repeatable)", true},
           {"ignore-eos", "", "keep generating past the end-of-sequence token"},
       }) {
    flags.push_back(std::move(f));
  }
  return flags;
}

Result<std::unique_ptr<LoadedRuntime>> load_runtime(const Flags& flags) {
  auto device = device_options(flags);
  if (!device) return device.error();
  auto model = load_model_for(flags);
  if (!model) return model.error();
  auto sampling = sampling_from_flags(flags, model->config.vocab_size);
  if (!sampling) return sampling.error();
  return std::make_unique<LoadedRuntime>(
      LoadedRuntime{std::move(*model), *device, std::move(*sampling)});
}

Result<std::unique_ptr<Engine>> single_request_engine(const LoadedRuntime& runtime) {
  const Model* model = &runtime.model;
  return Engine::create(
      *model, single_request_config(model->config),
      [model](int32_t token) { return model->tokenizer.is_eog(token); }, runtime.device);
}

Result<std::vector<int32_t>> chat_prompt_tokens(const Model& model,
                                                const std::vector<ChatTurn>& conversation) {
  auto builder = PromptBuilder::create(model);
  if (!builder) return builder.error();
  return builder->chat(conversation);
}

}  // namespace troupe::cli
