#pragma once
// The gateway's usage ledger: per API key, how many requests and tokens it has used, kept in a
// SQLite file so the counts survive restarts. One connection, shared by every thread; its
// writes may wait on another process's lock, so the gateway writes through a UsageWriter.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/result.hpp"

// sqlite3.h stays out of this header: only usage_ledger.cpp needs it.
struct sqlite3;
struct sqlite3_stmt;

namespace troupe {

struct UsageRow {
  std::string key_name;
  int64_t requests = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t first_seen = 0;  // unix seconds
  int64_t last_seen = 0;   // unix seconds
};

int64_t unix_seconds_now();
// One request's usage, seen now.
UsageRow one_request(std::string key_name, int64_t prompt_tokens, int64_t completion_tokens);
// Why `row` cannot be added (a negative count), or Ok.
Status usage_problem(const UsageRow& row);

// A second process (another front on the same file) may hold the write lock a while.
inline constexpr std::chrono::milliseconds kLedgerBusyTimeout{5000};

class UsageLedger {
 public:
  // Opens the ledger at `path`, creating the file and its schema when needed (the directory
  // must exist). Errors name the file: not a SQLite database, another program's tables, a
  // newer schema version.
  static Result<std::unique_ptr<UsageLedger>> open(
      const std::string& path, std::chrono::milliseconds busy_timeout = kLedgerBusyTimeout);

  // Opens a ledger that must already exist and changes nothing in it: for readers such as
  // `troupe usage`, which must not create an empty ledger where none was.
  static Result<std::unique_ptr<UsageLedger>> open_existing(
      const std::string& path, std::chrono::milliseconds busy_timeout = kLedgerBusyTimeout);

  ~UsageLedger();
  UsageLedger(const UsageLedger&) = delete;
  UsageLedger& operator=(const UsageLedger&) = delete;

  // Adds each row's counts to its key's totals (first_seen and last_seen widen), in one
  // transaction: all of them or, with an error, none. Safe from any thread; never throws: a
  // failed write (disk full, file locked past the busy timeout) comes back as an error.
  Status add(const std::vector<UsageRow>& rows);

  // Every key's totals, sorted by key name.
  Result<std::vector<UsageRow>> totals() const;

  const std::string& path() const { return path_; }

 private:
  UsageLedger(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  static Result<std::unique_ptr<UsageLedger>> open_with(const std::string& path, bool create,
                                                        std::chrono::milliseconds busy_timeout);
  Status prepare_statements();
  std::string describe_failure(const char* what) const;

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* add_statement_ = nullptr;
  sqlite3_stmt* totals_statement_ = nullptr;
  // One connection and its prepared statements serve every thread; the mutex serialises them
  // (SQLite serialises writers to one file anyway, so this costs no parallelism).
  mutable std::mutex mutex_;
};

}  // namespace troupe
