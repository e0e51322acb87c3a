#include "engine/parallel/shared_memory_group.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace troupe::parallel {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

std::string fresh_name() {
  std::random_device device;
  char name[64];
  std::snprintf(name, sizeof name, "/troupe-tp-%d-%08x%08x", static_cast<int>(getpid()), device(),
                device());
  return name;
}

// A mapped segment; its creator also removes its name (once, early or at the end).
class SharedSegment final : public SlotMemory {
 public:
  SharedSegment(std::string name, void* base, size_t bytes, bool owns_name)
      : name_(std::move(name)), base_(base), bytes_(bytes), owns_name_(owns_name) {}
  ~SharedSegment() override {
    release_name();
    munmap(base_, bytes_);
  }
  void* base() const override { return base_; }
  const std::string& name() const { return name_; }
  void release_name() {
    if (owns_name_) shm_unlink(name_.c_str());
    owns_name_ = false;
  }

 private:
  std::string name_;
  void* base_;
  size_t bytes_;
  bool owns_name_;
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
  if (size < 1 || size > kMaxSlotRanks)
    return make_error("a tensor-parallel group has 1 to " + std::to_string(kMaxSlotRanks) +
                      " ranks, not " + std::to_string(size));
  slot_bytes = std::max<size_t>(64, slot_bytes / 64 * 64);  // whole cache lines
  const std::string name = fresh_name();
  const int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0)
    return make_error("cannot create the tensor-parallel group's shared memory: " + errno_text());
  const size_t bytes = slot_group_bytes(size, slot_bytes);
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
  format_slot_group(*base, size, slot_bytes);
  return slot_communicator(std::make_shared<SharedSegment>(name, *base, bytes, true), 0,
                           std::move(peer_gone));
}

Result<std::unique_ptr<Communicator>> join_shared_memory_group(const std::string& name, int rank,
                                                               PeerCheck peer_gone) {
  const int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0)
    return make_error("cannot open the tensor-parallel group '" + name + "': " + errno_text());
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return make_error("'" + name + "' is not a tensor-parallel group");
  }
  const auto bytes = static_cast<size_t>(st.st_size);
  auto base = map_segment(fd, bytes);
  close(fd);
  if (!base) return base.error();
  auto segment = std::make_shared<SharedSegment>(name, *base, bytes, false);
  if (auto s = check_slot_group(*base, bytes, std::max(rank, 1)); !s || rank < 1)
    return make_error("'" + name + "': " + s.message());
  return slot_communicator(std::move(segment), rank, std::move(peer_gone));
}

std::string shared_memory_name(Communicator& group) {
  return dynamic_cast<SharedSegment&>(slot_memory(group)).name();
}

void release_name(Communicator& group) {
  dynamic_cast<SharedSegment&>(slot_memory(group)).release_name();
}

}  // namespace troupe::parallel
