#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include "engine/kv/kv_cache.hpp"
#include "engine/model/model.hpp"
#include "engine/serve/single_request.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;

namespace {

// One request at a time through the batching engine, as troupe generate and chat run it.
struct TinyRuntime {
  Model model;
  std::unique_ptr<Engine> engine;
  explicit TinyRuntime(const test::TinyModelOptions& o = {}) : model(load(o)) {
    auto created = Engine::create(
        model, single_request_config(model.config),
        [this](int32_t t) { return model.tokenizer.is_eog(t); }, on_cpu(2));
    REQUIRE(created.ok());
    engine = std::move(*created);
  }
  static Model load(const test::TinyModelOptions& o) {
    auto m = load_model(test::write_tiny_model("single-request", o));
    REQUIRE(m.ok());
    return std::move(*m);
  }
  Result<SingleRequestOutput> generate(std::vector<int32_t> prompt, const SamplingParams& params,
                                       const TextCallback& on_text = {}) {
    auto out = run_single_request(*engine, model.tokenizer, std::move(prompt), params, on_text);
    CHECK_FALSE(engine->has_unfinished());  // nothing left behind for the next request
    return out;
  }
};

}  // namespace

TEST_CASE("single request: greedy output is deterministic and streamed text adds up") {
  TinyRuntime rt;
  SamplingParams p;
  p.temperature = 0;
  p.max_tokens = 24;
  p.ignore_eos = true;
  const auto prompt = rt.model.tokenizer.encode("the cat", true, true);
  std::string streamed;
  auto a = rt.generate(prompt, p, [&](std::string_view t) { streamed += t; });
  auto b = rt.generate(prompt, p);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->token_ids == b->token_ids);
  CHECK(a->token_ids.size() == 24);
  CHECK(a->finish_reason == "length");
  CHECK(streamed == a->text);
}

TEST_CASE(
    "single request: seeded sampling repeats, and stop strings and stop ids end with 'stop'") {
  TinyRuntime rt;
  const auto prompt = rt.model.tokenizer.encode("on the", true, true);
  SamplingParams p;
  p.seed = 99;
  p.max_tokens = 16;
  p.ignore_eos = true;
  auto a = rt.generate(prompt, p);
  auto b = rt.generate(prompt, p);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->token_ids == b->token_ids);

  // Stop on the third generated token's id.
  SamplingParams s = p;
  s.stop_token_ids = {a->token_ids[2]};
  auto c = rt.generate(prompt, s);
  REQUIRE(c.ok());
  CHECK(c->finish_reason == "stop");
  CHECK(c->token_ids.size() <= 3);

  // Stop on a piece of the text: the text ends right before it.
  if (a->text.size() > 4) {
    SamplingParams t = p;
    t.stop = {a->text.substr(2, 2)};
    auto d = rt.generate(prompt, t);
    REQUIRE(d.ok());
    CHECK(d->finish_reason == "stop");
    CHECK(d->text.find(t.stop[0]) == std::string::npos);
    CHECK(a->text.rfind(d->text, 0) == 0);
  }
}

TEST_CASE("single request: bad requests are errors, not crashes") {
  TinyRuntime rt({.context = 64});
  SamplingParams p;
  CHECK_THAT(rt.generate({}, p).message(), Catch::Contains("empty"));
  const std::vector<int32_t> long_prompt(64, 5);
  CHECK_THAT(rt.generate(long_prompt, p).message(), Catch::Contains("context"));
  const std::vector<int32_t> bad_id{100000};
  CHECK_THAT(rt.generate(bad_id, p).message(), Catch::Contains("outside the vocabulary"));
  p.max_tokens = 0;
  const std::vector<int32_t> ok{5};
  CHECK_THAT(rt.generate(ok, p).message(), Catch::Contains("max_tokens"));
}

TEST_CASE("single request: max_tokens is clamped to the context and finishes with 'length'") {
  TinyRuntime rt({.context = 40});
  SamplingParams p;
  p.temperature = 0;
  p.max_tokens = 1000;
  p.ignore_eos = true;
  const std::vector<int32_t> prompt(30, 7);
  auto r = rt.generate(prompt, p);
  REQUIRE(r.ok());
  CHECK(r->token_ids.size() == 10);
  CHECK(r->finish_reason == "length");
}

TEST_CASE("a single request's KV cache, a whole context's worth, is not faulted in up front") {
  // troupe generate and chat size the cache to the model's context (an 8B model's 128k tokens
  // are 16 GiB): only the blocks a conversation writes may take memory.
  const Model model = TinyRuntime::load({});
  const EngineConfig config = single_request_config(model.config);
  CHECK_FALSE(config.prefault_kv_cache);
  CHECK(EngineConfig{}.prefault_kv_cache);  // a server reserves its cache, as vLLM does

  const int blocks = 64;
  KvCache lazy(model.config, blocks, 16, false);
  CHECK_FALSE(lazy.prefaulted());
  const PagedKvLayer layer = lazy.layer(0);
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t bytes = size_t{blocks} * 16 * size_t(layer.kv_dim) * sizeof(uint16_t);
  std::vector<unsigned char> resident((bytes + page - 1) / page);
  REQUIRE(mincore(layer.keys, bytes, resident.data()) == 0);
  for (unsigned char r : resident) CHECK((r & 1) == 0);
  CHECK(KvCache(model.config, blocks, 16, true).prefaulted());
}
