#pragma once
// A tensor-parallel group seen as one ForwardPass. The leader (rank 0) is what the model runner
// holds: each call is first broadcast to the other ranks (group_command.hpp), then every rank
// runs its shard's pass together with the others, meeting in its collectives; rank 0's logits
// are the group's. The other ranks run follow_leader() wherever they live — threads of this
// process or processes of their own. A rank that fails aborts the group: every rank's pending
// collective throws CollectiveAborted, so the leader's caller sees the failure and the whole
// group is rebuilt (no rank keeps a half-step's cache).
#include <memory>
#include <vector>

#include "engine/device/forward_pass.hpp"
#include "engine/parallel/communicator.hpp"
#include "engine/parallel/group_command.hpp"

namespace troupe::parallel {

// What keeps ranks 1 .. N-1 running; destroying it waits for them to end (after the leader sent
// stop, or the group was aborted).
class FollowerRanks {
 public:
  virtual ~FollowerRanks() = default;
};

class GroupLeaderPass final : public ForwardPass {
 public:
  // `rank0` is rank 0's pass over its shard, `group` its communicator.
  GroupLeaderPass(std::unique_ptr<ForwardPass> rank0, std::shared_ptr<Communicator> group,
                  std::unique_ptr<FollowerRanks> followers);
  // Sends stop (unless the group was aborted), then waits for the followers.
  ~GroupLeaderPass() override;

  const ModelConfig& config() const override { return rank0_->config(); }
  KvShape kv_shape() const override { return rank0_->kv_shape(); }
  // Throws CollectiveAborted when another rank failed; aborts the group when rank 0's own pass
  // throws, so the others do not wait for it.
  std::span<const float> forward(std::span<const SequenceChunk> batch) override;
  void copy_block(int32_t from, int32_t to) override;
  // Rank 0's threads: between steps the other ranks only wait for the next command.
  ThreadPool* host_threads() override { return rank0_->host_threads(); }
  std::span<const float> hidden_states() const override { return rank0_->hidden_states(); }
  // Rank 0's, the broadcasts of each call's command included.
  RankStats own_stats() const override { return rank0_->own_stats(); }
  // Sends `report`: each rank in turn broadcasts its own totals (taken before the report).
  std::vector<RankStats> rank_stats() override;

 private:
  void send(const CommandHeader& header);
  // Runs a call of the leader's; a failure marks the group aborted (and aborts it, unless the
  // failure was the abort).
  template <typename Work>
  auto lead(Work&& work);

  std::unique_ptr<ForwardPass> rank0_;
  std::shared_ptr<Communicator> group_;
  std::unique_ptr<FollowerRanks> followers_;
  bool aborted_ = false;
  std::vector<int32_t> words_;  // the batch as sent, reused step after step
};

// A follower rank's loop: receives each command from rank 0 and runs it on `pass`, until stop.
// Throws CollectiveAborted when the group is aborted; when its own pass throws, aborts the group
// first.
void follow_leader(ForwardPass& pass, Communicator& group);

}  // namespace troupe::parallel
