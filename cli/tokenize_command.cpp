// troupe tokenize: a text's token ids as a JSON array.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "cli/model_store.hpp"
#include "engine/gguf/gguf_file.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/vocabulary.hpp"

namespace troupe::cli {

int tokenize_command(const Args& args) {
  const CommandSpec spec{
      "tokenize",
      "troupe tokenize [flags] TEXT",
      "Prints the token ids of TEXT as a JSON array. Special-token text such as <|im_start|>\n"
      "becomes its special token; the model's BOS token is added when the model asks for it.",
      {model_flag(),
       {"no-special", "", "add no BOS/EOS token"},
       {"no-parse-special", "", "treat special-token text as plain text"}}};
  Flags parsed;
  if (auto done = parse_flags(spec, args, parsed)) return *done;
  const Flags* flags = &parsed;
  if (flags->positional().size() != 1) {
    return input_error("give exactly one TEXT to tokenize (quote it; see troupe tokenize --help)");
  }
  auto path = resolve_model_path(flags->get("model").value_or(""));
  if (!path) return input_error(path.message());
  auto file = gguf::File::open(*path);
  if (!file) return input_error(file.message());
  auto vocabulary = load_vocabulary(**file);
  if (!vocabulary) return input_error("model file '" + *path + "': " + vocabulary.message());
  auto tokenizer = Tokenizer::create(std::move(*vocabulary));
  if (!tokenizer) return input_error("model file '" + *path + "': " + tokenizer.message());
  const auto ids = tokenizer->encode(flags->positional()[0], !flags->has("no-special"),
                                     !flags->has("no-parse-special"));
  std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  return 0;
}

}  // namespace troupe::cli
