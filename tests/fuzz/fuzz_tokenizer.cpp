// libFuzzer entry point for the tokenizer: arbitrary bytes are encoded (with every flag
// combination), decoded back and streamed through IncrementalDecoder, checking that ids stay
// in range, that text round-trips, and that streaming equals decoding.
//
// The first input byte picks the tokenizer and flags; the rest is the text. Tokenizers: the
// default model's vocabulary when it is cached ($TROUPE_HOME or ~/.cache/troupe), any GGUF
// files listed in $TROUPE_FUZZ_VOCABS (colon-separated), and small built-in BPE (each
// pre-tokenizer) and SentencePiece vocabularies.
//
//   make fuzz FUZZ_SECONDS=300    (builds tests/fuzz/* with clang and runs each)
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/gguf/gguf_file.hpp"
#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/incremental_decoder.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/unicode.hpp"
#include "tests/support/synthetic_vocab.hpp"

using namespace troupe;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
  std::abort();
}

Tokenizer must(Result<Tokenizer> t) {
  if (!t) fail(t.message().c_str());
  return std::move(*t);
}

std::string spell(std::string_view raw) {
  std::string out;
  byte_level::append_encoded(out, raw);
  return out;
}

Tokenizer builtin_bpe(const std::string& pre) {
  Vocabulary v;
  v.pre = pre;
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(byte_level::encode(static_cast<uint8_t>(b)));
  const std::vector<std::pair<std::string, std::string>> merges = {
      {" ", "t"},       {"h", "e"}, {" t", "he"}, {"i", "n"},   {"a", "n"}, {" ", "a"}, {"e", "r"},
      {"\xC3", "\xA9"}, {"1", "2"}, {"12", "3"},  {"\n", "\n"}, {" ", " "}, {"'", "s"}};
  for (const auto& [l, r] : merges) {
    v.merges.push_back(spell(l) + " " + spell(r));
    v.tokens.push_back(spell(l + r));
  }
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    v.tokens.emplace_back(special);
    v.types.push_back(TokenType::kControl);
  }
  v.tokens.emplace_back("<tool>");
  v.types.push_back(TokenType::kUserDefined);
  v.bos_id = static_cast<int32_t>(v.tokens.size()) - 3;
  v.eos_id = v.bos_id + 1;
  v.add_bos = true;
  apply_special_token_rules(v);
  return must(Tokenizer::create(std::move(v)));
}

Tokenizer builtin_spm() {
  std::vector<std::pair<std::string, float>> pieces;
  float score = -1;
  for (const char* p : {"\xE2\x96\x81", "a", "b", "e", "h", "l", "o", "t", "\xE2\x96\x81t", "he",
                        "\xE2\x96\x81the", "ll", "llo", "\xC3\xA9", "\xE2\x96\x81\xE2\x96\x81"}) {
    pieces.emplace_back(p, score -= 0.5f);
  }
  return must(Tokenizer::create(test::spm_vocab(pieces)));
}

void add_file(std::vector<Tokenizer>& out, const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return;
  auto vocab = load_vocabulary(**file);
  if (!vocab) return;
  auto t = Tokenizer::create(std::move(*vocab));
  if (t) out.push_back(std::move(*t));
}

const std::vector<Tokenizer>& tokenizers() {
  static const std::vector<Tokenizer> all = [] {
    std::vector<Tokenizer> t;
    const char* home = std::getenv("TROUPE_HOME");
    const char* user = std::getenv("HOME");
    const std::string root =
        home && *home ? home : std::string(user && *user ? user : ".") + "/.cache/troupe";
    add_file(t, root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if (const char* extra = std::getenv("TROUPE_FUZZ_VOCABS")) {
      std::string_view list = extra;
      while (!list.empty()) {
        const size_t colon = list.find(':');
        add_file(t, std::string(list.substr(0, colon)));
        list = colon == std::string_view::npos ? "" : list.substr(colon + 1);
      }
    }
    for (const char* pre : {"smollm", "gpt-2", "llama-bpe", "qwen2", "qwen35", "default"}) {
      t.push_back(builtin_bpe(pre));
    }
    t.push_back(builtin_spm());
    std::fprintf(stderr, "fuzz_tokenizer: %zu tokenizers\n", t.size());
    return t;
  }();
  return all;
}

// Which bytes a byte-level vocabulary can spell (SmolLM2 has no token for some control bytes;
// llama.cpp drops those bytes, and so do we).
const std::vector<std::array<bool, 256>>& spellable_bytes() {
  static const std::vector<std::array<bool, 256>> all = [] {
    std::vector<std::array<bool, 256>> out;
    for (const Tokenizer& t : tokenizers()) {
      std::unordered_set<std::string_view> texts;
      for (size_t i = 0; i < t.vocab_size(); ++i) texts.insert(t.piece(static_cast<int32_t>(i)));
      std::array<bool, 256> has{};
      for (int b = 0; b < 256; ++b)
        has[b] = texts.count(byte_level::encode(static_cast<uint8_t>(b)));
      out.push_back(has);
    }
    return out;
  }();
  return all;
}

// The text byte-level BPE round-trips to: every byte that starts no valid sequence becomes
// U+FFFD (llama.cpp re-encodes code points), and bytes without a token vanish.
std::string relaxed(std::string_view text, const std::array<bool, 256>& spellable) {
  std::string utf8;
  for (uint32_t cpt : unicode::decode_lenient(text)) unicode::append_utf8(utf8, cpt);
  std::string out;
  for (char c : utf8) {
    if (spellable[static_cast<uint8_t>(c)]) out.push_back(c);
  }
  return out;
}

std::string sanitized(std::string_view bytes) {
  std::string out;
  unicode::append_sanitized(out, bytes);
  return out;
}

std::string stream(const Tokenizer& t, const std::vector<int32_t>& ids, bool skip_special) {
  IncrementalDecoder decoder(t, skip_special);
  std::string out;
  for (int32_t id : ids) {
    const std::string part = decoder.push(id);
    if (sanitized(part) != part) fail("incremental decoder emitted invalid UTF-8");
    if (decoder.pending_bytes() > 3) fail("incremental decoder holds more than 3 bytes");
    out += part;
  }
  const std::string tail = decoder.flush();
  if (sanitized(tail) != tail) fail("flush emitted invalid UTF-8");
  return out + tail;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<Tokenizer>& all = tokenizers();
  const uint8_t selector = data[0];
  const size_t which = (selector & 0x0F) % all.size();
  const Tokenizer& t = all[which];
  const bool add_special = selector & 0x10;
  const bool parse_special = selector & 0x20;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Vocabulary& v = t.vocabulary();

  const std::vector<int32_t> ids = t.encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= t.vocab_size()) fail("id out of range");
  }

  // Round trip of plain text (no specials parsed or added). Vocabularies that clean spaces
  // on decode lose them by design; SentencePiece turns a literal U+2581 into a space.
  // (Phi-3's special tokens eat the spaces after them, so keep its vocabulary out of here.)
  const std::vector<int32_t> plain = t.encode(text, false, false);
  const std::string back = t.decode(plain);
  const bool cleans =
      v.model == TokenizerModel::kBpe && v.pre != "smollm" && v.pre != "qwen2" && v.pre != "qwen35";
  if (v.model == TokenizerModel::kBpe && !cleans &&
      back != relaxed(text, spellable_bytes()[which])) {
    fail("BPE decode(encode(text)) != text");
  }
  // SentencePiece splits characters by lead byte alone, so in invalid UTF-8 an escaped space
  // can be cut into byte tokens (as in llama.cpp); only valid text must come back.
  if (v.model == TokenizerModel::kSentencePiece && sanitized(text) == text &&
      text.find("\xE2\x96\x81") == std::string_view::npos && back != text) {
    fail("SentencePiece decode(encode(text)) != text");
  }

  // Streaming equals decoding, whole and sanitized.
  for (bool skip : {false, true}) {
    const std::string streamed = stream(t, ids, skip);
    if (!cleans || v.model == TokenizerModel::kSentencePiece) {
      if (streamed != sanitized(t.decode(ids, skip)) &&
          !(skip && v.add_eos && !ids.empty() && ids.back() == v.eos_id)) {
        fail("streamed text differs from decode()");
      }
    }
  }
  return 0;
}
