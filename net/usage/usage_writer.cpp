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
    if (!pending_.empty()) {
      std::map<std::string, UsageRow> batch;
      batch.swap(pending_);
      const uint64_t up_to = recorded_;
      lock.unlock();
      std::vector<UsageRow> rows;
      for (auto& [key, row] : batch) rows.push_back(std::move(row));
      const Status result = ledger_.add(rows);
      lock.lock();
      if (result) {
        if (failed_writes_ > 0 && failed_up_to_ > written_)
          spdlog::info("usage ledger '{}': written again ({} requests held back)", ledger_.path(),
                       up_to - written_);
        written_ = up_to;
      } else {
        for (const UsageRow& row : rows) add_pending(pending_, row);
        if (failed_up_to_ <= written_)  // the first failure of a run: say it once
          spdlog::warn("{}; the usage stays pending and is written again", result.message());
        ++failed_writes_;
        failed_up_to_ = up_to;
        last_failure_ = result;
        failing = true;
      }
    } else {
      written_ = recorded_;  // nothing pending: a flush finds everything written
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
