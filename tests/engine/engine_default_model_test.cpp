// The batching engine on the real model: 32 requests batched give each the tokens it gets
// alone (greedy and seeded, preempted or not), and a 1,000-token shared prefix is computed once.
#include <catch2/catch.hpp>

#include "engine/model/model.hpp"
#include "engine/serve/engine.hpp"
#include "tests/support/default_model.hpp"
#include "tests/support/default_model_requests.hpp"
#include "tests/support/engine_runner.hpp"

using namespace troupe;
using test::TestRequest;

namespace {

struct DefaultModel {
  Model model;
  DefaultModel() : model(load()) {}
  static Model load() {
    auto m = load_model(test::default_model_path());
    REQUIRE(m.ok());
    return std::move(*m);
  }
  Engine::EndOfGeneration eog() const {
    return [this](int32_t t) { return model.tokenizer.is_eog(t); };
  }
};

}  // namespace

TEST_CASE("default model: 32 batched requests each get the tokens they get alone") {
  DefaultModel m;
  const bool seeded = GENERATE(false, true);
  INFO((seeded ? "seeded sampling" : "greedy"));
  const auto reqs = test::default_model_requests(m.model.tokenizer, seeded);
  const auto alone =
      test::run_alone(m.model, test::default_model_engine_config(2048), reqs, m.eog());

  auto batched = Engine::create(m.model, test::default_model_engine_config(8192), m.eog());
  REQUIRE(batched.ok());
  CHECK(test::run_engine(**batched, reqs) == alone);
  CHECK((*batched)->stats().kv_blocks_used == 0);

  if (!seeded) {  // once is enough for the slow part
    EngineConfig tight =
        test::default_model_engine_config(160);  // one full-length sequence and two blocks more
    tight.max_model_len = 128;
    tight.scheduler.max_num_batched_tokens = 48;  // chunked prefill too
    auto preempting = Engine::create(m.model, tight, m.eog());
    REQUIRE(preempting.ok());
    CHECK(test::run_engine(**preempting, reqs) == alone);
    CHECK((*preempting)->stats().preemptions > 0);
  }
}

TEST_CASE("default model: a request sharing a 1,000-token prefix computes only the rest") {
  DefaultModel m;
  std::string text;
  for (int i = 0; text.size() < 6000; ++i)
    text += test::kDefaultModelTexts[i % std::size(test::kDefaultModelTexts)];
  auto prefix = m.model.tokenizer.encode(text, true, false);
  prefix.resize(1000);
  TestRequest first{"first", prefix, {}, 0}, second{"second", prefix, {}, 0};
  const auto tail = m.model.tokenizer.encode("Summarize the text above.", false, false);
  first.prompt.push_back(tail.front());
  second.prompt.insert(second.prompt.end(), tail.begin(), tail.end());
  for (TestRequest* r : {&first, &second}) {
    r->params.temperature = 0;
    r->params.max_tokens = 8;
    r->params.ignore_eos = true;
  }
  auto engine = Engine::create(m.model, test::default_model_engine_config(4096), m.eog());
  REQUIRE(engine.ok());
  test::run_engine(**engine, {first});
  const EngineStats before = (*engine)->stats();
  const auto cached = test::run_engine(**engine, {second});
  const EngineStats after = (*engine)->stats();
  const auto uncached_prompt = static_cast<int64_t>(second.prompt.size()) - 992;
  CHECK(after.prefix_cache_hits - before.prefix_cache_hits == 992);  // 62 whole blocks
  CHECK(after.computed_tokens - before.computed_tokens == uncached_prompt + 7);

  EngineConfig no_cache = test::default_model_engine_config(4096);
  no_cache.enable_prefix_caching = false;
  CHECK(cached == test::run_alone(m.model, no_cache, {second}, m.eog()));
}
