#include "engine/model/shard_spec.hpp"

#include <string>

namespace troupe {

Status check_shard(const ModelConfig& config, const ShardSpec& shard) {
  if (shard.size < 1 || shard.rank < 0 || shard.rank >= shard.size) {
    return make_error("tensor-parallel rank " + std::to_string(shard.rank) +
                      " is outside a group of " + std::to_string(shard.size));
  }
  const auto divides = [&](int count, const char* what) -> Status {
    if (count % shard.size == 0) return Ok{};
    return make_error("the model's " + std::to_string(count) + " " + what +
                      " do not divide among " + std::to_string(shard.size) +
                      " tensor-parallel ranks");
  };
  if (auto s = divides(config.heads, "attention heads"); !s) return s;
  if (auto s = divides(config.kv_heads, "KV heads"); !s) return s;
  return divides(config.feed_forward_dim, "feed-forward features");
}

}  // namespace troupe
