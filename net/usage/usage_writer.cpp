#include "net/usage/usage_writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace troupe {

void add_pending(std::map<std::string, UsageRow>& pending, const UsageRow& row) {
  auto [it, inserted] = pending.try_emplace(row.key_name, row);
  if (inserted) return;
  UsageRow& total = it->second;
  total.requests += row.requests;
  total.prompt_tokens += row.prompt_tokens;
  total.completion_tokens += row.completion_tokens;
  total.first_seen = std::min(total.first_seen, row.first_seen);
  total.last_seen = std::max(total.last_seen, row.last_seen);
}

UsageWriter::UsageWriter(UsageLedger& ledger, std::chrono::milliseconds retry_after)
    : ledger_(ledger), retry_after_(retry_after), thread_([this] { run(); }) {}

UsageWriter::~UsageWriter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Status UsageWriter::record(const std::string& key_name, int64_t prompt_tokens,
                           int64_t completion_tokens) {
  const UsageRow row = one_request(key_name, prompt_tokens, completion_tokens);
  if (auto problem = usage_problem(row); !problem) return problem;
  {
    std::lock_guard lock(mutex_);
    add_pending(pending_, row);
    ++recorded_;
  }
  wake_.notify_one();
  return Ok{};
}

Status UsageWriter::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = recorded_;
  const uint64_t failures_before = failed_writes_;
  flush_asked_ = true;
  wake_.notify_one();
  wrote_.wait(lock, [&] {
    return written_ >= target || (failed_writes_ > failures_before && failed_up_to_ >= target);
  });
  return written_ >= target ? Status{Ok{}} : last_failure_;
}

Status UsageWriter::write(const std::map<std::string, UsageRow>& batch) {
  try {  // out of memory is a failed write: the batch stays pending, the thread goes on
    std::vector<UsageRow> rows;
    rows.reserve(batch.size());
    for (const auto& [key, row] : batch) rows.push_back(row);
    return ledger_.add(rows);
  } catch (const std::exception& e) {
    return make_error("usage ledger '" + ledger_.path() + "': " + e.what());
  }
}

void UsageWriter::run() {
  std::unique_lock lock(mutex_);
  bool failing = false;
  while (true) {
    // After a failed write, wait out the retry delay unless a flush or stop asks sooner.
    const auto ready = [&] { return stop_ || flush_asked_ || (!failing && !pending_.empty()); };
    if (failing)
      wake_.wait_for(lock, retry_after_, ready);
    else
      wake_.wait(lock, ready);
    failing = false;
    flush_asked_ = false;
    const bool last = stop_;
    std::string said;  // logged once the lock is let go: a slow log never holds up record()
    bool said_warning = false;
    if (!pending_.empty()) {
      std::map<std::string, UsageRow> batch;
      batch.swap(pending_);
      const uint64_t up_to = recorded_;
      lock.unlock();
      const Status result = write(batch);
      lock.lock();
      if (result) {
        if (failed_up_to_ > written_)  // the writes before this one had failed
          said = "usage ledger '" + ledger_.path() + "': written again (" +
                 std::to_string(up_to - written_) + " requests held back)";
        written_ = up_to;
      } else {
        // Back into the pending totals, beside what was recorded meanwhile (merge moves the
        // entries of keys not pending again without allocating).
        pending_.merge(batch);
        for (const auto& [key, row] : batch) add_pending(pending_, row);
        if (failed_up_to_ <= written_) {  // the first failure of a run: say it once
          said = result.message() + "; the usage stays pending and is written again";
          said_warning = true;
        }
        ++failed_writes_;
        failed_up_to_ = up_to;
        last_failure_ = result;
        failing = true;
      }
    } else {
      written_ = recorded_;  // nothing pending: a flush finds everything written
    }
    if (!said.empty()) {
      lock.unlock();
      said_warning ? spdlog::warn("{}", said) : spdlog::info("{}", said);
      lock.lock();
    }
    wrote_.notify_all();
    if (last) break;
  }
  if (!pending_.empty()) {
    uint64_t requests = 0;
    for (const auto& [key, row] : pending_) requests += row.requests;
    spdlog::error("usage ledger: {} requests' usage could not be written: {}", requests,
                  last_failure_.message());
  }
}

}  // namespace troupe
