// Embedding requests through the batching engine (SamplingParams::pooling): the vector is the
// mean (or last) of the prompt's final hidden states at unit length, the same whether the prompt
// runs alone, in chunks, beside generations, after a preemption or over a cached prefix, and
// the same from a tensor-parallel group.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "engine/model/model.hpp"
#include "engine/model/transformer.hpp"
#include "engine/serve/engine.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "tests/support/engine_runner.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;

namespace {

Model tiny_model() {
  test::TinyModelOptions o;
  auto m = load_model(test::write_tiny_model("embedding", o));
  REQUIRE(m.ok());
  return std::move(*m);
}

EngineConfig config_with(int64_t kv_tokens) {
  EngineConfig c;
  c.max_model_len = 256;
  c.kv_cache_memory = kv_tokens * 2 * 2 * 32 * 2;  // tokens x K,V x layers x kv_dim x F16
  return c;
}

std::vector<int32_t> prompt_of(int length, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> p(static_cast<size_t>(length));
  for (auto& t : p) t = static_cast<int32_t>(rng() % 260);
  return p;
}

// The prompt's final hidden states in one forward pass, pooled and scaled to unit length.
std::vector<float> direct_embedding(const Model& m, const std::vector<int32_t>& prompt,
                                    Pooling pooling) {
  const int blocks = static_cast<int>(prompt.size() + 15) / 16;
  Transformer pass(m.config, m.weights, std::make_shared<ThreadPool>(2), KvShape{blocks, 16});
  std::vector<int32_t> table(static_cast<size_t>(blocks));
  for (int i = 0; i < blocks; ++i) table[static_cast<size_t>(i)] = i;
  const SequenceChunk chunk{prompt, 0, table, ChunkLogits::none, true};
  pass.forward(std::span(&chunk, 1));
  const auto hidden = pass.hidden_states();
  const auto d = static_cast<size_t>(m.config.embedding_dim);
  REQUIRE(hidden.size() == prompt.size() * d);
  std::vector<double> sum(d, 0.0);
  const size_t first = pooling == Pooling::last ? prompt.size() - 1 : 0;
  for (size_t t = first; t < prompt.size(); ++t) {
    for (size_t i = 0; i < d; ++i) sum[i] += hidden[t * d + i];
  }
  double norm = 0;
  for (double x : sum) norm += x * x;
  std::vector<float> out(d);
  for (size_t i = 0; i < d; ++i) out[i] = static_cast<float>(sum[i] / std::sqrt(norm));
  return out;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])));
  return worst;
}

struct Embedded {
  std::map<std::string, std::vector<float>> vectors;
  std::map<std::string, int> updates;  // per request: an embedding has exactly one
};

// Runs every request to its end: embeddings for the pooled ones, tokens for the rest.
Embedded run(Engine& engine, const std::vector<std::pair<std::string, std::vector<int32_t>>>& in,
             const std::map<std::string, SamplingParams>& params) {
  for (const auto& [id, prompt] : in) REQUIRE(engine.add_request(id, prompt, params.at(id)).ok());
  Embedded out;
  while (engine.has_unfinished()) {
    for (const auto& u : engine.step().updates) {
      ++out.updates[u.request_id];
      if (params.at(u.request_id).pooling == Pooling::none) continue;
      CHECK(u.finish == FinishReason::stop);
      out.vectors[u.request_id] = u.embedding;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("embedding: the pooled final hidden states, however the engine runs the prompt") {
  const Model m = tiny_model();
  const auto eog = [&](int32_t t) { return m.tokenizer.is_eog(t); };
  const Pooling pooling = GENERATE(Pooling::mean, Pooling::last);
  // Four embeddings (two sharing a generation's 48-token prefix) among four generations.
  std::vector<std::pair<std::string, std::vector<int32_t>>> requests;
  std::map<std::string, SamplingParams> params;
  const auto shared = prompt_of(48, 99);
  for (int i = 0; i < 8; ++i) {
    std::vector<int32_t> prompt = i == 2 || i == 3 || i == 5 ? shared : std::vector<int32_t>{};
    const auto tail = prompt_of(5 + 23 * i, static_cast<uint32_t>(i));
    prompt.insert(prompt.end(), tail.begin(), tail.end());
    const std::string id = (i % 2 ? "embed" : "generate") + std::to_string(i);
    SamplingParams p;
    p.temperature = 0;
    p.max_tokens = 60;
    p.ignore_eos = true;
    if (i % 2) p.pooling = pooling;
    requests.emplace_back(id, std::move(prompt));
    params[id] = p;
  }
  // The generations run first, so the shared prefix is cached when its embedding arrives.
  std::stable_partition(requests.begin(), requests.end(),
                        [](const auto& r) { return r.first.starts_with("generate"); });

  auto variants = test::batching_variants(config_with(8192), config_with(320));
  variants.push_back({"no prefix caching", config_with(8192)});
  variants.back().config.enable_prefix_caching = false;
  for (const test::EngineVariant& v : variants) {
    INFO(v.name << (pooling == Pooling::mean ? ", mean" : ", last"));
    auto engine = Engine::create(m, v.config, eog);
    REQUIRE(engine.ok());
    const Embedded out = run(**engine, requests, params);
    for (const auto& [id, prompt] : requests) {
      INFO(id);
      if (params[id].pooling == Pooling::none) {
        CHECK(out.updates.at(id) == 60);
        continue;
      }
      CHECK(out.updates.at(id) == 1);
      CHECK(max_difference(out.vectors.at(id), direct_embedding(m, prompt, pooling)) < 1e-5);
    }
    CHECK((*engine)->stats().kv_blocks_used == 0);
    if (v.name == "preempting") CHECK((*engine)->stats().preemptions > 0);
  }

  // A tensor-parallel group's leader gives the same states (its residual stream is whole).
  auto group = Engine::create(m, config_with(8192), eog, on_cpu(2, 2));
  REQUIRE(group.ok());
  const Embedded out = run(**group, requests, params);
  for (const auto& [id, prompt] : requests) {
    if (params[id].pooling == Pooling::none) continue;
    INFO(id);
    CHECK(max_difference(out.vectors.at(id), direct_embedding(m, prompt, pooling)) < 1e-4);
  }
}

TEST_CASE("embedding: a request with n > 1 or a grammar is refused") {
  SamplingParams p;
  p.pooling = Pooling::mean;
  CHECK(validate(p, 300).ok());
  p.n = 2;
  CHECK_THAT(validate(p, 300).message(), Catch::Contains("embedding"));
}

TEST_CASE("embedding: many inputs are pooled together in one step") {
  const Model m = tiny_model();
  auto engine =
      Engine::create(m, config_with(8192), [&](int32_t t) { return m.tokenizer.is_eog(t); });
  REQUIRE(engine.ok());
  SamplingParams p;
  p.pooling = Pooling::mean;
  for (int i = 0; i < 16; ++i) {
    REQUIRE((*engine)->add_request("e" + std::to_string(i), prompt_of(10 + i, 40u + i), p).ok());
  }
  const StepOutput first = (*engine)->step();
  CHECK(first.scheduled_sequences == 16);
  CHECK(first.updates.size() == 16);
  CHECK_FALSE((*engine)->has_unfinished());
}
