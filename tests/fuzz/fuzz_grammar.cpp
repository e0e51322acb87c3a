// libFuzzer entry point for the grammar engine: the input up to its first NUL byte is GBNF text
// (or, after a leading '/', a regular expression, parsed and compiled only), the rest bytes to
// match. A grammar that parses and compiles is run over those bytes one at a
// time, and at each state the token mask of a small vocabulary must agree with matching each
// token alone. Nothing may crash, hang or disagree, whatever the grammar.
//
//   make fuzz FUZZ_SECONDS=300    (builds tests/fuzz/* with clang and runs each)
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/gbnf.hpp"
#include "engine/grammar/grammar_matcher.hpp"
#include "engine/grammar/regex.hpp"
#include "engine/grammar/token_mask.hpp"

using namespace troupe::grammar;

namespace {

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> v = {"",     "a",    "b",        "ab",   "{", "}",
                                             "\"",   "\\",   "0",        "12",   " ", "\n",
                                             "\xC3", "\xA9", "\xC3\xA9", "true", "x"};
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view text = input.substr(0, split);
  const std::string_view bytes = split == std::string_view::npos ? "" : input.substr(split + 1);
  if (!text.empty() && text[0] == '/') {  // a regular expression instead of GBNF
    auto regex = parse_regex(text.substr(1));
    if (regex.ok()) (void)CompiledGrammar::compile(*regex);
    return 0;
  }
  auto grammar = parse_gbnf(text);
  if (!grammar.ok()) return 0;
  auto compiled = CompiledGrammar::compile(*grammar);
  if (!compiled.ok()) return 0;
  static const VocabularyTrie trie(vocabulary(), {0});
  GrammarMatcher matcher(*compiled);
  for (size_t i = 0; i < bytes.size() && i < 64; ++i) {
    const TokenMask mask = allowed_tokens(*compiled, matcher.stacks(), trie);
    for (int32_t id = 0; id < trie.size(); ++id) {
      bool alone = matcher.complete();
      if (id > 0) {
        GrammarMatcher copy = matcher;
        alone = copy.accept(vocabulary()[static_cast<size_t>(id)]);
      }
      if (mask.allowed(id) != alone) std::abort();
    }
    if (!matcher.accept(bytes.substr(i, 1))) break;
  }
  return 0;
}
