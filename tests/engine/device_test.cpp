// The device seam's choice: --device names, and CUDA refused in one line where it cannot run
// (a build without nvcc, no visible device); tests/engine/cuda_forward_pass_test.cpp runs it
// where it can.
#include <catch2/catch.hpp>

#include "engine/device/forward_pass_factory.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;

TEST_CASE("device names are cpu and cuda; cuda without a device is refused with the reason") {
  CHECK(parse_device("cpu") == Device::cpu);
  CHECK(parse_device("cuda") == Device::cuda);
  CHECK_FALSE(parse_device("gpu"));
  CHECK(device_name(Device::cuda) == "cuda");
  CHECK(check_device(Device::cpu).ok());
  const Status cuda = check_device(Device::cuda);
  if (cuda.ok()) {
    WARN("a CUDA device is visible: the refusal was not checked");
    return;
  }
  CHECK_THAT(cuda.message(), Catch::StartsWith("--device cuda: "));
  CHECK_THAT(cuda.message(), Catch::EndsWith("use --device cpu"));
  CHECK(cuda.message().find('\n') == std::string::npos);
}

TEST_CASE("the factory builds the CPU pass with its own KV cache, and refuses what it cannot run") {
  auto model = load_model(test::write_tiny_model("device", {}));
  REQUIRE(model.ok());
  auto pass = make_forward_pass(*model, on_cpu(2), KvShape{3, 16});
  REQUIRE(pass.ok());
  CHECK((*pass)->kv_shape().blocks == 3);
  CHECK((*pass)->config().vocab_size == model->config.vocab_size);
  DeviceOptions cuda;
  cuda.device = Device::cuda;
  if (!check_device(Device::cuda).ok())
    CHECK_FALSE(make_forward_pass(*model, cuda, KvShape{3, 16}).ok());
  auto shard = load_model(test::write_tiny_model("device-shard", {.feed_forward = 128}), {0, 2});
  REQUIRE(shard.ok());
  CHECK_THAT(make_forward_pass(*shard, DeviceOptions{}, KvShape{3, 16}).message(),
             Catch::Contains("takes the whole model"));
  // A group's leader may hold rank 0's shard only: the other ranks load theirs.
  auto rank0 = load_model(test::write_tiny_model("device-shard", {.feed_forward = 128}),
                          model_shard(on_cpu(2, 2)));
  REQUIRE(rank0.ok());
  auto group = make_forward_pass(*rank0, on_cpu(2, 2), KvShape{3, 16});
  REQUIRE(group.ok());
  CHECK((*group)->rank_stats().size() == 2);
}
