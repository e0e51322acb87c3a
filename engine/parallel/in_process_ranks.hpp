#pragma once
// A tensor-parallel group whose ranks are threads of this process: every rank loads its shard
// of the model (views into the one mapped file; packed copies of its own slices), owns its KV
// cache slice and a thread pool of its share of the threads; ranks 1 .. N-1 follow rank 0 on
// threads of their own.
#include <memory>

#include "engine/device/forward_pass.hpp"
#include "engine/model/model.hpp"
#include "engine/model/shard_spec.hpp"
#include "engine/result.hpp"

namespace troupe::parallel {

struct GroupOptions {
  int size = 1;     // ranks
  int threads = 0;  // of the whole group, 0 for every core; each rank gets its share
  OutputSplit output = OutputSplit::vocabulary;
};

// The group's leader pass (group_pass.hpp). Errors: a model that does not split among the
// ranks (check_shard's, or a slice that would cut its quantization blocks).
Result<std::unique_ptr<ForwardPass>> make_in_process_group(const Model& model,
                                                           const GroupOptions& options, KvShape kv);

}  // namespace troupe::parallel
