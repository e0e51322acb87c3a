#include "engine/tokenizer/tokenizer.hpp"

#include <algorithm>
#include <climits>
#include <optional>

#include "engine/tokenizer/bpe_model.hpp"
#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/pre_tokenizer.hpp"
#include "engine/tokenizer/special_token_splitter.hpp"
#include "engine/tokenizer/spm_model.hpp"
#include "engine/tokenizer/text_map.hpp"
#include "engine/tokenizer/unicode.hpp"

namespace troupe {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit = s.find(from); hit != std::string::npos; hit = s.find(from, pos)) {
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos);
  s.swap(out);
}

bool is_special_type(TokenType t) {
  return t == TokenType::kControl || t == TokenType::kUnknown;
}

// The byte of a "<0xXX>" token.
std::string byte_token_bytes(std::string_view text) {
  if (text.size() < 6) return {};
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(text[3]);
  const int lo = hex(text[4]);
  // strtol stops at the first non-hex digit (and gives 0 for none), as llama.cpp's parse does.
  const int value = hi < 0 ? 0 : lo < 0 ? hi : hi * 16 + lo;
  return std::string(1, static_cast<char>(value));
}

// A byte-level token text back to bytes; characters outside the alphabet come out the way
// llama.cpp's llama_decode_text spells them.
std::string byte_level_bytes(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const uint32_t cpt = unicode::decode_lenient(text, pos);
    const int byte = byte_level::decode(cpt);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
      continue;
    }
    std::string utf8;
    unicode::append_utf8(utf8, cpt);
    static constexpr char kHex[] = "0123456789abcdef";
    out += "[UNK_BYTE_0x";
    for (char c : utf8) {
      out.push_back(kHex[static_cast<uint8_t>(c) >> 4]);
      out.push_back(kHex[static_cast<uint8_t>(c) & 15]);
    }
    out.append(text);
    out += "]";
  }
  return out;
}

// llama_detokenize's clean_spaces: " ?" " !" " ." " ," lose the space, " ' " loses both, and
// " 's" " 'm" " 're" " 've" lose theirs. Done in place over the buffer, like the original,
// because each pass reads bytes the previous iteration may have rewritten.
void clean_spaces(std::string& text) {
  int32_t total = static_cast<int32_t>(text.size());
  char* t = text.data();

  const int32_t total1 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total1; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }

  const int32_t total2 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total2; ++i) {
    const char x = t[i];
    if (x == '\'' && i + 1 < total2 && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';
    }
    t[total++] = x;
  }

  const int32_t total3 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total3; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  text.resize(total);
}

}  // namespace

struct Tokenizer::State {
  Vocabulary vocab;
  TextMap<int32_t> token_ids;  // every token text -> id (later duplicates win)
  PreTokenizerConfig pre;
  std::optional<BpeModel> bpe;
  std::optional<SpmModel> spm;
  std::optional<SpecialTokenSplitter> splitter;
  std::vector<std::string> rendered;  // per token, specials rendered as text

  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
};

void Tokenizer::State::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  // Words are cut on code points; merges then run on the bytes of the re-encoded text, where
  // every invalid byte has become U+FFFD, exactly as llama.cpp re-encodes.
  const std::vector<uint32_t> cpts = unicode::decode_lenient(text);
  const std::vector<size_t> words = pre_tokenize(pre.kind, cpts);
  std::string word;
  size_t cpt = 0;
  for (size_t len : words) {
    word.clear();
    for (size_t end = cpt + len; cpt < end; ++cpt) unicode::append_utf8(word, cpts[cpt]);
    bpe->encode_word(word, out);
  }
}

Result<Tokenizer> Tokenizer::create(Vocabulary vocab) {
  auto state = std::make_shared<State>();
  const size_t n = vocab.tokens.size();
  if (n == 0) return make_error("the vocabulary has no tokens");
  if (n > static_cast<size_t>(INT32_MAX)) return make_error("the vocabulary is too large");
  vocab.types.resize(n, TokenType::kNormal);
  if (!vocab.scores.empty()) vocab.scores.resize(n, 0.0f);
  // llama.cpp renames empty token texts so that no text maps to two ids by accident.
  for (size_t i = 0; i < n; ++i) {
    if (vocab.tokens[i].empty()) vocab.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
  }
  const auto in_range = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n; };
  if (vocab.add_bos && !in_range(vocab.bos_id)) {
    return make_error("the vocabulary asks to add a bos token but has none");
  }
  if (vocab.add_eos && !in_range(vocab.eos_id)) {
    return make_error("the vocabulary asks to add an eos token but has none");
  }
  std::sort(vocab.eog_ids.begin(), vocab.eog_ids.end());

  state->vocab = std::move(vocab);
  const Vocabulary& v = state->vocab;
  state->token_ids.reserve(n);
  for (size_t i = 0; i < n; ++i) state->token_ids[v.tokens[i]] = static_cast<int32_t>(i);

  if (v.model == TokenizerModel::kBpe) {
    auto pre = pre_tokenizer_config(v.pre);
    if (!pre) return pre.error();
    state->pre = *pre;
    state->bpe.emplace(v.tokens, v.merges, state->pre.ignore_merges);
  } else {
    state->pre.clean_spaces = false;
    state->spm.emplace(state->token_ids, v.scores, v.unk_id);
  }
  state->splitter.emplace(v);

  state->rendered.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = v.tokens[i];
    std::string& out = state->rendered[i];
    switch (v.types[i]) {
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUserDefined:
        out = text;
        break;
      case TokenType::kNormal:
        if (v.model == TokenizerModel::kBpe) {
          out = byte_level_bytes(text);
        } else {
          out = text;
          replace_all(out, kSpmSpace, " ");
        }
        break;
      case TokenType::kByte:
        out = byte_token_bytes(text);
        break;
      case TokenType::kUnused:
      case TokenType::kUndefined:
        break;  // llama.cpp renders these as nothing
    }
  }
  return Tokenizer(std::move(state));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const State& s = *state_;
  const Vocabulary& v = s.vocab;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  const std::vector<Fragment> fragments = s.splitter->split(text, parse_special);
  if (add_special && v.add_bos) out.push_back(v.bos_id);

  if (s.spm) {
    bool after_special = true;  // the start counts: SentencePiece prefixes a space there
    std::string escaped;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
        after_special = true;
        continue;
      }
      escaped.clear();
      if (v.add_space_prefix && after_special) escaped.push_back(' ');
      escaped.append(text.substr(f.offset, f.length));
      replace_all(escaped, " ", kSpmSpace);
      s.spm->encode(escaped, out);
      after_special = false;
    }
  } else {
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
      } else {
        s.encode_bpe(text.substr(f.offset, f.length), out);
      }
    }
  }

  if (add_special && v.add_eos) out.push_back(v.eos_id);
  return out;
}

std::string_view Tokenizer::render(int32_t id, bool skip_special) const {
  const State& s = *state_;
  if (id < 0 || static_cast<size_t>(id) >= s.rendered.size()) return {};
  if (skip_special && is_special_type(s.vocab.types[id])) return {};
  return s.rendered[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const State& s = *state_;
  const Vocabulary& v = s.vocab;
  // SentencePiece's prefix space comes off the first token, unless a BOS is dropped first.
  bool strip_space = v.add_space_prefix;
  if (skip_special && v.add_bos && !ids.empty() && ids.front() == v.bos_id) {
    strip_space = false;
    ids = ids.subspan(1);
  }
  if (skip_special && v.add_eos && !ids.empty() && ids.back() == v.eos_id) {
    ids = ids.first(ids.size() - 1);
  }
  std::string text;
  for (int32_t id : ids) {
    std::string_view piece = render(id, skip_special);
    if (strip_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    strip_space = false;
    text.append(piece);
  }
  if (s.pre.clean_spaces) clean_spaces(text);
  return text;
}

std::string_view Tokenizer::piece(int32_t id) const {
  const Vocabulary& v = state_->vocab;
  if (id < 0 || static_cast<size_t>(id) >= v.tokens.size()) return {};
  return v.tokens[id];
}

size_t Tokenizer::vocab_size() const {
  return state_->vocab.tokens.size();
}
bool Tokenizer::is_eog(int32_t id) const {
  return state_->vocab.is_eog(id);
}
int32_t Tokenizer::bos() const {
  return state_->vocab.bos_id;
}
int32_t Tokenizer::eos() const {
  return state_->vocab.eos_id;
}
const Vocabulary& Tokenizer::vocabulary() const {
  return state_->vocab;
}

}  // namespace troupe
