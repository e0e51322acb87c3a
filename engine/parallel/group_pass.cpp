#include "engine/parallel/group_pass.hpp"

#include <stdexcept>
#include <vector>

namespace troupe::parallel {
namespace {

std::span<std::byte> bytes_of(CommandHeader& header) {
  return {reinterpret_cast<std::byte*>(&header), sizeof header};
}

std::span<std::byte> bytes_of(std::vector<int32_t>& words) {
  return std::as_writable_bytes(std::span(words));
}

// Every rank's totals into `all` (which holds this rank's own on entry), in rank order: each
// rank broadcasts its own in turn.
void exchange_stats(Communicator& group, std::vector<RankStats>& all) {
  const RankStats mine = all.front();
  all.assign(static_cast<size_t>(group.size()), RankStats{});
  for (int rank = 0; rank < group.size(); ++rank) {
    RankStats& entry = all[static_cast<size_t>(rank)];
    if (rank == group.rank()) entry = mine;
    group.broadcast({reinterpret_cast<std::byte*>(&entry), sizeof entry}, rank);
  }
}

// Runs `work`; if it throws anything but an abort, aborts the group first.
template <typename Work>
auto aborting_on_failure(Communicator& group, Work&& work) {
  try {
    return work();
  } catch (const CollectiveAborted&) {
    throw;
  } catch (...) {
    group.abort();
    throw;
  }
}

}  // namespace

GroupLeaderPass::GroupLeaderPass(std::unique_ptr<ForwardPass> rank0,
                                 std::shared_ptr<Communicator> group,
                                 std::unique_ptr<FollowerRanks> followers)
    : rank0_(std::move(rank0)), group_(std::move(group)), followers_(std::move(followers)) {}

GroupLeaderPass::~GroupLeaderPass() {
  try {
    if (!aborted_) send({GroupCall::stop});
  } catch (...) {
    group_->abort();  // the stop could not be delivered: end the followers' waits instead
  }
  followers_.reset();
}

void GroupLeaderPass::send(const CommandHeader& header) {
  CommandHeader copy = header;
  group_->broadcast(bytes_of(copy), 0);
}

template <typename Work>
auto GroupLeaderPass::lead(Work&& work) {
  try {
    return aborting_on_failure(*group_, std::forward<Work>(work));
  } catch (...) {
    aborted_ = true;  // no stop at the end: the followers' waits have ended
    throw;
  }
}

std::span<const float> GroupLeaderPass::forward(std::span<const SequenceChunk> batch) {
  return lead([&] {
    encode_batch(batch, words_);
    send({GroupCall::forward, static_cast<int32_t>(words_.size())});
    group_->broadcast(bytes_of(words_), 0);
    return rank0_->forward(batch);
  });
}

void GroupLeaderPass::copy_block(int32_t from, int32_t to) {
  lead([&] {
    send({GroupCall::copy_block, 0, from, to});
    rank0_->copy_block(from, to);
  });
}

std::vector<RankStats> GroupLeaderPass::rank_stats() {
  return lead([&] {
    std::vector<RankStats> all = {rank0_->own_stats()};
    send({GroupCall::report});
    exchange_stats(*group_, all);
    return all;
  });
}

void follow_leader(ForwardPass& pass, Communicator& group) {
  std::vector<int32_t> words;
  for (;;) {
    CommandHeader header;
    group.broadcast(bytes_of(header), 0);
    const bool more = aborting_on_failure(group, [&] {
      switch (header.call) {
        case GroupCall::forward:
          if (header.payload_words < 0) throw std::logic_error("follow_leader: a bad batch length");
          words.resize(static_cast<size_t>(header.payload_words));
          group.broadcast(bytes_of(words), 0);
          pass.forward(decode_batch(words));
          return true;
        case GroupCall::copy_block:
          pass.copy_block(header.from, header.to);
          return true;
        case GroupCall::report: {
          std::vector<RankStats> all = {pass.own_stats()};
          exchange_stats(group, all);
          return true;
        }
        case GroupCall::stop:
          return false;
      }
      throw std::logic_error("follow_leader: an unknown command");
    });
    if (!more) return;
  }
}

}  // namespace troupe::parallel
