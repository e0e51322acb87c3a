#pragma once
// A tensor-parallel group whose ranks are threads of one process: each thread takes its rank's
// Communicator and calls the collectives on it; they meet at a generation barrier and read one
// another's buffers directly. For tests, and for the CPU path when the ranks share a process.
// abort() (a rank failed) ends every wait, present and future, with CollectiveAborted: no rank
// of a broken group hangs.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/parallel/communicator.hpp"

namespace troupe::parallel {

class InProcessGroup {
 public:
  explicit InProcessGroup(int size);
  int size() const { return size_; }
  // Rank `rank`'s communicator; it must not outlive the group.
  std::unique_ptr<Communicator> communicator(int rank);
  void abort();

  // For the communicators: waits until every rank has arrived (throws CollectiveAborted).
  void arrive_and_wait();
  // The buffers the ranks publish for the collective in progress: rank r's at slot r.
  std::vector<const void*>& published() { return published_; }

 private:
  const int size_;
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  bool aborted_ = false;
  std::vector<const void*> published_;
};

}  // namespace troupe::parallel
