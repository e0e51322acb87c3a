// The tokenizer: Unicode tables, pre-tokenizer splits, BPE and SentencePiece merges, special
// tokens, detokenization and streaming, on small hand-built vocabularies; then the default
// model's vocabulary against ids recorded with llama.cpp (tests/fixtures/reference).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.hpp"
#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/incremental_decoder.hpp"
#include "engine/tokenizer/pre_tokenizer.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/unicode.hpp"
#include "engine/tokenizer/vocabulary.hpp"
#include "tests/support/default_model.hpp"
#include "tests/support/gguf_writer.hpp"
#include "tests/support/synthetic_vocab.hpp"

using namespace troupe;
using test::spm_vocab;

namespace {

using Strings = std::vector<std::string>;
using Ids = std::vector<int32_t>;

std::string spell(std::string_view raw) {
  std::string out;
  byte_level::append_encoded(out, raw);
  return out;
}

// A byte-level BPE vocabulary: ids 0..255 are the bytes, then one token per merge result (raw
// text, merges given as raw "left right" pairs), then `specials`.
Vocabulary bpe_vocab(std::string pre,
                     const std::vector<std::pair<std::string, std::string>>& merges,
                     const std::vector<std::pair<std::string, TokenType>>& specials = {}) {
  Vocabulary v;
  v.model = TokenizerModel::kBpe;
  v.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(byte_level::encode(static_cast<uint8_t>(b)));
  for (const auto& [l, r] : merges) {
    v.merges.push_back(spell(l) + " " + spell(r));
    const std::string joined = spell(l + r);
    if (std::find(v.tokens.begin(), v.tokens.end(), joined) == v.tokens.end()) {
      v.tokens.push_back(joined);
    }
  }
  v.types.assign(v.tokens.size(), TokenType::kNormal);
  for (const auto& [text, type] : specials) {
    v.tokens.push_back(text);
    v.types.push_back(type);
  }
  apply_special_token_rules(v);
  return v;
}

Tokenizer make(Vocabulary v) {
  auto t = Tokenizer::create(std::move(v));
  REQUIRE(t.ok());
  return std::move(*t);
}

int32_t id_of(const Tokenizer& t, std::string_view text) {
  for (size_t i = 0; i < t.vocab_size(); ++i) {
    if (t.piece(static_cast<int32_t>(i)) == text) return static_cast<int32_t>(i);
  }
  FAIL("no token " << text);
  return -1;
}

// What each id stands for, to compare against readable expectations.
Strings bytes_of(const Tokenizer& t, const Ids& ids) {
  Strings out;
  for (int32_t id : ids) out.push_back(t.token_bytes(id));
  return out;
}

Strings words(PreTokenizerKind kind, std::string_view text) {
  const std::vector<uint32_t> cpts = unicode::decode_lenient(text);
  Strings out;
  size_t at = 0;
  for (size_t len : pre_tokenize(kind, cpts)) {
    std::string w;
    for (size_t i = at; i < at + len; ++i) unicode::append_utf8(w, cpts[i]);
    out.push_back(w);
    at += len;
  }
  REQUIRE(at == cpts.size());
  return out;
}

std::string stream(const Tokenizer& t, const Ids& ids, bool skip_special = true) {
  IncrementalDecoder decoder(t, skip_special);
  std::string out;
  for (int32_t id : ids) {
    const std::string part = decoder.push(id);
    // Every piece handed out is complete UTF-8 on its own.
    std::string clean;
    unicode::append_sanitized(clean, part);
    REQUIRE(clean == part);
    out += part;
  }
  return out + decoder.flush();
}

}  // namespace

TEST_CASE("unicode: categories come from the Unicode 15.1 tables", "[tokenizer]") {
  using namespace unicode;
  CHECK(flags('a') == kLetter);
  CHECK(flags('7') == kNumber);
  CHECK(flags(' ') == (kSeparator | kWhitespace));
  CHECK(flags('\n') == (kControl | kWhitespace));
  CHECK(flags(0x00E9) == kLetter);       // é
  CHECK(flags(0x0663) == kNumber);       // Arabic-Indic three
  CHECK(flags(0x00BD) == kNumber);       // ½ (No)
  CHECK(flags(0x0301) == kMark);         // combining acute
  CHECK(flags(0x20AC) == kSymbol);       // €
  CHECK(flags(0x00A1) == kPunctuation);  // ¡
  CHECK(flags(0x3000) == (kSeparator | kWhitespace));
  CHECK(flags(0x0085) == (kControl | kWhitespace));
  CHECK(flags(0x200B) == kControl);    // zero-width space: Cf, not White_Space
  CHECK(flags(0x1F600) == kSymbol);    // 😀
  CHECK(flags(0x2FFC) == kSymbol);     // new in Unicode 15.1
  CHECK(flags(0x0378) == kUndefined);  // unassigned
  CHECK(flags(0x110000) == kUndefined);
}

TEST_CASE("unicode: lenient decoding matches llama.cpp, bad bytes become U+FFFD", "[tokenizer]") {
  using unicode::decode_lenient;
  CHECK(decode_lenient("h\xC3\xA9") == std::vector<uint32_t>{'h', 0xE9});
  CHECK(decode_lenient("\xF0\x9F\x98\x80") == std::vector<uint32_t>{0x1F600});
  CHECK(decode_lenient("\x80z") == std::vector<uint32_t>{0xFFFD, 'z'});
  CHECK(decode_lenient("\xE2\x82") == std::vector<uint32_t>{0xFFFD, 0xFFFD});
  CHECK(decode_lenient("\xFF") == std::vector<uint32_t>{0xFFFD});
  // Overlong forms and surrogates pass, as in llama.cpp; past U+10FFFF does not.
  CHECK(decode_lenient("\xC1\x81") == std::vector<uint32_t>{'A'});
  CHECK(decode_lenient("\xED\xA0\x80") == std::vector<uint32_t>{0xD800});
  CHECK(decode_lenient("\xF4\x90\x80\x80").front() == 0xFFFD);

  std::string clean;
  unicode::append_sanitized(clean,
                            "a\xE2\x82"
                            "b\xF0\x9F\x98\x80\xC0");
  CHECK(clean ==
        "a\xEF\xBF\xBD"
        "b\xF0\x9F\x98\x80\xEF\xBF\xBD");
}

TEST_CASE("byte_level: GPT-2's byte alphabet round-trips every byte", "[tokenizer]") {
  CHECK(byte_level::encode(' ') == "\xC4\xA0");   // Ġ
  CHECK(byte_level::encode('\n') == "\xC4\x8A");  // Ċ
  CHECK(byte_level::encode('a') == "a");
  for (int b = 0; b < 256; ++b) {
    const auto spelled = unicode::decode_lenient(byte_level::encode(static_cast<uint8_t>(b)));
    REQUIRE(spelled.size() == 1);
    CHECK(byte_level::decode(spelled[0]) == b);
  }
  CHECK(byte_level::decode(0x2581) == -1);
}

// Expected splits are what the tokenizers' original regexes give (checked with Python's
// `regex` module), which llama.cpp's hand-written splitters reproduce.
TEST_CASE("pre_tokenize: GPT-2 rule", "[tokenizer]") {
  const auto k = PreTokenizerKind::kGpt2;
  CHECK(words(k, "I'm DON'T you're") == Strings{"I", "'m", " DON", "'", "T", " you", "'re"});
  CHECK(words(k, "x  = 12345;\n\n  y") == Strings{"x", " ", " =", " 12345", ";", "\n\n ", " y"});
  CHECK(words(k, "naïve café 東京 2024年") == Strings{"naïve", " café", " 東京", " 2024", "年"});
  CHECK(words(k, "tab\there  \n end") == Strings{"tab", "\t", "here", "  \n", " end"});
  CHECK(words(k, "ab\r\n\r\ncd") == Strings{"ab", "\r\n\r", "\n", "cd"});
  CHECK(words(k, "€100 ½ ٣٤٥") == Strings{"€", "100", " ½", " ٣٤٥"});
  CHECK(words(k, "").empty());
}

TEST_CASE("pre_tokenize: SmolLM/StarCoder rule isolates every digit", "[tokenizer]") {
  const auto k = PreTokenizerKind::kSmollm;
  CHECK(words(k, "x  = 12345;\n\n  y") ==
        Strings{"x", " ", " =", " ", "1", "2", "3", "4", "5", ";", "\n\n ", " y"});
  CHECK(words(k, "€100 ½ ٣٤٥") == Strings{"€", "1", "0", "0", " ", "½", " ", "٣", "٤", "٥"});
  CHECK(words(k, "(hello) [world]!!") == Strings{"(", "hello", ")", " [", "world", "]!!"});
}

TEST_CASE("pre_tokenize: Llama-3 rule", "[tokenizer]") {
  const auto k = PreTokenizerKind::kLlama3;
  CHECK(words(k, "I'm DON'T you're") == Strings{"I", "'m", " DON", "'T", " you", "'re"});
  CHECK(words(k, "x  = 12345;\n\n  y") ==
        Strings{"x", " ", " =", " ", "123", "45", ";\n\n", " ", " y"});
  CHECK(words(k, "naïve café 東京 2024年") ==
        Strings{"naïve", " café", " 東京", " ", "202", "4", "年"});
  CHECK(words(k, "tab\there  \n end") == Strings{"tab", "\there", "  \n", " end"});
  CHECK(words(k, "(hello) [world]!!") == Strings{"(hello", ")", " [", "world", "]!!"});
  CHECK(words(k, "ab\r\n\r\ncd") == Strings{"ab", "\r\n\r\n", "cd"});
}

TEST_CASE("pre_tokenize: Qwen2 rule takes one digit at a time", "[tokenizer]") {
  const auto k = PreTokenizerKind::kQwen2;
  CHECK(words(k, "x  = 12345;\n\n  y") ==
        Strings{"x", " ", " =", " ", "1", "2", "3", "4", "5", ";\n\n", " ", " y"});
  CHECK(words(k, "€100 ½ ٣٤٥") == Strings{"€", "1", "0", "0", " ", "½", " ", "٣", "٤", "٥"});
  // Qwen3.5 keeps combining marks inside words.
  CHECK(words(k, "e\u0301t\u00E9") == Strings{"e", "\u0301t\u00E9"});
  CHECK(words(PreTokenizerKind::kQwen35, "e\u0301t\u00E9") == Strings{"e\u0301t\u00E9"});
}

TEST_CASE("pre_tokenize: llama.cpp's default rule", "[tokenizer]") {
  // Punctuation runs, then GPT-2 words, then number runs, then ASCII digit triples.
  CHECK(words(PreTokenizerKind::kDefault, "x+=12345 (a)") ==
        Strings{"x", "+=", "123", "45", " ", "(", "a", ")"});
}

TEST_CASE("pre_tokenizer_config: unknown types are refused with the supported list",
          "[tokenizer]") {
  CHECK(pre_tokenizer_config("smollm")->kind == PreTokenizerKind::kSmollm);
  CHECK(pre_tokenizer_config("llama-bpe")->ignore_merges);
  CHECK(pre_tokenizer_config("")->kind == PreTokenizerKind::kDefault);
  const auto bad = pre_tokenizer_config("klingon");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.message(), Catch::Contains("klingon") && Catch::Contains("llama-bpe") &&
                                Catch::Contains("qwen2") && Catch::Contains("smollm"));
}

TEST_CASE("bpe: merges apply lowest rank first, leftmost on ties", "[tokenizer]") {
  SECTION("rank decides") {
    const auto t1 = make(bpe_vocab("gpt-2", {{"b", "c"}, {"a", "b"}}));
    CHECK(bytes_of(t1, t1.encode("abc", false, false)) == Strings{"a", "bc"});
    const auto t2 = make(bpe_vocab("gpt-2", {{"a", "b"}, {"b", "c"}}));
    CHECK(bytes_of(t2, t2.encode("abc", false, false)) == Strings{"ab", "c"});
  }
  SECTION("ties go left to right, and merged symbols merge again") {
    const auto t = make(bpe_vocab("gpt-2", {{"a", "a"}, {"aa", "aa"}}));
    CHECK(bytes_of(t, t.encode("aaaaa", false, false)) == Strings{"aaaa", "a"});
    CHECK(bytes_of(t, t.encode("aaa", false, false)) == Strings{"aa", "a"});
  }
  SECTION("merges never cross words, spaces are bytes like any other") {
    const auto t = make(bpe_vocab("gpt-2", {{" ", "h"}, {" h", "i"}, {"h", "i"}}));
    CHECK(bytes_of(t, t.encode("hi hi", false, false)) == Strings{"hi", " hi"});
    CHECK(t.decode(t.encode("hi hi", false, false)) == "hi hi");
  }
  SECTION("invalid UTF-8 is merged as U+FFFD") {
    const auto t = make(bpe_vocab("gpt-2", {}));
    CHECK(bytes_of(t, t.encode("a\xFF", false, false)) == Strings{"a", "\xEF", "\xBF", "\xBD"});
  }
}

TEST_CASE("bpe: Llama-3 emits a word that is a token whole, ignoring merges", "[tokenizer]") {
  // "abc" is a token, but no merge sequence reaches it.
  const auto t = make(bpe_vocab("llama-bpe", {{"a", "b"}}, {{spell("abc"), TokenType::kNormal}}));
  CHECK(bytes_of(t, t.encode("abc", false, false)) == Strings{"abc"});
  CHECK(bytes_of(t, t.encode("abcd", false, false)) == Strings{"ab", "c", "d"});
  auto gpt2 = bpe_vocab("gpt-2", {{"a", "b"}}, {{spell("abc"), TokenType::kNormal}});
  const auto t2 = make(gpt2);
  CHECK(bytes_of(t2, t2.encode("abc", false, false)) == Strings{"ab", "c"});
}

TEST_CASE("special tokens: control tokens need parse_special, user-defined ones do not",
          "[tokenizer]") {
  auto v = bpe_vocab("smollm", {},
                     {{"<|im_end|>", TokenType::kNormal},
                      {"<ctl>", TokenType::kControl},
                      {"<ctl>x", TokenType::kControl},
                      {"<user>", TokenType::kUserDefined}});
  const auto t = make(v);
  const int32_t im_end = id_of(t, "<|im_end|>");
  const int32_t ctl = id_of(t, "<ctl>");
  const int32_t ctlx = id_of(t, "<ctl>x");
  const int32_t user = id_of(t, "<user>");
  // <|im_end|> ends generation and so becomes a control token, as in llama.cpp.
  CHECK(t.vocabulary().type(im_end) == TokenType::kControl);
  CHECK(t.is_eog(im_end));

  const auto parsed = t.encode("a<ctl>b<user><|im_end|><ctl>x", false, true);
  CHECK(parsed == Ids{'a', ctl, 'b', user, im_end, ctlx});
  const auto plain = t.encode("a<ctl>b<user><|im_end|>", false, false);
  CHECK(std::count(plain.begin(), plain.end(), user) == 1);
  CHECK(std::count(plain.begin(), plain.end(), ctl) == 0);
  CHECK(std::count(plain.begin(), plain.end(), im_end) == 0);
  CHECK(t.decode(plain) == "a<ctl>b<user><|im_end|>");

  // Rendering: specials show unless skipped.
  CHECK(t.decode(parsed) == "a<ctl>b<user><|im_end|><ctl>x");
  CHECK(t.decode(parsed, /*skip_special=*/true) == "ab<user>");
}

TEST_CASE("add_special: BOS and EOS as the vocabulary asks", "[tokenizer]") {
  auto v = bpe_vocab("gpt-2", {}, {{"<s>", TokenType::kControl}, {"</s>", TokenType::kControl}});
  v.bos_id = id_of(make(v), "<s>");
  v.eos_id = id_of(make(v), "</s>");
  v.add_bos = true;
  v.add_eos = true;
  apply_special_token_rules(v);
  const auto t = make(v);
  CHECK(t.encode("hi", true, false) == Ids{v.bos_id, 'h', 'i', v.eos_id});
  CHECK(t.encode("hi", false, false) == Ids{'h', 'i'});
  CHECK(t.encode("", true, false) == Ids{v.bos_id, v.eos_id});
  CHECK(t.decode(Ids{v.bos_id, 'h', 'i', v.eos_id}, true) == "hi");
  CHECK(t.is_eog(v.eos_id));

  v.add_bos = true;
  v.bos_id = -1;
  CHECK_FALSE(Tokenizer::create(v).ok());
}

TEST_CASE("decode: GPT-2 style vocabularies clean spaces before punctuation", "[tokenizer]") {
  const auto t = make(bpe_vocab("gpt-2", {}));
  CHECK(t.decode(t.encode("a , b . c 's d ' e", false, false)) == "a, b. c's d'e");
  const auto smol = make(bpe_vocab("smollm", {}));  // SmolLM keeps text as is
  CHECK(smol.decode(smol.encode("a , b . c 's", false, false)) == "a , b . c 's");
  CHECK(t.decode(Ids{-1, 5000, 'x'}) == "x");  // unknown ids render as nothing
}

TEST_CASE("spm: spaces become U+2581, a prefix space is added, scores pick merges", "[tokenizer]") {
  auto v = spm_vocab({{"\xE2\x96\x81", -1},       // ▁
                      {"\xE2\x96\x81h", -2},      // ▁h
                      {"\xE2\x96\x81he", -3},     // ▁he
                      {"\xE2\x96\x81hello", -1},  // ▁hello
                      {"h", -5},
                      {"e", -5},
                      {"l", -5},
                      {"o", -5},
                      {"w", -5},
                      {"r", -5},
                      {"d", -5},
                      {"ll", -4},
                      {"llo", -3},
                      {"hell", -9},
                      {"\xE2\x96\x81w", -4},
                      {"or", -4},
                      {"\xE2\x96\x81wor", -3},
                      {"ld", -4}});
  const auto t = make(v);
  const Ids ids = t.encode("hello world", true, false);
  CHECK(ids.front() == t.bos());
  CHECK(bytes_of(t, Ids(ids.begin() + 1, ids.end())) == Strings{" hello", " wor", "ld"});
  // decode drops the BOS and keeps its space, exactly like llama_detokenize; without BOS the
  // prefix space comes off.
  CHECK(t.decode(ids, true) == " hello world");
  CHECK(t.decode(Ids(ids.begin() + 1, ids.end())) == "hello world");
  CHECK(t.decode(ids) == "<s> hello world");
}

TEST_CASE("spm: byte fallback for characters without a piece, <unk> without a byte token",
          "[tokenizer]") {
  auto v = spm_vocab({{"\xE2\x96\x81", -1}, {"a", -2}});
  auto t = make(v);
  const Ids ids = t.encode("a\xC3\xA9", false, false);  // "aé"
  CHECK(bytes_of(t, ids) == Strings{" ", "a", "\xC3", "\xA9"});
  CHECK(t.piece(ids[2]) == "<0xC3>");
  CHECK(t.decode(ids) == "a\xC3\xA9");

  // Without byte tokens a missing byte falls back to <unk>.
  Vocabulary bare;
  bare.model = TokenizerModel::kSentencePiece;
  bare.tokens = {"<unk>", "\xE2\x96\x81", "a"};
  bare.types = {TokenType::kUnknown, TokenType::kNormal, TokenType::kNormal};
  bare.scores = {0, -1, -1};
  bare.unk_id = 0;
  bare.add_space_prefix = true;
  const auto tb = make(bare);
  CHECK(tb.encode("a\xC3\xA9", false, false) == Ids{1, 2, 0, 0});
}

TEST_CASE("spm: text after a special token gets the prefix space again", "[tokenizer]") {
  auto v = spm_vocab({{"\xE2\x96\x81", -1},
                      {"a", -2},
                      {"\xE2\x96\x81"
                       "a",
                       -1}});
  const auto t = make(v);
  const int32_t a = id_of(t,
                          "\xE2\x96\x81"
                          "a");
  CHECK(t.encode("a</s>a", false, true) == Ids{a, 2, a});
  CHECK(t.encode("a</s>a", false, false).size() > 3);  // </s> stays text
}

TEST_CASE("incremental decoder: never emits half a character", "[tokenizer]") {
  SECTION("an emoji split over byte-fallback tokens") {
    auto v = spm_vocab({{"\xE2\x96\x81", -1}, {"o", -2}, {"k", -2}, {"ok", -1}});
    const auto t = make(v);
    const Ids ids = t.encode("ok \xF0\x9F\x98\x80!", true, false);
    IncrementalDecoder d(t);
    std::string out;
    size_t empty_pushes = 0;
    for (int32_t id : ids) {
      const std::string part = d.push(id);
      if (part.empty()) ++empty_pushes;
      out += part;
    }
    out += d.flush();
    // Dropping the BOS keeps the prefix space, as llama_detokenize does.
    CHECK(out == " ok \xF0\x9F\x98\x80!");
    CHECK(empty_pushes >= 4);  // BOS, then three bytes of the emoji held back
    CHECK(stream(t, ids) == t.decode(ids, true));
    CHECK(stream(t, Ids(ids.begin() + 1, ids.end())) == "ok \xF0\x9F\x98\x80!");
  }
  SECTION("byte-level pieces that cut a character") {
    const auto t = make(bpe_vocab("gpt-2", {}));
    const Ids ids = t.encode("\xE4\xB8\xAD\xF0\x9F\x91\x8D", false, false);
    REQUIRE(ids.size() == 7);
    IncrementalDecoder d(t);
    CHECK(d.push(ids[0]).empty());
    CHECK(d.push(ids[1]).empty());
    CHECK(d.push(ids[2]) == "\xE4\xB8\xAD");
    CHECK(d.push(ids[3]).empty());
    CHECK(d.pending_bytes() == 1);
    CHECK(d.push(ids[4]).empty());
    CHECK(d.push(ids[5]).empty());
    CHECK(d.push(ids[6]) == "\xF0\x9F\x91\x8D");
    CHECK(d.flush().empty());
  }
  SECTION("bytes that cannot complete come out as U+FFFD") {
    const auto t = make(bpe_vocab("gpt-2", {}));
    IncrementalDecoder d(t);
    CHECK(d.push(0xE4).empty());
    CHECK(d.push('a') ==
          "\xEF\xBF\xBD"
          "a");  // the lead byte can no longer complete
    CHECK(d.push(0xF0).empty());
    CHECK(d.flush() == "\xEF\xBF\xBD");
  }
  SECTION("special tokens are skipped or shown") {
    const auto t = make(bpe_vocab("smollm", {}, {{"<|im_end|>", TokenType::kControl}}));
    const Ids ids = t.encode("hi<|im_end|>", false, true);
    CHECK(stream(t, ids) == "hi");
    CHECK(stream(t, ids, /*skip_special=*/false) == "hi<|im_end|>");
  }
}

TEST_CASE("vocabulary: end-of-generation tokens follow llama.cpp's rules", "[tokenizer]") {
  auto v = bpe_vocab("gpt-2", {},
                     {{"<|endoftext|>", TokenType::kControl},
                      {"<|eot_id|>", TokenType::kNormal},
                      {"<|eom_id|>", TokenType::kControl},
                      {"<reponame>", TokenType::kControl},
                      {"<|im_start|>", TokenType::kControl}});
  const auto t = make(v);
  CHECK(t.is_eog(id_of(t, "<|endoftext|>")));
  CHECK(t.is_eog(id_of(t, "<|eot_id|>")));
  CHECK(t.is_eog(id_of(t, "<|eom_id|>")));
  CHECK(t.is_eog(id_of(t, "<reponame>")));  // FIM repo token
  CHECK_FALSE(t.is_eog(id_of(t, "<|im_start|>")));
  CHECK_FALSE(t.is_eog('a'));
  CHECK(t.vocabulary().eom_id == id_of(t, "<|eom_id|>"));
  CHECK(t.vocabulary().eot_id == id_of(t, "<|eot_id|>"));  // preferred over <|endoftext|>
  CHECK(t.vocabulary().type(id_of(t, "<|eot_id|>")) == TokenType::kControl);

  // gpt-oss: <|end|> ends a message but not generation when <|return|> and <|call|> exist.
  auto oss = bpe_vocab("gpt-2", {},
                       {{"<|end|>", TokenType::kControl},
                        {"<|return|>", TokenType::kControl},
                        {"<|call|>", TokenType::kControl}});
  const auto to = make(oss);
  CHECK_FALSE(to.is_eog(id_of(to, "<|end|>")));
  CHECK(to.is_eog(id_of(to, "<|return|>")));
}

namespace {

std::shared_ptr<const gguf::File> vocab_file(const std::string& model, const std::string& pre,
                                             bool with_merges = true) {
  test::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string("tokenizer.ggml.model", model);
  if (!pre.empty()) w.add_string("tokenizer.ggml.pre", pre);
  w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b"});
  w.add_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3});
  w.add_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
  if (with_merges) w.add_string_array("tokenizer.ggml.merges", {"a b"});
  auto file = gguf::File::parse(w.bytes());
  REQUIRE(file.ok());
  return *file;
}

}  // namespace

TEST_CASE("load_vocabulary: SentencePiece defaults, key by key", "[tokenizer]") {
  auto v = load_vocabulary(*vocab_file("llama", ""));
  REQUIRE(v.ok());
  CHECK(v->model == TokenizerModel::kSentencePiece);
  CHECK(v->size() == 6);
  CHECK(v->bos_id == 1);
  CHECK(v->eos_id == 2);
  CHECK(v->unk_id == 0);
  CHECK(v->add_bos);
  CHECK_FALSE(v->add_eos);
  CHECK(v->add_space_prefix);
  CHECK(v->scores[5] == -3.0f);
  CHECK(v->types[0] == TokenType::kUnknown);
  CHECK(v->eog_ids == Ids{2});
  const auto t = make(std::move(*v));
  CHECK(t.encode("ab", true, false) == Ids{1, 3, 4, 5});
}

TEST_CASE("load_vocabulary: errors name the problem", "[tokenizer]") {
  const auto model = load_vocabulary(*vocab_file("wordpiece", ""));
  REQUIRE_FALSE(model.ok());
  CHECK_THAT(model.message(),
             Catch::Contains("wordpiece") && Catch::Contains("gpt2") && Catch::Contains("llama"));
  const auto pre = load_vocabulary(*vocab_file("gpt2", "klingon"));
  REQUIRE_FALSE(pre.ok());
  CHECK_THAT(pre.message(), Catch::Contains("klingon") && Catch::Contains("qwen2"));
  const auto merges = load_vocabulary(*vocab_file("gpt2", "gpt-2", /*with_merges=*/false));
  REQUIRE_FALSE(merges.ok());
  CHECK_THAT(merges.message(), Catch::Contains("tokenizer.ggml.merges"));
}

TEST_CASE("default model: every recorded llama.cpp tokenization matches, and round-trips",
          "[tokenizer]") {
  std::ifstream in(TROUPE_FIXTURES_DIR "/reference/tokenize.json");
  REQUIRE(in);
  const auto fixture = nlohmann::json::parse(in);
  auto file = gguf::File::open(test::default_model_path());
  REQUIRE(file.ok());
  auto vocab = load_vocabulary(**file);
  REQUIRE(vocab.ok());
  const auto t = make(std::move(*vocab));

  size_t cases = 0, matched = 0, round_trips = 0;
  for (const auto& c : fixture["cases"]) {
    const auto text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<Ids>();
    const Ids ids = t.encode(text, c["add_special"].get<bool>(), c["parse_special"].get<bool>());
    ++cases;
    if (ids == expected) {
      ++matched;
    } else {
      UNSCOPED_INFO("mismatch for " << nlohmann::json(text).dump());
    }
    if (t.decode(t.encode(text, false, false)) == text) {
      ++round_trips;
    } else {
      UNSCOPED_INFO("no round trip for " << nlohmann::json(text).dump());
    }
  }
  CHECK(cases >= 400);
  CHECK(matched == cases);
  CHECK(round_trips == cases);
}

TEST_CASE("default model: special tokens and streaming", "[tokenizer]") {
  auto file = gguf::File::open(test::default_model_path());
  REQUIRE(file.ok());
  auto vocab = load_vocabulary(**file);
  REQUIRE(vocab.ok());
  const auto t = make(std::move(*vocab));
  CHECK(t.vocab_size() == 49152);
  CHECK(t.vocabulary().pre == "smollm");
  CHECK_FALSE(t.vocabulary().add_bos);
  CHECK(t.bos() == 1);
  CHECK(t.eos() == 2);
  CHECK(t.is_eog(0));  // <|endoftext|>
  CHECK(t.is_eog(2));  // <|im_end|>
  CHECK_FALSE(t.is_eog(1));
  CHECK(t.piece(1) == "<|im_start|>");

  const std::string chat = "<|im_start|>user\nSay 👋 in 日本語, please!<|im_end|>\n";
  const Ids ids = t.encode(chat, false, true);
  CHECK(ids.front() == 1);
  CHECK(std::count(ids.begin(), ids.end(), 2) == 1);
  CHECK(t.decode(ids) == chat);
  CHECK(stream(t, ids, false) == chat);
  CHECK(stream(t, ids, true) == "user\nSay 👋 in 日本語, please!\n");

  // Every single token's bytes stream out intact once the stream ends.
  for (int32_t id = 0; id < static_cast<int32_t>(t.vocab_size()); id += 97) {
    std::string expected;
    unicode::append_sanitized(expected, t.token_bytes(id));
    CHECK(stream(t, Ids{id}, false) == expected);
  }
}
