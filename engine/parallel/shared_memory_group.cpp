#include "engine/parallel/shared_memory_group.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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
              "atomics in shared memory must be lock-free (address-free)");

struct Header {
  uint64_t magic;
  int32_t size;
  uint64_t slot_bytes;
  alignas(64) std::atomic<uint32_t> aborted;
  alignas(64) std::atomic<uint32_t> wake;  // the futex word: bumped by every arrival
  alignas(64) std::atomic<int32_t> sleepers;
  Counter arrived[kMaxSharedMemoryRanks];  // each rank's count of barriers reached
};

size_t segment_bytes(int size, size_t slot_bytes) {
  return sizeof(Header) + 2 * static_cast<size_t>(size) * slot_bytes;
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

std::string fresh_name() {
  std::random_device device;
  char name[64];
  std::snprintf(name, sizeof name, "/troupe-tp-%d-%08x%08x", static_cast<int>(getpid()), device(),
                device());
  return name;
}

std::string errno_text() {
  return std::strerror(errno);
}

class SharedMemoryCommunicator final : public Communicator {
 public:
  SharedMemoryCommunicator(std::string name, void* base, size_t bytes, int rank, bool owns_name,
                           PeerCheck peer_gone)
      : name_(std::move(name)),
        base_(base),
        bytes_(bytes),
        header_(static_cast<Header*>(base)),
        rank_(rank),
        owns_name_(owns_name),
        peer_gone_(std::move(peer_gone)) {}

  ~SharedMemoryCommunicator() override {
    if (owns_name_) shm_unlink(name_.c_str());
    munmap(base_, bytes_);
  }

  int rank() const override { return rank_; }
  int size() const override { return header_->size; }
  const std::string& name() const { return name_; }
  void release_name() {
    if (owns_name_) shm_unlink(name_.c_str());
    owns_name_ = false;
  }

  void all_reduce_sum(std::span<float> data) override {
    const Timer timer(stats_);
    ++stats_.all_reduces;
    const size_t piece = header_->slot_bytes / sizeof(float);
    for (size_t first = 0; first < data.size(); first += piece) {
      const auto mine = data.subspan(first, std::min(piece, data.size() - first));
      publish(std::as_bytes(mine));
      // In rank order, from 0: every rank ends with the same bits (as the in-process group).
      std::fill(mine.begin(), mine.end(), 0.0f);
      for (int r = 0; r < size(); ++r) {
        const auto* theirs = reinterpret_cast<const float*>(slot(r));
        for (size_t i = 0; i < mine.size(); ++i) mine[i] += theirs[i];
      }
      flip();
    }
  }

  void all_gather(std::span<const float> mine, std::span<float> all) override {
    const Timer timer(stats_);
    ++stats_.all_gathers;
    const size_t piece = header_->slot_bytes / sizeof(float);
    for (size_t first = 0; first < mine.size(); first += piece) {
      const auto part = mine.subspan(first, std::min(piece, mine.size() - first));
      publish(std::as_bytes(part));
      for (int r = 0; r < size(); ++r) {
        std::memcpy(all.data() + r * mine.size() + first, slot(r), part.size_bytes());
      }
      flip();
    }
  }

  void broadcast(std::span<std::byte> data, int root) override {
    const Timer timer(stats_);
    ++stats_.broadcasts;
    const size_t piece = header_->slot_bytes;
    for (size_t first = 0; first < data.size(); first += piece) {
      const auto part = data.subspan(first, std::min(piece, data.size() - first));
      publish(rank_ == root ? std::span<const std::byte>(part) : std::span<const std::byte>{});
      if (rank_ != root) std::memcpy(part.data(), slot(root), part.size());
      flip();
    }
  }

  void barrier() override { arrive_and_wait(); }

  void abort() override {
    header_->aborted.store(1);
    header_->wake.fetch_add(1);
    futex(&header_->wake, FUTEX_WAKE, INT_MAX, nullptr);
  }

  CollectiveStats stats() const override { return stats_; }

 private:
  struct Timer {
    explicit Timer(CollectiveStats& stats) : stats(stats) {}
    ~Timer() {
      stats.seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    CollectiveStats& stats;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  };

  std::byte* slot(int rank) const {
    auto* slots = reinterpret_cast<std::byte*>(header_ + 1);
    return slots + (static_cast<size_t>(set_) * header_->size + rank) * header_->slot_bytes;
  }
  void flip() { set_ ^= 1; }

  // Writes this rank's part into its slot of the current set, then waits for every rank.
  void publish(std::span<const std::byte> part) {
    if (!part.empty()) std::memcpy(slot(rank_), part.data(), part.size());
    arrive_and_wait();
  }

  bool all_arrived(uint64_t generation) const {
    for (int r = 0; r < header_->size; ++r) {
      if (header_->arrived[r].value.load(std::memory_order_acquire) < generation) return false;
    }
    return true;
  }

  void throw_if_aborted() {
    if (header_->aborted.load()) throw CollectiveAborted("the tensor-parallel group was aborted");
  }

  void arrive_and_wait() {
    const uint64_t generation = ++generation_;
    header_->arrived[rank_].value.store(generation, std::memory_order_release);
    header_->wake.fetch_add(1);
    if (header_->sleepers.load() > 0) futex(&header_->wake, FUTEX_WAKE, INT_MAX, nullptr);

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
      if (!all_arrived(generation) && !header_->aborted.load()) {
        futex(&header_->wake, FUTEX_WAIT, seen, &poll);
      }
      header_->sleepers.fetch_sub(1);
      if (all_arrived(generation)) return;
      throw_if_aborted();
      if (peer_gone_) {
        if (auto why = peer_gone_()) {
          abort();
          throw CollectiveAborted(*why);
        }
      }
    }
  }

  std::string name_;
  void* base_;
  size_t bytes_;
  Header* header_;
  int rank_;
  bool owns_name_;
  PeerCheck peer_gone_;
  uint64_t generation_ = 0;
  int set_ = 0;
  CollectiveStats stats_;
};

Result<void*> map_segment(int fd, size_t bytes) {
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED)
    return make_error("cannot map the tensor-parallel group: " + errno_text());
  return base;
}

}  // namespace

Result<std::unique_ptr<Communicator>> create_shared_memory_group(int size, size_t slot_bytes,
                                                                 PeerCheck peer_gone) {
  if (size < 1 || size > kMaxSharedMemoryRanks)
    return make_error("a shared-memory group has 1 to " + std::to_string(kMaxSharedMemoryRanks) +
                      " ranks, not " + std::to_string(size));
  slot_bytes = std::max<size_t>(64, slot_bytes / 64 * 64);  // whole cache lines
  const std::string name = fresh_name();
  const int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0)
    return make_error("cannot create the tensor-parallel group's shared memory: " + errno_text());
  const size_t bytes = segment_bytes(size, slot_bytes);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const std::string why = errno_text();
    close(fd);
    shm_unlink(name.c_str());
    return make_error("cannot size the tensor-parallel group's shared memory: " + why);
  }
  auto base = map_segment(fd, bytes);
  close(fd);
  if (!base) {
    shm_unlink(name.c_str());
    return base.error();
  }
  auto* header = new (*base) Header{};
  header->size = size;
  header->slot_bytes = slot_bytes;
  std::atomic_thread_fence(std::memory_order_release);
  header->magic = kMagic;
  return std::unique_ptr<Communicator>(std::make_unique<SharedMemoryCommunicator>(
      name, *base, bytes, 0, true, std::move(peer_gone)));
}

Result<std::unique_ptr<Communicator>> join_shared_memory_group(const std::string& name, int rank,
                                                               PeerCheck peer_gone) {
  const int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0)
    return make_error("cannot open the tensor-parallel group '" + name + "': " + errno_text());
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(Header)) {
    close(fd);
    return make_error("'" + name + "' is not a tensor-parallel group");
  }
  const auto bytes = static_cast<size_t>(st.st_size);
  auto base = map_segment(fd, bytes);
  close(fd);
  if (!base) return base.error();
  const auto* header = static_cast<const Header*>(*base);
  if (header->magic != kMagic || header->size < 1 || header->size > kMaxSharedMemoryRanks ||
      segment_bytes(header->size, header->slot_bytes) != bytes || rank < 1 ||
      rank >= header->size) {
    munmap(*base, bytes);
    return make_error("'" + name + "' is not a tensor-parallel group with a rank " +
                      std::to_string(rank));
  }
  return std::unique_ptr<Communicator>(std::make_unique<SharedMemoryCommunicator>(
      name, *base, bytes, rank, false, std::move(peer_gone)));
}

std::string shared_memory_name(const Communicator& group) {
  return dynamic_cast<const SharedMemoryCommunicator&>(group).name();
}

void release_name(Communicator& group) {
  dynamic_cast<SharedMemoryCommunicator&>(group).release_name();
}

}  // namespace troupe::parallel
