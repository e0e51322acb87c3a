#include "engine/parallel/in_process_ranks.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include "engine/model/transformer.hpp"
#include "engine/parallel/group_pass.hpp"
#include "engine/parallel/in_process_group.hpp"

namespace troupe::parallel {
namespace {

class RankThreads final : public FollowerRanks {
 public:
  ~RankThreads() override {
    for (std::thread& t : threads_) t.join();
  }
  // Runs `pass` as a follower; a failure has aborted the group, so the thread just ends.
  void start(std::unique_ptr<ForwardPass> pass, std::shared_ptr<Communicator> communicator) {
    threads_.emplace_back([pass = std::move(pass), communicator = std::move(communicator)] {
      try {
        follow_leader(*pass, *communicator);
      } catch (...) {
        communicator->abort();
      }
    });
  }

 private:
  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<ForwardPass>> make_in_process_group(const Model& model,
                                                           const GroupOptions& options,
                                                           KvShape kv) {
  const int size = options.size;
  // Each rank's pool on cores of its own: rank r's after rank r-1's.
  const int share = std::max(1, ThreadPool::size_for(options.threads) / size);
  InProcessGroup group(size);  // its communicators keep its memory
  std::vector<std::unique_ptr<ForwardPass>> passes;
  std::vector<std::shared_ptr<Communicator>> communicators;
  for (int rank = 0; rank < size; ++rank) {
    auto weights = shard_weights(model, ShardSpec{rank, size, options.output});
    if (!weights) return weights.error();
    communicators.push_back(group.communicator(rank));
    passes.push_back(std::make_unique<Transformer>(
        model.config, std::move(*weights), std::make_shared<ThreadPool>(share, true, rank * share),
        kv, communicators.back()));
  }
  auto followers = std::make_unique<RankThreads>();
  for (int rank = 1; rank < size; ++rank)
    followers->start(std::move(passes[rank]), communicators[rank]);
  return std::unique_ptr<ForwardPass>(std::make_unique<GroupLeaderPass>(
      std::move(passes[0]), communicators[0], std::move(followers)));
}

}  // namespace troupe::parallel
