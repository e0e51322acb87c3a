#include "engine/parallel/slot_collectives.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <new>
#include <typeinfo>

#include "kernels/cpu/cpu_relax.hpp"

namespace troupe::parallel {
namespace {

constexpr uint64_t kMagic = 0x7472'6f75'7065'7470ULL;  // "troupetp"
// How long a wait spins before it sleeps: longer than the gap between ranks' arrivals inside a
// step, much shorter than a follower's wait for the next step.
constexpr auto kSpin = std::chrono::microseconds(100);
// How often a sleeping wait wakes to look for a dead peer.
constexpr auto kPeerPoll = std::chrono::milliseconds(20);

struct alignas(64) Counter {
  std::atomic<uint64_t> value;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "atomics shared between processes must be lock-free (address-free)");

struct Header {
  uint64_t magic;
  int32_t size;
  uint64_t slot_bytes;
  alignas(64) std::atomic<uint32_t> aborted;
  alignas(64) std::atomic<uint32_t> wake;  // the futex word: bumped by every arrival
  alignas(64) std::atomic<int32_t> sleepers;
  Counter arrived[kMaxSlotRanks];  // each rank's count of barriers reached
};

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

void wake_all(Header& header) {
  header.wake.fetch_add(1);
  if (header.sleepers.load() > 0) futex(&header.wake, FUTEX_WAKE, INT_MAX, nullptr);
}

class SlotCommunicator final : public Communicator {
 public:
  SlotCommunicator(std::shared_ptr<SlotMemory> memory, int rank, PeerCheck peer_gone)
      : memory_(std::move(memory)),
        header_(static_cast<Header*>(memory_->base())),
        rank_(rank),
        peer_gone_(std::move(peer_gone)) {}

  int rank() const override { return rank_; }
  int size() const override { return header_->size; }
  SlotMemory& memory() { return *memory_; }

  void all_reduce_sum(std::span<float> data) override {
    const CollectiveTimer timer(stats_);
    ++stats_.all_reduces;
    in_pieces(data.size(), sizeof(float), [&](size_t first, size_t length) {
      const auto mine = data.subspan(first, length);
      publish(std::as_bytes(mine));
      // In rank order, from 0: every rank ends with the same bits.
      std::fill(mine.begin(), mine.end(), 0.0f);
      for (int r = 0; r < size(); ++r) {
        const auto* theirs = reinterpret_cast<const float*>(slot(r));
        for (size_t i = 0; i < mine.size(); ++i) mine[i] += theirs[i];
      }
    });
  }

  void all_gather(std::span<const float> mine, std::span<float> all) override {
    const CollectiveTimer timer(stats_);
    ++stats_.all_gathers;
    in_pieces(mine.size(), sizeof(float), [&](size_t first, size_t length) {
      const auto part = mine.subspan(first, length);
      publish(std::as_bytes(part));
      for (int r = 0; r < size(); ++r)
        std::memcpy(all.data() + r * mine.size() + first, slot(r), part.size_bytes());
    });
  }

  void broadcast(std::span<std::byte> data, int root) override {
    const CollectiveTimer timer(stats_);
    ++stats_.broadcasts;
    in_pieces(data.size(), 1, [&](size_t first, size_t length) {
      const auto part = data.subspan(first, length);
      publish(rank_ == root ? std::span<const std::byte>(part) : std::span<const std::byte>{});
      if (rank_ != root) std::memcpy(part.data(), slot(root), part.size());
    });
  }

  void barrier() override { arrive_and_wait(); }
  void abort() override { abort_slot_group(header_); }
  CollectiveStats stats() const override { return stats_; }

 private:
  std::byte* slot(int rank) const {
    auto* slots = reinterpret_cast<std::byte*>(header_ + 1);
    return slots + (static_cast<size_t>(set_) * header_->size + rank) * header_->slot_bytes;
  }
  void flip() { set_ ^= 1; }

  // A collective over `count` elements of `element_bytes` runs in slot-sized pieces:
  // round(first, length) publishes and combines one piece, then the slot sets flip.
  template <typename Round>
  void in_pieces(size_t count, size_t element_bytes, Round round) {
    const size_t piece = header_->slot_bytes / element_bytes;
    for (size_t first = 0; first < count; first += piece) {
      round(first, std::min(piece, count - first));
      flip();
    }
  }

  // Writes this rank's part into its slot of the current set, then waits for every rank.
  void publish(std::span<const std::byte> part) {
    if (!part.empty()) std::memcpy(slot(rank_), part.data(), part.size());
    arrive_and_wait();
  }

  bool all_arrived(uint64_t generation) const {
    for (int r = 0; r < header_->size; ++r)
      if (header_->arrived[r].value.load(std::memory_order_acquire) < generation) return false;
    return true;
  }

  void throw_if_aborted() const {
    if (header_->aborted.load()) throw CollectiveAborted("the tensor-parallel group was aborted");
  }

  void arrive_and_wait() {
    throw_if_aborted();
    const uint64_t generation = ++generation_;
    header_->arrived[rank_].value.store(generation, std::memory_order_release);
    wake_all(*header_);

    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
      if (all_arrived(generation)) return;
      if ((i & 63) == 0) {
        throw_if_aborted();
        if (std::chrono::steady_clock::now() > spin_until) break;
      }
      cpu_relax();
    }
    const timespec poll{0, std::chrono::nanoseconds(kPeerPoll).count()};
    for (;;) {
      const uint32_t seen = header_->wake.load();
      header_->sleepers.fetch_add(1);
      if (!all_arrived(generation) && !header_->aborted.load())
        futex(&header_->wake, FUTEX_WAIT, seen, &poll);
      header_->sleepers.fetch_sub(1);
      if (all_arrived(generation)) return;
      throw_if_aborted();
      if (!peer_gone_) continue;
      if (auto why = peer_gone_()) {
        abort();
        throw CollectiveAborted(*why);
      }
    }
  }

  std::shared_ptr<SlotMemory> memory_;
  Header* header_;
  int rank_;
  PeerCheck peer_gone_;
  uint64_t generation_ = 0;
  int set_ = 0;
  CollectiveStats stats_;
};

}  // namespace

size_t slot_group_bytes(int size, size_t slot_bytes) {
  return sizeof(Header) + 2 * static_cast<size_t>(size) * slot_bytes;
}

void format_slot_group(void* base, int size, size_t slot_bytes) {
  auto* header = new (base) Header{};
  header->size = size;
  header->slot_bytes = slot_bytes;
  std::atomic_thread_fence(std::memory_order_release);
  header->magic = kMagic;
}

Status check_slot_group(const void* base, size_t bytes, int rank) {
  const auto* header = static_cast<const Header*>(base);
  if (bytes < sizeof(Header) || header->magic != kMagic || header->size < 1 ||
      header->size > kMaxSlotRanks || slot_group_bytes(header->size, header->slot_bytes) != bytes)
    return make_error("not a tensor-parallel group");
  if (rank < 0 || rank >= header->size)
    return make_error("a tensor-parallel group of " + std::to_string(header->size) +
                      " ranks has no rank " + std::to_string(rank));
  return Ok{};
}

std::unique_ptr<Communicator> slot_communicator(std::shared_ptr<SlotMemory> memory, int rank,
                                                PeerCheck peer_gone) {
  return std::make_unique<SlotCommunicator>(std::move(memory), rank, std::move(peer_gone));
}

SlotMemory& slot_memory(Communicator& communicator) {
  return dynamic_cast<SlotCommunicator&>(communicator).memory();
}

void abort_slot_group(void* base) {
  auto* header = static_cast<Header*>(base);
  header->aborted.store(1);
  header->wake.fetch_add(1);
  futex(&header->wake, FUTEX_WAKE, INT_MAX, nullptr);
}

}  // namespace troupe::parallel
