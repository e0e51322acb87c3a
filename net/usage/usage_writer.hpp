#pragma once
// Writes the gateway's usage to its ledger off the request path. A request's end adds its
// usage to a pending total per key and returns at once; one thread writes the pending totals
// in a transaction. A write the file refuses (another process holding the lock past the busy
// timeout, a full disk) keeps them pending and is tried again a second later, so a slow or
// locked file never holds up a request and nothing is lost while the process runs; the
// destructor writes what is left.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "net/usage/usage_ledger.hpp"

namespace troupe {

// `row` added to the pending total of its key (first_seen and last_seen widen).
void add_pending(std::map<std::string, UsageRow>& pending, const UsageRow& row);

class UsageWriter {
 public:
  // `ledger` must outlive this.
  explicit UsageWriter(UsageLedger& ledger,
                       std::chrono::milliseconds retry_after = std::chrono::seconds(1));
  // Writes what is pending (one try, within the ledger's busy timeout), then stops.
  ~UsageWriter();
  UsageWriter(const UsageWriter&) = delete;
  UsageWriter& operator=(const UsageWriter&) = delete;

  // One request's usage for `key_name`. Never blocks on the file; a negative count is an error.
  Status record(const std::string& key_name, int64_t prompt_tokens, int64_t completion_tokens);

  // Waits for a write of everything recorded before the call: Ok once written, or the error of
  // the write that failed (what it held stays pending).
  Status flush();

  const std::string& path() const { return ledger_.path(); }

 private:
  void run();
  Status write(const std::map<std::string, UsageRow>& batch);

  UsageLedger& ledger_;
  const std::chrono::milliseconds retry_after_;
  std::mutex mutex_;
  std::condition_variable wake_;   // the writer: something to write, a flush, or stop
  std::condition_variable wrote_;  // flush(): a write ended
  std::map<std::string, UsageRow> pending_;
  uint64_t recorded_ = 0;  // requests recorded so far, in all
  uint64_t written_ = 0;   // of which written to the file
  uint64_t failed_writes_ = 0;
  uint64_t failed_up_to_ = 0;  // the requests the last failed write held
  Status last_failure_ = Ok{};
  bool flush_asked_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: it starts once everything above is ready
};

}  // namespace troupe
