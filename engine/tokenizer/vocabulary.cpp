#include "engine/tokenizer/vocabulary.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <span>
#include <string_view>

#include "engine/gguf/gguf_file.hpp"
#include "engine/tokenizer/pre_tokenizer.hpp"

namespace troupe {
namespace {

using Names = std::span<const std::string_view>;

// Token texts llama.cpp recognises (llama_vocab::impl::load), where keys do not say.
constexpr std::string_view kEotNames[] = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
constexpr std::string_view kEomNames[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreNames[] = {"<|fim_prefix|>",  "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>",        "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufNames[] = {"<|fim_suffix|>",  "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>",  "<SUF>",        "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidNames[] = {"<|fim_middle|>",  "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>",   "<MID>",        "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadNames[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepNames[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepNames[] = {"<|file_sep|>"};
constexpr std::string_view kEogNames[] = {"<|eot_id|>",
                                          "<|im_end|>",
                                          "<|end|>",
                                          "<|return|>",
                                          "<|call|>",
                                          "<|flush|>",
                                          "<|calls|>",
                                          "<end_of_turn>",
                                          "<|endoftext|>",
                                          "</s>",
                                          "<|eom_id|>",
                                          "<EOT>",
                                          "_<EOT>",
                                          "[EOT]",
                                          "[EOS]",
                                          "<|end_of_text|>",
                                          "<end_of_utterance>",
                                          "<eos>",
                                          "<turn|>",
                                          "<|tool_response>",
                                          "<｜end▁of▁sentence｜>",
                                          "[e~["};
// gpt-oss chat markers llama.cpp always renders.
constexpr std::string_view kAlwaysRenderedNames[] = {"<|channel|>", "<|message|>", "<|start|>",
                                                     "<|constrain|>"};

bool is_one_of(std::string_view text, Names names) {
  return std::find(names.begin(), names.end(), text) != names.end();
}

void mark_control(Vocabulary& v, int32_t id) {
  // llama.cpp adds the control attribute to whatever the token was; wherever that matters the
  // control bit wins (an unknown token already behaves the same), so the type becomes control.
  if (v.types[id] != TokenType::kUnknown) v.types[id] = TokenType::kControl;
}

// The token named by the earliest of `names` that the vocabulary has (lowest id on ties).
// llama.cpp takes whichever its hash map yields first; name order picks the turn-ending token
// (<|eot_id|>, <|im_end|>) over <|endoftext|>, which is what its choice usually lands on.
int32_t find_by_name(const Vocabulary& v, Names names) {
  int32_t best = -1;
  size_t best_rank = names.size();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const size_t rank = std::find(names.begin(), names.end(), v.tokens[i]) - names.begin();
    if (rank < best_rank) {
      best_rank = rank;
      best = static_cast<int32_t>(i);
    }
  }
  return best;
}

const gguf::Array* find_array(const gguf::File& file, std::string_view key) {
  const gguf::Value* value = file.find(key);
  return value ? value->as_array() : nullptr;
}

Result<std::vector<std::string>> read_strings(const gguf::File& file, std::string_view key) {
  const gguf::Array* array = find_array(file, key);
  if (!array) return make_error(std::string(key) + " is missing or not an array");
  std::vector<std::string> out;
  out.reserve(array->size());
  for (const gguf::Value& v : *array) {
    const std::string* s = v.as_string();
    if (!s) return make_error(std::string(key) + " must be an array of strings");
    out.push_back(*s);
  }
  return out;
}

}  // namespace

bool Vocabulary::is_eog(int32_t id) const {
  return std::binary_search(eog_ids.begin(), eog_ids.end(), id);
}

bool Vocabulary::is_rstrip(int32_t id) const {
  return std::binary_search(rstrip_ids.begin(), rstrip_ids.end(), id);
}

void apply_special_token_rules(Vocabulary& v) {
  v.types.resize(v.tokens.size(), TokenType::kNormal);
  const auto detect = [&](int32_t& id, Names names) {
    if (id >= 0) return;
    id = find_by_name(v, names);
    if (id >= 0) mark_control(v, id);
  };
  detect(v.eot_id, kEotNames);
  detect(v.eom_id, kEomNames);
  detect(v.fim_pre_id, kFimPreNames);
  detect(v.fim_suf_id, kFimSufNames);
  detect(v.fim_mid_id, kFimMidNames);
  detect(v.fim_pad_id, kFimPadNames);
  detect(v.fim_rep_id, kFimRepNames);
  detect(v.fim_sep_id, kFimSepNames);

  std::vector<int32_t> eog;
  for (int32_t id : {v.fim_pad_id, v.fim_rep_id, v.fim_sep_id}) {
    if (id >= 0) eog.push_back(id);
  }
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const int32_t id = static_cast<int32_t>(i);
    if (is_one_of(v.tokens[i], kEogNames)) {
      eog.push_back(id);
      mark_control(v, id);
    }
    if (is_one_of(v.tokens[i], kAlwaysRenderedNames)) v.types[i] = TokenType::kUserDefined;
  }
  for (int32_t id : {v.eos_id, v.eot_id, v.eom_id}) {
    if (id >= 0) eog.push_back(id);
  }
  const int32_t n = static_cast<int32_t>(v.tokens.size());
  std::erase_if(eog, [&](int32_t id) { return id < 0 || id >= n; });
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

  const auto eog_with_text = [&](std::string_view text) {
    for (int32_t id : eog) {
      if (v.tokens[id] == text) return id;
    }
    return -1;
  };
  // gpt-oss and solar-open end a turn with <|end|> but keep generating: not EOG there.
  const int32_t end_id = eog_with_text("<|end|>");
  const bool has_return = eog_with_text("<|return|>") >= 0;
  const bool has_call = eog_with_text("<|call|>") >= 0 || eog_with_text("<|calls|>") >= 0;
  const bool has_flush = eog_with_text("<|flush|>") >= 0;
  if (end_id >= 0 && has_call && (has_return || has_flush)) {
    std::erase(eog, end_id);
    v.types[end_id] = TokenType::kUserDefined;
  }
  // Gemma 4 and PLaMo use </s> as an ordinary token.
  const int32_t s_id = eog_with_text("</s>");
  if (s_id >= 0 &&
      (eog_with_text("<|tool_response>") >= 0 || eog_with_text("<|plamo:eos|>") >= 0)) {
    std::erase(eog, s_id);
    v.types[s_id] = TokenType::kNormal;
  }
  v.eog_ids = std::move(eog);
}

Result<Vocabulary> load_vocabulary(const gguf::File& file) {
  Vocabulary v;
  const std::optional<std::string> model = file.get_string("tokenizer.ggml.model");
  if (!model) {
    return make_error("the model file has no tokenizer.ggml.model key; it carries no vocabulary");
  }
  std::optional<PreTokenizerConfig> pre_config;
  if (*model == "gpt2") {
    v.model = TokenizerModel::kBpe;
    v.pre = file.get_string("tokenizer.ggml.pre").value_or("");
    auto config = pre_tokenizer_config(v.pre);
    if (!config) return config.error();
    pre_config = *config;
    v.bos_id = 11;  // llama.cpp's defaults for BPE, dropped below if out of range
    v.eos_id = 11;
    v.add_bos = pre_config->add_bos;
  } else if (*model == "llama") {
    v.model = TokenizerModel::kSentencePiece;
    v.bos_id = 1;
    v.eos_id = 2;
    v.unk_id = 0;
    v.add_bos = true;
    v.add_space_prefix = true;
  } else {
    return make_error("unsupported tokenizer.ggml.model '" + *model +
                      "'; supported: gpt2 (byte-level BPE), llama (SentencePiece)");
  }
  if (auto flag = file.get_bool("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = *flag;

  auto tokens = read_strings(file, "tokenizer.ggml.tokens");
  if (!tokens) return tokens.error();
  v.tokens = std::move(*tokens);
  const size_t n = v.tokens.size();

  if (const gguf::Value* value = file.find("tokenizer.ggml.scores")) {
    const gguf::Array* array = value->as_array();
    if (!array || array->size() < n) {
      return make_error("tokenizer.ggml.scores must be an array with one score per token");
    }
    v.scores.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const std::optional<double> score = (*array)[i].as_float();
      if (!score) return make_error("tokenizer.ggml.scores must hold numbers");
      v.scores[i] = static_cast<float>(*score);
    }
  }

  v.types.assign(n, TokenType::kNormal);
  if (const gguf::Value* value = file.find("tokenizer.ggml.token_type")) {
    const gguf::Array* array = value->as_array();
    if (!array || array->size() < n) {
      return make_error("tokenizer.ggml.token_type must be an array with one type per token");
    }
    for (size_t i = 0; i < n; ++i) {
      const std::optional<int64_t> type = (*array)[i].as_int();
      if (!type) return make_error("tokenizer.ggml.token_type must hold integers");
      // Types outside 1..6 behave as undefined in llama.cpp (never rendered, never split).
      v.types[i] = *type >= 1 && *type <= 6 ? static_cast<TokenType>(*type) : TokenType::kUndefined;
    }
  }

  if (v.model == TokenizerModel::kBpe) {
    auto merges = read_strings(file, "tokenizer.ggml.merges");
    if (!merges)
      return make_error("byte-level BPE needs tokenizer.ggml.merges: " + merges.message());
    v.merges = std::move(*merges);
  }

  const auto read_id = [&](std::string_view key, int32_t& id) {
    if (id >= 0 && static_cast<size_t>(id) >= n) id = -1;
    const std::optional<int64_t> value = file.get_int(key);
    if (value && *value >= 0 && static_cast<size_t>(*value) < n) id = static_cast<int32_t>(*value);
  };
  read_id("tokenizer.ggml.bos_token_id", v.bos_id);
  read_id("tokenizer.ggml.eos_token_id", v.eos_id);
  read_id("tokenizer.ggml.eot_token_id", v.eot_id);
  read_id("tokenizer.ggml.eom_token_id", v.eom_id);
  read_id("tokenizer.ggml.unknown_token_id", v.unk_id);
  read_id("tokenizer.ggml.padding_token_id", v.pad_id);
  read_id("tokenizer.ggml.fim_pre_token_id", v.fim_pre_id);
  read_id("tokenizer.ggml.fim_suf_token_id", v.fim_suf_id);
  read_id("tokenizer.ggml.fim_mid_token_id", v.fim_mid_id);
  read_id("tokenizer.ggml.fim_pad_token_id", v.fim_pad_id);
  read_id("tokenizer.ggml.fim_rep_token_id", v.fim_rep_id);
  read_id("tokenizer.ggml.fim_sep_token_id", v.fim_sep_id);
  // Older files name the FIM ids differently.
  read_id("tokenizer.ggml.prefix_token_id", v.fim_pre_id);
  read_id("tokenizer.ggml.suffix_token_id", v.fim_suf_id);
  read_id("tokenizer.ggml.middle_token_id", v.fim_mid_id);

  if (auto flag = file.get_bool("tokenizer.ggml.add_bos_token")) v.add_bos = *flag;
  if (auto flag = file.get_bool("tokenizer.ggml.add_eos_token")) v.add_eos = *flag;
  if (v.add_bos && v.bos_id < 0) {
    return make_error("tokenizer.ggml.add_bos_token is true but the file names no bos token");
  }
  if (v.add_eos && v.eos_id < 0) {
    return make_error("tokenizer.ggml.add_eos_token is true but the file names no eos token");
  }

  apply_special_token_rules(v);

  // llama.cpp's per-model attribute: Phi-3's special tokens (except <unk>, <s> and
  // <|endoftext|>) and </s> eat the whitespace that follows them.
  std::string name = file.get_string("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& text = v.tokens[i];
      const TokenType t = v.types[i];
      const bool special = t == TokenType::kControl || t == TokenType::kUserDefined ||
                           t == TokenType::kUnknown || text == "</s>";
      if (special && text != "<unk>" && text != "<s>" && text != "<|endoftext|>") {
        v.rstrip_ids.push_back(static_cast<int32_t>(i));
      }
    }
  }
  return v;
}

}  // namespace troupe
