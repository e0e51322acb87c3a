// The batching engine on the tiny model: a request's tokens do not depend on what else runs,
// how prompts are chunked, whether prefixes are cached or whether it was preempted; and every
// KV block comes back.
#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "engine/model/model.hpp"
#include "engine/serve/engine.hpp"
#include "tests/support/engine_runner.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;
using test::TestRequest;

namespace {

struct TinyEngineModel {
  Model model;
  explicit TinyEngineModel(int context) : model(load(context)) {}
  static Model load(int context) {
    test::TinyModelOptions o;
    o.context = context;
    auto m = load_model(test::write_tiny_model("engine-" + std::to_string(context), o));
    REQUIRE(m.ok());
    return std::move(*m);
  }
  Engine::EndOfGeneration eog() const {
    return [this](int32_t t) { return model.tokenizer.is_eog(t); };
  }
};

EngineConfig config_with(int max_model_len, int64_t kv_tokens) {
  EngineConfig c;
  c.max_model_len = max_model_len;
  c.kv_cache_memory = kv_tokens * 2 * 2 * 32 * 2;  // tokens x K,V x layers x kv_dim x F16
  return c;
}

// 32 requests of different lengths; a third share a 40-token prefix; joining at various steps.
std::vector<TestRequest> mixed_requests(int vocab, bool seeded) {
  std::mt19937 rng(7);
  auto token = [&] { return static_cast<int32_t>(rng() % static_cast<unsigned>(vocab - 1)); };
  std::vector<int32_t> shared(40);
  for (auto& t : shared) t = token();
  std::vector<TestRequest> requests;
  for (int i = 0; i < 32; ++i) {
    TestRequest r;
    r.id = "r" + std::to_string(i);
    if (i % 3 == 0) r.prompt = shared;
    const int extra = 1 + static_cast<int>(rng() % 90);
    for (int k = 0; k < extra; ++k) r.prompt.push_back(token());
    r.params.max_tokens = 4 + static_cast<int>(rng() % 40);
    r.params.ignore_eos = i % 2 == 0;
    if (seeded) {
      r.params.temperature = 0.9f;
      r.params.top_p = 0.95f;
      r.params.seed = 1000 + static_cast<uint64_t>(i);
    } else {
      r.params.temperature = 0;
    }
    r.join_step = static_cast<int>(rng() % 12);
    requests.push_back(std::move(r));
  }
  return requests;
}

}  // namespace

TEST_CASE("engine: each request's tokens are the same alone or batched with 31 others") {
  TinyEngineModel m(256);
  const bool seeded = GENERATE(false, true);
  const auto requests = mixed_requests(m.model.config.vocab_size, seeded);
  EngineConfig alone_config = config_with(256, 4096);
  alone_config.enable_prefix_caching = false;
  const auto alone = run_alone(m.model, alone_config, requests, m.eog());

  struct Variant {
    const char* name;
    EngineConfig config;
  };
  std::vector<Variant> variants = {{"default", config_with(256, 8192)}};
  variants.push_back({"small chunks", config_with(256, 8192)});
  variants.back().config.scheduler.max_num_batched_tokens = 24;
  variants.push_back({"no chunked prefill", config_with(256, 8192)});
  variants.back().config.scheduler.enable_chunked_prefill = false;
  variants.push_back({"no prefix caching", config_with(256, 8192)});
  variants.back().config.enable_prefix_caching = false;
  variants.push_back({"preempting", config_with(256, 320)});  // room for a fraction of them
  // Attention reads keys 16 slots at a time in blocks of 16 or 32, one slot at a time in blocks
  // of 8: the same sums in the same order.
  variants.push_back({"blocks of 8", config_with(256, 8192)});
  variants.back().config.block_size = 8;
  variants.push_back({"blocks of 32", config_with(256, 8192)});
  variants.back().config.block_size = 32;

  for (const Variant& v : variants) {
    INFO(v.name << (seeded ? ", seeded sampling" : ", greedy"));
    auto engine = Engine::create(m.model, v.config, m.eog());
    REQUIRE(engine.ok());
    const auto batched = test::run_engine(**engine, requests);
    for (const auto& r : requests) {
      INFO(r.id);
      CHECK(batched.at(r.id) == alone.at(r.id));
    }
    const EngineStats stats = (*engine)->stats();
    CHECK(stats.kv_blocks_used == 0);
    if (std::string(v.name) == "preempting") CHECK(stats.preemptions > 0);
    if (std::string(v.name) == "default") CHECK(stats.prefix_cache_hits > 0);
  }
}

TEST_CASE("engine: parallel samples share the prompt and each matches its own seed alone") {
  TinyEngineModel m(256);
  TestRequest r;
  r.id = "n4";
  for (int i = 0; i < 37; ++i) r.prompt.push_back(i * 7 % 250);
  r.params.n = 4;
  r.params.temperature = 1.0f;
  r.params.seed = 5;
  r.params.max_tokens = 20;
  r.params.ignore_eos = true;
  auto engine = Engine::create(m.model, config_with(256, 4096), m.eog());
  REQUIRE(engine.ok());
  const auto out = test::run_engine(**engine, {r});
  REQUIRE(out.at("n4").size() == 4);
  CHECK((*engine)->stats().computed_tokens == 37 + 4 * 19);  // the prompt once, not four times
  CHECK((*engine)->stats().kv_blocks_used == 0);
  for (int i = 0; i < 4; ++i) {
    TestRequest single = r;
    single.params.n = 1;
    single.params.seed = 5 + static_cast<uint64_t>(i);
    const auto alone = test::run_alone(m.model, config_with(256, 4096), {single});
    CHECK(out.at("n4")[static_cast<size_t>(i)] == alone.at("n4")[0]);
  }
  CHECK(out.at("n4")[0] != out.at("n4")[1]);
}

TEST_CASE("engine: one of n samples stopped early frees its blocks; the others go on") {
  TinyEngineModel m(256);
  auto engine = Engine::create(m.model, config_with(256, 4096), m.eog());
  REQUIRE(engine.ok());
  Engine& e = **engine;
  std::vector<int32_t> prompt;
  for (int i = 0; i < 37; ++i) prompt.push_back(i * 7 % 250);
  SamplingParams params;
  params.n = 3;
  params.temperature = 1.0f;
  params.seed = 5;
  params.max_tokens = 20;
  params.ignore_eos = true;
  REQUIRE(e.add_request("n3", prompt, params).ok());
  CHECK_FALSE(e.stop_sample("n3", 1));  // not forked yet: one sequence stands for all three
  CHECK_FALSE(e.stop_sample("n3", 0));
  std::map<int, int> tokens;
  for (const auto& u : e.step().updates) ++tokens[u.index];  // the prompt, and the fork
  REQUIRE(tokens.size() == 3);
  CHECK(e.stop_sample("n3", 1));
  CHECK_FALSE(e.stop_sample("n3", 1));  // once
  CHECK_FALSE(e.stop_sample("n3", 3));
  CHECK_FALSE(e.stop_sample("other", 0));
  while (e.has_unfinished())
    for (const auto& u : e.step().updates) ++tokens[u.index];
  CHECK(tokens == std::map<int, int>{{0, 20}, {1, 1}, {2, 20}});
  CHECK(e.stats().kv_blocks_used == 0);
  CHECK(e.stats().computed_tokens == 37 + 2 * 19);

  // The request ends with the last of its samples stopped.
  REQUIRE(e.add_request("n3", prompt, params).ok());
  e.step();
  for (int i = 0; i < 3; ++i) CHECK(e.stop_sample("n3", i));
  CHECK_FALSE(e.has_unfinished());
  e.step();  // the released sequences ride with the next plan
  CHECK(e.stats().kv_blocks_used == 0);
}

TEST_CASE("engine: after 1,000 random requests with aborts and preemption every block is free") {
  TinyEngineModel m(256);
  auto engine = Engine::create(m.model, config_with(256, 512), m.eog());
  REQUIRE(engine.ok());
  Engine& e = **engine;
  std::mt19937 rng(2024);
  auto uniform = [&](int lo, int hi) { return lo + static_cast<int>(rng() % (hi - lo + 1)); };
  std::vector<int32_t> shared(48);
  for (auto& t : shared) t = uniform(0, 263);

  std::vector<std::string> live;
  std::map<std::string, int> expected_length, produced;
  int added = 0, aborted = 0, finished = 0;
  while (added < 1000 || e.has_unfinished()) {
    for (int k = uniform(0, 3); k > 0 && added < 1000; --k) {
      const std::string id = "s" + std::to_string(added++);
      std::vector<int32_t> prompt;
      if (uniform(0, 2) == 0) prompt.assign(shared.begin(), shared.begin() + uniform(1, 48));
      for (int n = uniform(1, 100); n > 0; --n) prompt.push_back(uniform(0, 263));
      SamplingParams p;
      p.temperature = uniform(0, 1) ? 0.0f : 0.8f;
      p.seed = static_cast<uint64_t>(added);
      p.max_tokens = uniform(1, 60);
      p.ignore_eos = true;
      p.n = uniform(0, 9) == 0 ? 2 : 1;
      REQUIRE(e.add_request(id, prompt, p).ok());
      live.push_back(id);
      expected_length[id] = std::min(p.max_tokens, 256 - static_cast<int>(prompt.size())) * p.n;
    }
    if (!live.empty() && uniform(0, 19) == 0) {
      const size_t victim = static_cast<size_t>(uniform(0, static_cast<int>(live.size()) - 1));
      CHECK(e.abort(live[victim]));
      expected_length.erase(live[victim]);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(victim));
      ++aborted;
    }
    for (const auto& u : e.step().updates) {
      ++produced[u.request_id];
      if (u.finish != FinishReason::none) ++finished;
    }
    std::erase_if(live, [&](const std::string& id) {
      return expected_length.count(id) && produced[id] == expected_length[id];
    });
  }
  const EngineStats stats = e.stats();
  CHECK(stats.kv_blocks_used == 0);
  CHECK(stats.running == 0);
  CHECK(stats.waiting == 0);
  CHECK(stats.preemptions > 0);
  CHECK(stats.prefix_cache_hits > 0);
  CHECK(aborted > 10);
  for (const auto& [id, length] : expected_length) {
    INFO(id);
    CHECK(produced[id] == length);
  }
}

TEST_CASE("engine: a long shared prefix is computed once") {
  TinyEngineModel m(1100);
  std::vector<int32_t> prefix(1000);
  for (size_t i = 0; i < prefix.size(); ++i) prefix[i] = static_cast<int32_t>(i * 31 % 263);
  TestRequest first{"first", prefix, {}, 0}, second{"second", prefix, {}, 0};
  first.prompt.insert(first.prompt.end(), {1, 2, 3});
  second.prompt.insert(second.prompt.end(), {4, 5, 6, 7, 8});
  for (TestRequest* r : {&first, &second}) {
    r->params.temperature = 0;
    r->params.max_tokens = 8;
    r->params.ignore_eos = true;
  }
  auto engine = Engine::create(m.model, config_with(1100, 4096), m.eog());
  REQUIRE(engine.ok());
  test::run_engine(**engine, {first});
  const EngineStats before = (*engine)->stats();
  const auto cached = test::run_engine(**engine, {second});
  const EngineStats after = (*engine)->stats();
  const int reused = 1000 / 16 * 16;  // whole blocks of the prefix
  CHECK(after.prefix_cache_hits - before.prefix_cache_hits == reused);
  CHECK(after.computed_tokens - before.computed_tokens == 1005 - reused + 7);

  EngineConfig uncached_config = config_with(1100, 4096);
  uncached_config.enable_prefix_caching = false;
  CHECK(cached == test::run_alone(m.model, uncached_config, {second}));
}

TEST_CASE("engine: bad requests and configs are clear errors") {
  TinyEngineModel m(256);
  auto engine = Engine::create(m.model, config_with(64, 4096), m.eog());
  REQUIRE(engine.ok());
  SamplingParams p;
  auto long_prompt = (*engine)->add_request("a", std::vector<int32_t>(64, 5), p);
  REQUIRE_FALSE(long_prompt.ok());
  CHECK_THAT(long_prompt.message(), Catch::Contains("max-model-len is 64"));
  CHECK_FALSE((*engine)->add_request("b", {}, p).ok());
  CHECK_FALSE((*engine)->add_request("c", {1, 999999}, p).ok());
  p.temperature = -1;
  CHECK_FALSE((*engine)->add_request("d", {1}, p).ok());
  REQUIRE((*engine)->add_request("e", {1}, {}).ok());
  CHECK_THAT((*engine)->add_request("e", {1}, {}).message(), Catch::Contains("already in use"));
  CHECK((*engine)->abort("e"));
  CHECK_FALSE((*engine)->abort("e"));

  auto too_small = Engine::create(m.model, config_with(256, 100), m.eog());
  REQUIRE_FALSE(too_small.ok());
  CHECK_THAT(too_small.message(), Catch::Contains("needs 1 MiB"));
  CHECK_THAT(too_small.message(), Catch::Contains("--kv-cache-memory"));

  EngineConfig too_long = config_with(0, 4096);
  too_long.max_model_len = 257;
  CHECK_FALSE(Engine::create(m.model, too_long, m.eog()).ok());
}
