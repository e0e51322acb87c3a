// The deployment planner against figures computed by hand: KV bytes per token for the default
// model (23,040: 2 x 30 layers x 3 KV heads x 64 x 2 bytes) and for Llama-3.1-8B from its
// published config.json (131,072: 2 x 32 x 8 x 128 x 2), the parameters counted from a config
// (Llama-3.1-8B: 8,030,261,248; SmolLM2-135M: 134,515,008, as its GGUF's tensors sum), the KV
// tokens and sequences that fit, and the quantization suggested when the weights do not fit.
#include <catch2/catch.hpp>

#include "engine/plan/model_shape.hpp"

using namespace troupe::plan;

namespace {

// The published configs' dimensions (tests/fixtures/hf/*-config.json, which troupe plan
// --hf-config reads in tests/deploy/test_plan.py).
constexpr DecoderDims kLlama31_8B{4096, 32, 32, 8, 128, 14336, 128256, 131072, false};
constexpr DecoderDims kSmolLM2_135M{576, 30, 9, 3, 64, 1536, 49152, 8192, true};

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

}  // namespace

TEST_CASE("a decoder's dimensions give the shape, the parameters and the KV bytes per token") {
  auto llama = shape_of_decoder(kLlama31_8B, "llama", "BF16");
  REQUIRE(llama);
  CHECK(llama->layers == 32);
  CHECK(llama->kv_heads == 8);
  CHECK(llama->head_dim == 128);
  CHECK(llama->context_length == 131072);
  CHECK(llama->parameters == 8'030'261'248);
  CHECK(llama->weight_type == "BF16");
  CHECK(llama->weight_bytes == 2 * 8'030'261'248);

  auto smol = shape_of_decoder(kSmolLM2_135M, "smol", "Q8_0");
  REQUIRE(smol);
  CHECK(smol->parameters == 134'515'008);  // tied embeddings: no separate output matrix
  CHECK(smol->weight_bytes == int64_t(134'515'008 * 8.5 / 8));

  PlanRequest request{*llama, 80 * kGiB, 8192};
  auto plan = plan_deployment(request);
  REQUIRE(plan);
  CHECK(plan->kv_bytes_per_token == 131'072);
  request.model = *smol;
  CHECK(plan_deployment(request)->kv_bytes_per_token == 23'040);
}

TEST_CASE("the KV cache takes what the weights and the overhead leave of the usable memory") {
  ModelShape shape{"m", 30, 3, 64, 8192, 134'515'008, 96'576'768, "Q4_1"};
  PlanRequest request{shape, 2 * kGiB, 2048};
  auto plan = plan_deployment(request);
  REQUIRE(plan);
  const int64_t usable = int64_t(2 * kGiB * 0.9);
  CHECK(plan->kv_cache_bytes == usable - 96'576'768 - 512 * kMiB);
  CHECK(plan->kv_tokens == plan->kv_cache_bytes / 23'040);
  CHECK(plan->concurrent_sequences == plan->kv_tokens / 2048);
  CHECK(plan->max_model_len == 2048);
  CHECK(plan->memory_request == usable);  // on the CPU: weights, KV cache and overhead
  CHECK(plan->memory_limit == usable + usable / 10);
  request.max_model_len = 0;  // the model's context
  CHECK(plan_deployment(request)->max_model_len == 8192);
  request.on_gpu = true;  // the pod holds the weights and the process, the GPU the KV cache
  CHECK(plan_deployment(request)->memory_request == 96'576'768 + 512 * kMiB);
}

TEST_CASE("a model that does not fit names the quantization that would, or says none would") {
  auto llama = shape_of_decoder(kLlama31_8B, "llama", "BF16");
  REQUIRE(llama);
  PlanRequest request{*llama, 12 * kGiB, 8192};
  auto plan = plan_deployment(request);
  REQUIRE_FALSE(plan);
  CHECK(plan.message().find("does not fit in 12.00 GiB") != std::string::npos);
  CHECK(plan.message().find("quantized to Q8_0") != std::string::npos);
  request.device_memory = 8 * kGiB;  // Q8_0 (7.95 GiB) no longer fits; Q5_K (5.14 GiB) does
  CHECK(plan_deployment(request).message().find("quantized to Q5_K") != std::string::npos);
  request.device_memory = 2 * kGiB;
  CHECK(plan_deployment(request).message().find("no quantization troupe runs") !=
        std::string::npos);
}

TEST_CASE("bad shapes and configs are refused with the reason") {
  CHECK_FALSE(plan_deployment({ModelShape{"m", 0, 3, 64, 8192, 1, 1, "F16"}, kGiB, 0}));
  CHECK(plan_deployment({ModelShape{"m", 1, 1, 64, 0, 1, 1, "F16"}, kGiB, 0})
            .message()
            .find("give --max-model-len") != std::string::npos);
  CHECK(shape_of_decoder(kLlama31_8B, "c", "Q3_K").message() == "unknown weight type 'Q3_K'");
}

TEST_CASE("tensor parallelism: the valid sizes, each rank's share, and the size to recommend") {
  auto smol = shape_of_decoder(kSmolLM2_135M, "smol", "Q8_0");
  auto llama = shape_of_decoder(kLlama31_8B, "llama", "BF16");
  REQUIRE(smol);
  REQUIRE(llama);
  // 9 query heads, 3 KV heads and 1,536 features: 3 splits them all; 9 would split the heads
  // (the KV replicated) but not the features.
  CHECK(tensor_parallel_sizes(*smol) == std::vector<int>{1, 3});
  CHECK(tensor_parallel_sizes(*llama) == std::vector<int>{1, 2, 4, 8, 16, 32});
  CHECK(*tensor_parallel_refusal(*smol, 2) ==
        "tensor-parallel size 2 does not split the model's 9 query heads, 3 KV heads and 1536 "
        "feed-forward features evenly; valid sizes: 1, 3");
  CHECK_FALSE(tensor_parallel_refusal(*smol, 3));

  PlanRequest request{*smol, 2 * kGiB, 2048};
  request.tensor_parallel = 3;
  auto three = plan_deployment(request);
  REQUIRE(three);
  CHECK(three->kv_bytes_per_token_per_rank == 2 * 30 * 1 * 64 * 2);  // 7,680: one KV head each
  CHECK_FALSE(three->kv_heads_replicated);
  CHECK(three->weight_bytes_per_rank == (smol->weight_bytes + 2) / 3);
  CHECK(three->kv_tokens == three->kv_cache_bytes / 7'680);
  request.tensor_parallel = 9;
  CHECK(plan_deployment(request).message().find("1536 feed-forward features") != std::string::npos);
  request.tensor_parallel = 2;
  CHECK(plan_deployment(request).message().find("does not split") != std::string::npos);

  PlanRequest big{*llama, 8 * kGiB, 8192};
  big.on_gpu = true;
  big.tensor_parallel = 4;
  auto four = plan_deployment(big);
  REQUIRE(four);
  CHECK(four->kv_bytes_per_token_per_rank == 2 * 32 * 2 * 128 * 2);  // 32,768
  CHECK(four->memory_request == llama->weight_bytes + 4 * 512 * kMiB);
  big.tensor_parallel = 16;  // 8 KV heads among 16 ranks: each keeps one, read by two ranks
  auto sixteen = plan_deployment(big);
  REQUIRE(sixteen);
  CHECK(sixteen->kv_heads_replicated);
  CHECK(sixteen->kv_bytes_per_token_per_rank == 2 * 32 * 1 * 128 * 2);  // 16,384
  // 8 GiB devices: one holds no BF16 8B model, two do not either (7.5 GiB of weights each).
  CHECK(*recommend_tensor_parallel(big, 8) == 4);
  CHECK(recommend_tensor_parallel(big, 2).message().find("one rank's of 2") != std::string::npos);
}
