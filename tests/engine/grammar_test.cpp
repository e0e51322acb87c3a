// The grammar engine: UTF-8 ranges against every code point, GBNF parsed and matched against
// strings it must accept and reject, its errors, and token masks against a brute-force check of
// every token of a vocabulary on random states.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/gbnf.hpp"
#include "engine/grammar/grammar_matcher.hpp"
#include "engine/grammar/grammar_words.hpp"
#include "engine/grammar/regex.hpp"
#include "engine/grammar/token_mask.hpp"
#include "engine/grammar/utf8_ranges.hpp"
#include "engine/tokenizer/unicode.hpp"

using namespace troupe;
using namespace troupe::grammar;

namespace {

bool matches(const std::vector<ByteRanges>& sequences, const std::string& bytes) {
  for (const ByteRanges& seq : sequences) {
    if (seq.size() != bytes.size()) continue;
    bool all = true;
    for (size_t i = 0; i < seq.size(); ++i) {
      const auto b = static_cast<uint8_t>(bytes[i]);
      all = all && b >= seq[i].first && b <= seq[i].second;
    }
    if (all) return true;
  }
  return false;
}

// `grammar`, parsed from `text`, compiled; the test fails where either step does.
std::shared_ptr<const CompiledGrammar> compiled(const Result<Grammar>& grammar,
                                                const std::string& text) {
  INFO(text);
  REQUIRE(grammar.ok());
  auto compiled = CompiledGrammar::compile(*grammar);
  REQUIRE(compiled.ok());
  return *compiled;
}

std::shared_ptr<const CompiledGrammar> compile_gbnf(const std::string& text) {
  return compiled(parse_gbnf(text), text);
}

bool accepts(const std::shared_ptr<const CompiledGrammar>& g, const std::string& text) {
  GrammarMatcher m(g);
  return m.accept(text) && m.complete();
}

std::string gbnf_error(const std::string& text) {
  auto grammar = parse_gbnf(text);
  if (!grammar.ok()) return grammar.message();
  auto compiled = CompiledGrammar::compile(*grammar);
  return compiled.ok() ? "" : compiled.message();
}

// A JSON grammar in GBNF, as users bring them.
const char* kJson = R"(
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
)";

}  // namespace

TEST_CASE("grammar: UTF-8 sequences of a code point range match exactly its characters") {
  const std::pair<uint32_t, uint32_t> ranges[] = {
      {0, 0x10FFFF},    {0x41, 0x5A},      {0x70, 0x900},      {0x7FF, 0x800},
      {0xD000, 0xE100}, {0xFFFF, 0x10000}, {0x1F600, 0x1F64F}, {0x20, 0x10FFFF}};
  for (const auto& [lo, hi] : ranges) {
    INFO("range " << lo << " - " << hi);
    std::vector<ByteRanges> seqs;
    utf8_sequences(lo, hi, seqs);
    for (uint32_t cpt = 0; cpt <= 0x10FFFF; cpt += (cpt < 0x11000 ? 1 : 97)) {
      std::string bytes;
      unicode::append_utf8(bytes, cpt);
      const bool surrogate = cpt >= 0xD800 && cpt <= 0xDFFF;
      REQUIRE(matches(seqs, bytes) == (cpt >= lo && cpt <= hi && !surrogate));
    }
    // Never a byte string that is not UTF-8: a stray continuation byte, a lone lead byte.
    REQUIRE_FALSE(matches(seqs, "\x80"));
    REQUIRE_FALSE(matches(seqs, "\xC3"));
  }
}

TEST_CASE("grammar: GBNF literals, classes, groups and repetitions accept what they say") {
  const auto g = compile_gbnf(R"(root ::= "a" [b-d]+ ("x" | "yz")? [^0-9]{2,3} tail  # comment
tail ::= "." | [\u00e9\U0001F600] | "\x21\n")");
  CHECK(accepts(g, "abxqq."));
  CHECK(accepts(g, "abcdyzqqq."));
  CHECK(accepts(g, "ab\xC3\xA9\xC3\xA9\xC3\xA9"));  // é as the class, é twice more as [^0-9]
  CHECK(accepts(g, "abqq\xF0\x9F\x98\x80"));        // U+1F600
  CHECK(accepts(g, "abqq!\n"));
  CHECK_FALSE(accepts(g, "axqq."));    // [b-d]+ needs one
  CHECK_FALSE(accepts(g, "ab1q."));    // a digit
  CHECK_FALSE(accepts(g, "abqqqqq"));  // five of {2,3} and no room for a tail
  CHECK_FALSE(accepts(g, "abqq"));     // no tail: incomplete
  CHECK_FALSE(accepts(g, "abqqq.x"));  // a byte past the end

  GrammarMatcher m(g);
  CHECK(m.accept("ab"));
  CHECK_FALSE(m.accept("b0"));  // all or nothing: the "b" stays unconsumed too
  CHECK(m.accept("b"));
  CHECK(m.can_continue());
  CHECK_FALSE(m.complete());

  const auto json = compile_gbnf(kJson);
  CHECK(accepts(json, R"({"a": [1, 2.5, -3e1, true, null, {"b": "x\"\u00e9y"}], "c": {}})"));
  CHECK(accepts(json, "{}"));
  CHECK_FALSE(accepts(json, R"({"a": [1, 2,]})"));
  CHECK_FALSE(accepts(json, R"({"a" 1})"));
  CHECK_FALSE(accepts(json, "[1]"));  // root is an object
  CHECK_FALSE(accepts(json, R"({"a": 01})"));

  // A line starting with | continues the rule; blank lines and comments between rules.
  const auto cont = compile_gbnf("root ::= \"a\"\n  | \"b\"\n\n# c\n");
  CHECK(accepts(cont, "a"));
  CHECK(accepts(cont, "b"));
  // A rule that can end or go on: complete and continuing at once.
  GrammarMatcher star(compile_gbnf("root ::= \"a\"*"));
  CHECK(star.complete());
  CHECK(star.accept("aaa"));
  CHECK(star.complete());
  CHECK(star.can_continue());
}

TEST_CASE("grammar: bad GBNF is an error naming the place and the problem") {
  CHECK(gbnf_error("root ::= foo") == "grammar rule 'foo' is not defined");
  CHECK(gbnf_error("start ::= \"a\"") == "the grammar has no rule named 'root'");
  CHECK(gbnf_error("root ::= \"a") ==
        "grammar line 1, column 12: a literal without its closing '\"'");
  CHECK(gbnf_error("root ::= [a-").find("class without its closing ']'") != std::string::npos);
  CHECK(gbnf_error("root ::= \"\\q\"") == "grammar line 1, column 11: unknown escape '\\q'");
  CHECK(gbnf_error("root ::= \"a\"\nroot ::= \"b\"") ==
        "grammar line 2, column 1: rule 'root' is defined twice");
  CHECK(gbnf_error("root ::= \"a\"{3,2}").find("maximum is below its minimum") !=
        std::string::npos);
  CHECK(gbnf_error("root ::= \"a\"{5000}").find("repetition count above 1000") !=
        std::string::npos);
  CHECK(gbnf_error("root ::= (\"a\"").find("expected ')'") != std::string::npos);
  CHECK(gbnf_error("root = \"a\"").find("expected '::='") != std::string::npos);
  CHECK(gbnf_error("root ::= [z-a]").find("end is below its start") != std::string::npos);
  CHECK(gbnf_error("root ::= root \"a\"").find("'root' is left-recursive") != std::string::npos);
  CHECK(gbnf_error("root ::= x \"a\"\nx ::= \"\"? root").find("left-recursive") !=
        std::string::npos);
  CHECK(gbnf_error("root ::= (\"a\"?)*").find("left-recursive") != std::string::npos);
  CHECK(gbnf_error("root ::= \"a\" )").find("column 14: expected the end of the line") !=
        std::string::npos);
  CHECK(gbnf_error("root ::= " + std::string(200, '(')).find("nested too deep") !=
        std::string::npos);
}

TEST_CASE("grammar: token masks equal a brute-force check of every token, on random states") {
  std::mt19937 rng(17);
  // A vocabulary of JSON-ish pieces, single bytes, UTF-8 pieces cut mid-character, random bytes
  // and control tokens (no bytes), with two end tokens.
  std::vector<std::string> vocab = {
      "",     "",     "{",    "}",        "{\"", "\":", "\": ", ", \"", "[",  "]",   "true",
      "tr",   "ue",   "null", "1",        "12",  ".5",  "e1",   "-",    "\"", "\\",  "\\u",
      "00e9", "\xC3", "\xA9", "\xC3\xA9", " ",   "\n",  "\n  ", "a",    "ab", "abc", "\"a\"",
      "},",   "]}",   "x\"",  "{}",       "[]",  ",",   ":",    "0",    "01"};
  std::uniform_int_distribution<int> byte(0, 255), length(1, 4);
  for (int i = 0; i < 200; ++i) {
    std::string t;
    for (int k = length(rng); k > 0; --k) t += static_cast<char>(byte(rng));
    vocab.push_back(t);
  }
  for (int b = 0; b < 256; ++b) vocab.push_back(std::string(1, static_cast<char>(b)));
  const auto shared_trie =
      std::make_shared<const VocabularyTrie>(vocab, std::vector<int32_t>{0, 1});
  const VocabularyTrie& trie = *shared_trie;
  const auto json = compile_gbnf(kJson);
  TokenMasker masker(json, shared_trie);  // one automaton over every walk: states met again

  for (int walk = 0; walk < 30; ++walk) {
    GrammarMatcher m(json);
    for (int step = 0; step < 40; ++step) {
      const TokenMask mask = allowed_tokens(json, m.stacks(), trie);
      REQUIRE(masker.mask(masker.states().state_of(m.stacks())) == mask);
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < trie.size(); ++id) {
        bool brute = false;
        if (id <= 1) {
          brute = m.complete();
        } else if (!vocab[static_cast<size_t>(id)].empty()) {
          GrammarMatcher copy = m;
          brute = copy.accept(vocab[static_cast<size_t>(id)]);
        }
        INFO("walk " << walk << ", step " << step << ", token " << id);
        REQUIRE(mask.allowed(id) == brute);
        if (brute && id > 1) allowed.push_back(id);
      }
      if (allowed.empty()) break;
      const int32_t pick =
          allowed[std::uniform_int_distribution<size_t>(0, allowed.size() - 1)(rng)];
      REQUIRE(m.accept(vocab[static_cast<size_t>(pick)]));
    }
  }
}

TEST_CASE("grammar: words carry a grammar whole, and malformed words are an error") {
  auto g = parse_gbnf(kJson);
  REQUIRE(g.ok());
  const std::vector<int32_t> words = to_words(*g);
  auto back = from_words(words);
  REQUIRE(back.ok());
  REQUIRE(back->root == g->root);
  REQUIRE(back->rules.size() == g->rules.size());
  for (size_t r = 0; r < g->rules.size(); ++r) {
    REQUIRE(back->rules[r].alternatives == g->rules[r].alternatives);
  }
  REQUIRE(to_words(*back) == words);
  CHECK_FALSE(from_words(std::vector<int32_t>{}).ok());
  CHECK_FALSE(from_words(std::vector<int32_t>{0, 5}).ok());  // five rules promised, none there
  CHECK_FALSE(from_words(std::vector<int32_t>{0, 1, 1, 1, 0x10000}).ok());  // not a byte range
  CHECK_FALSE(from_words(std::vector<int32_t>{0, 1, 1, 0, 7}).ok());        // a word left over
  CHECK(from_words(std::vector<int32_t>{0, 1, 1, 1, 'a' | ('z' << 8)}).ok());
  auto dangling = from_words(std::vector<int32_t>{0, 1, 1, 1, -5});  // a reference to rule 4 of 1
  REQUIRE(dangling.ok());
  CHECK_FALSE(CompiledGrammar::compile(*dangling).ok());
}

TEST_CASE("grammar: regular expressions match whole strings, and what they cannot do is named") {
  auto compile_regex = [](const std::string& pattern) {
    return compiled(parse_regex(pattern), pattern);
  };
  const auto phone = compile_regex(R"(^\(?\d{3}\)?[- ]?\d{3}-\d{4}$)");
  CHECK(accepts(phone, "(555) 123-4567"));
  CHECK(accepts(phone, "555-123-4567"));
  CHECK_FALSE(accepts(phone, "555-123-456"));
  CHECK_FALSE(accepts(phone, "x555-123-4567"));
  const auto words = compile_regex(R"((?:cat|dog)s?( [a-z\u00e9]+){1,2}\.|\w+!)");
  CHECK(accepts(words, "cats purr."));
  CHECK(accepts(words, "dog barks loud."));
  CHECK(accepts(words, "dog caf\xC3\xA9."));
  CHECK(accepts(words, "x_9!"));
  CHECK_FALSE(accepts(words, "cats."));
  CHECK_FALSE(accepts(words, "cow moos."));
  const auto any = compile_regex("a.c[^x]*");
  CHECK(accepts(any,
                "a\xE2\x82\xAC"
                "cyy"));  // . is any character, € too
  CHECK_FALSE(accepts(any, "a\ncx"));
  auto error = [](const std::string& p) {
    auto g = parse_regex(p);
    return g.ok() ? std::string() : g.message();
  };
  CHECK(error("(a").find("expected ')'") != std::string::npos);
  CHECK(error("a)") == "regex at 1: unexpected ')'");
  CHECK(error("*a").find("nothing to repeat") != std::string::npos);
  CHECK(error("(a)\\1").find("back references") != std::string::npos);
  CHECK(error("(?=a)").find("lookaround") != std::string::npos);
  CHECK(error("a{3,1}").find("below its minimum") != std::string::npos);
  CHECK(error("[z-a]").find("below its start") != std::string::npos);
  CHECK(error("\\q").find("unknown escape") != std::string::npos);
}

TEST_CASE("grammar: a grammar past the builder's bounds is an error, whatever builds it") {
  // Each bound of a repetition is a rule: 60 of a{0,1000} ask for 60,000 rules (once ~300 bytes
  // each, with no total bound: a 1 MiB request could ask for tens of gigabytes).
  std::string pattern;
  for (int i = 0; i < 60; ++i) pattern += "a{0,1000}";
  const auto regex = parse_regex(pattern);
  REQUIRE_FALSE(regex.ok());
  CHECK(regex.message().find("the grammar is too large") != std::string::npos);
  // Within the bounds it builds: 40,000 rules.
  CHECK(parse_regex(pattern.substr(0, 40 * 9)).ok());
  // Elements: 3,000 repetitions of a{1000} are 3 million elements in 3,000 rules.
  std::string long_rule = "root ::= ";
  for (int i = 0; i < 3000; ++i) long_rule += "\"a\"{1000} ";
  CHECK(gbnf_error(long_rule).find("the grammar is too large") != std::string::npos);
}

TEST_CASE("grammar: plain tokens decided by their length in characters equal a brute-force check") {
  // Plain tokens of 1 to 6 characters (ASCII, two-, three- and four-byte UTF-8), tokens that
  // are not plain (quotes, escapes, controls, cut characters), against bounded and unbounded
  // strings, a pattern-like class and a number: every state's mask against every token.
  std::vector<std::string> vocab = {"",
                                    "\"",
                                    "\\",
                                    "\\\"",
                                    "a",
                                    "ab",
                                    "abc",
                                    "abcdef",
                                    "é",
                                    "日本",
                                    "\xF0\x9F\x98\x80",
                                    "a\"",
                                    "\xC3",
                                    "\xA9",
                                    "\t",
                                    " x",
                                    "\x7F",
                                    "12",
                                    "é\xE6\x97",
                                    "\"}",
                                    "x\\n",
                                    "hello wo",
                                    "Zz9"};
  for (int b = 0; b < 256; ++b) vocab.push_back(std::string(1, static_cast<char>(b)));
  CHECK(plain_characters("é日\xF0\x9F\x98\x80"
                         "a") == 4);
  CHECK(plain_characters("a\"") == -1);
  CHECK(plain_characters("\xC3") == -1);
  CHECK(plain_characters("\xED\xA0\x80") == -1);  // a surrogate is no character
  const auto trie = std::make_shared<const VocabularyTrie>(vocab, std::vector<int32_t>{0});
  for (const char* gbnf : {R"(root ::= "\"" [^"\\\x00-\x1F\x7F]{0,5} "\"")",
                           R"(root ::= "\"" [^"\\\x00-\x1F\x7F]* "\"" | [0-9]+)",
                           R"(root ::= "\"" [a-z ]{2,7} "\"")"}) {
    INFO(gbnf);
    const auto g = compile_gbnf(gbnf);
    TokenMasker masker(g, trie);
    std::vector<std::string> prefixes = {"",       "\"",      "\"a",   "\"ab", "\"abc",
                                         "\"abcd", "\"abcde", "\"é日", "1"};
    for (const std::string& prefix : prefixes) {
      GrammarMatcher m(g);
      if (!m.accept(prefix)) continue;
      const TokenMask& mask = masker.mask(masker.states().state_of(m.stacks()));
      for (int32_t id = 0; id < trie->size(); ++id) {
        bool brute = id == 0 ? m.complete() : false;
        if (id > 0 && !vocab[static_cast<size_t>(id)].empty()) {
          GrammarMatcher copy = m;
          brute = copy.accept(vocab[static_cast<size_t>(id)]);
        }
        INFO("prefix '" << prefix << "', token " << id);
        REQUIRE(mask.allowed(id) == brute);
      }
    }
  }
}
