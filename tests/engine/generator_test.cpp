#include <catch2/catch.hpp>

#include "engine/generate/generator.hpp"
#include "engine/model/model.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;

namespace {

struct TinyRuntime {
  Model model;
  ThreadPool pool{2};
  std::unique_ptr<Transformer> transformer;
  explicit TinyRuntime(const test::TinyModelOptions& o = {}) : model(load(o)) {
    transformer = std::make_unique<Transformer>(model.config, model.weights, pool);
  }
  static Model load(const test::TinyModelOptions& o) {
    auto m = load_model(test::write_tiny_model("generator", o));
    REQUIRE(m.ok());
    return std::move(*m);
  }
};

}  // namespace

TEST_CASE("generator: greedy output is deterministic and streamed text adds up") {
  TinyRuntime rt;
  Generator gen(*rt.transformer, rt.model.tokenizer);
  SamplingParams p;
  p.temperature = 0;
  p.max_tokens = 24;
  p.ignore_eos = true;
  const auto prompt = rt.model.tokenizer.encode("the cat", true, true);
  std::string streamed;
  auto a = gen.generate(prompt, p, [&](std::string_view t) { streamed += t; });
  auto b = gen.generate(prompt, p);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->token_ids == b->token_ids);
  CHECK(a->token_ids.size() == 24);
  CHECK(a->finish_reason == "length");
  CHECK(streamed == a->text);
}

TEST_CASE("generator: seeded sampling repeats, and stop strings and stop ids end with 'stop'") {
  TinyRuntime rt;
  Generator gen(*rt.transformer, rt.model.tokenizer);
  const auto prompt = rt.model.tokenizer.encode("on the", true, true);
  SamplingParams p;
  p.seed = 99;
  p.max_tokens = 16;
  p.ignore_eos = true;
  auto a = gen.generate(prompt, p);
  auto b = gen.generate(prompt, p);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->token_ids == b->token_ids);

  // Stop on the third generated token's id.
  SamplingParams s = p;
  s.stop_token_ids = {a->token_ids[2]};
  auto c = gen.generate(prompt, s);
  REQUIRE(c.ok());
  CHECK(c->finish_reason == "stop");
  CHECK(c->token_ids.size() <= 3);

  // Stop on a piece of the text: the text ends right before it.
  if (a->text.size() > 4) {
    SamplingParams t = p;
    t.stop = {a->text.substr(2, 2)};
    auto d = gen.generate(prompt, t);
    REQUIRE(d.ok());
    CHECK(d->finish_reason == "stop");
    CHECK(d->text.find(t.stop[0]) == std::string::npos);
    CHECK(a->text.rfind(d->text, 0) == 0);
  }
}

TEST_CASE("generator: bad requests are errors, not crashes") {
  TinyRuntime rt({.context = 64});
  Generator gen(*rt.transformer, rt.model.tokenizer);
  SamplingParams p;
  CHECK_THAT(gen.generate({}, p).message(), Catch::Contains("empty"));
  const std::vector<int32_t> long_prompt(64, 5);
  CHECK_THAT(gen.generate(long_prompt, p).message(), Catch::Contains("context"));
  const std::vector<int32_t> bad_id{100000};
  CHECK_THAT(gen.generate(bad_id, p).message(), Catch::Contains("outside the vocabulary"));
  p.max_tokens = 0;
  const std::vector<int32_t> ok{5};
  CHECK_THAT(gen.generate(ok, p).message(), Catch::Contains("max_tokens"));
}

TEST_CASE("generator: max_tokens is clamped to the context and finishes with 'length'") {
  TinyRuntime rt({.context = 40});
  Generator gen(*rt.transformer, rt.model.tokenizer);
  SamplingParams p;
  p.temperature = 0;
  p.max_tokens = 1000;
  p.ignore_eos = true;
  const std::vector<int32_t> prompt(30, 7);
  auto r = gen.generate(prompt, p);
  REQUIRE(r.ok());
  CHECK(r->token_ids.size() == 10);
  CHECK(r->finish_reason == "length");
}
