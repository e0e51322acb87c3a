// The token mask of a grammar state over the default model's vocabulary (49,152 tokens), for a
// JSON grammar at three states: before an object's first key (few tokens fit), inside a string
// (nearly every token fits: the costly case) and inside a number. Registered only when the
// default model is cached ($TROUPE_HOME or ~/.cache/troupe), whose vocabulary it reads.
#include <cstdlib>
#include <memory>
#include <string>

#include "bench/micro/common.hpp"
#include "engine/gguf/gguf_file.hpp"
#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/gbnf.hpp"
#include "engine/grammar/grammar_matcher.hpp"
#include "engine/grammar/token_mask.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace troupe::micro {

namespace {

const char* kJson = R"(root ::= "{" ws (pair ("," ws pair)*)? "}" ws
pair ::= string ":" ws value
value ::= root | string | number | ("true" | "false" | "null") ws
string ::= "\"" ([^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))* "\"" ws
number ::= "-"? ([0-9] | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ws
ws ::= | " " | "\n" [ \t]{0,20}
)";

struct Setup {
  std::shared_ptr<const grammar::CompiledGrammar> grammar;
  std::unique_ptr<grammar::VocabularyTrie> trie;
};

std::unique_ptr<Setup> load() {
  const char* home = std::getenv("TROUPE_HOME");
  const char* user = std::getenv("HOME");
  const std::string root =
      home && *home ? home : std::string(user && *user ? user : ".") + "/.cache/troupe";
  auto file = gguf::File::open(root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!file) return nullptr;
  auto vocab = load_vocabulary(**file);
  if (!vocab) return nullptr;
  auto tokenizer = Tokenizer::create(std::move(*vocab));
  if (!tokenizer) return nullptr;
  std::vector<std::string> bytes(tokenizer->vocab_size());
  for (size_t id = 0; id < bytes.size(); ++id) {
    bytes[id] = std::string(tokenizer->render(static_cast<int32_t>(id), true));
  }
  auto setup = std::make_unique<Setup>();
  setup->trie = std::make_unique<grammar::VocabularyTrie>(bytes, std::vector{tokenizer->eos()});
  setup->grammar = *grammar::CompiledGrammar::compile(*grammar::parse_gbnf(kJson));
  return setup;
}

// Cold: a new automaton each time (a state's first mask); warm: one automaton throughout (the
// states and transitions a sequence's earlier steps built).
void bench_mask(benchmark::State& state, const Setup* setup, std::string prefix, bool warm) {
  grammar::GrammarMatcher matcher(setup->grammar);
  if (!matcher.accept(prefix)) state.SkipWithError("the prefix does not match");
  int64_t allowed = 0;
  grammar::StateCache kept(setup->grammar);
  for (auto _ : state) {
    grammar::StateCache fresh(setup->grammar);
    grammar::StateCache& cache = warm ? kept : fresh;
    const auto mask =
        grammar::allowed_tokens(cache, cache.state_of(matcher.stacks()), *setup->trie);
    allowed = 0;
    for (uint64_t w : mask.words()) allowed += __builtin_popcountll(w);
    benchmark::DoNotOptimize(allowed);
  }
  state.counters["allowed"] = static_cast<double>(allowed);
}

}  // namespace

void register_grammar_benchmarks() {
  static const std::unique_ptr<Setup> setup = load();
  if (!setup) return;
  for (bool warm : {false, true}) {
    benchmark::RegisterBenchmark(
        warm ? "grammar_mask/json/object_start/warm" : "grammar_mask/json/object_start/cold",
        bench_mask, setup.get(), std::string("{"), warm)
        ->UseRealTime();
  }
  for (bool warm : {false, true}) {
    benchmark::RegisterBenchmark(
        warm ? "grammar_mask/json/in_string/warm" : "grammar_mask/json/in_string/cold", bench_mask,
        setup.get(), std::string("{\"a\": {\"name\": \"Jo"), warm)
        ->UseRealTime();
  }
  for (bool warm : {false, true}) {
    benchmark::RegisterBenchmark(
        warm ? "grammar_mask/json/in_number/warm" : "grammar_mask/json/in_number/cold", bench_mask,
        setup.get(), std::string("{\"a\": 12"), warm)
        ->UseRealTime();
  }
}

}  // namespace troupe::micro
