// Teacher-forced next-token distributions of the default model against llama.cpp's, recorded
// by bench/reference/make_fixtures.py in tests/fixtures/reference/logits.json.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/model/model.hpp"
#include "engine/model/transformer.hpp"
#include "tests/support/default_model.hpp"

using namespace troupe;

TEST_CASE("default model: teacher-forced logits agree with llama.cpp") {
  std::ifstream in(TROUPE_FIXTURES_DIR "/reference/logits.json");
  REQUIRE(in);
  const auto fixture = nlohmann::json::parse(in);
  auto model = load_model(test::default_model_path());
  REQUIRE(model.ok());
  const auto pool = std::make_shared<ThreadPool>();
  const auto vocab = static_cast<size_t>(model->config.vocab_size);

  int positions = 0, top1_agree = 0, compared = 0;
  double abs_delta = 0;
  for (const auto& prompt : fixture["prompts"]) {
    const auto ids = prompt["ids"].get<std::vector<int32_t>>();
    const int blocks = static_cast<int>(ids.size() + 15) / 16;
    Transformer transformer(model->config, model->weights, pool, KvShape{blocks, 16});
    std::vector<int32_t> table(static_cast<size_t>(blocks));
    for (size_t b = 0; b < table.size(); ++b) table[b] = static_cast<int32_t>(b);
    const SequenceChunk chunk{ids, 0, table, ChunkLogits::every};
    const auto logits = transformer.forward(std::span(&chunk, 1));
    const auto& expected = prompt["positions"];
    for (size_t p = 0; p < expected.size(); ++p) {
      const float* row = logits.data() + p * vocab;
      const float max = *std::max_element(row, row + vocab);
      double z = 0;
      for (size_t i = 0; i < vocab; ++i) z += std::exp(double(row[i]) - max);
      const double log_z = max + std::log(z);
      const auto top1 = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
      ++positions;
      top1_agree += top1 == expected[p]["top1"].get<int32_t>();
      for (const auto& entry : expected[p]["top5"]) {
        const auto id = entry[0].get<size_t>();
        abs_delta += std::abs(double(row[id]) - log_z - entry[1].get<double>());
        ++compared;
      }
    }
  }
  const double agreement = double(top1_agree) / positions;
  const double mean_delta = abs_delta / compared;
  INFO(positions << " positions: top-1 agreement " << agreement << ", mean |delta logprob| "
                 << mean_delta);
  CHECK(positions >= 20 * 64);
  CHECK(agreement >= 0.98);
  CHECK(mean_delta < 0.05);
  WARN("top-1 agreement " << agreement << ", mean |delta logprob| over llama.cpp's top-5 "
                          << mean_delta);
}
