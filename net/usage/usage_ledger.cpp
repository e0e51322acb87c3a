#include "net/usage/usage_ledger.hpp"

#include <sqlite3.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace troupe {

namespace {

// Bump when the table changes, and teach open() to migrate from the older versions.
constexpr int64_t kSchemaVersion = 1;

constexpr const char* kTable = "usage_by_key";
const std::vector<std::string> kColumns = {"key_name",          "requests",   "prompt_tokens",
                                           "completion_tokens", "first_seen", "last_seen"};

const std::string kCreateSchema =
    "CREATE TABLE usage_by_key ("
    " key_name TEXT PRIMARY KEY NOT NULL,"
    " requests INTEGER NOT NULL,"
    " prompt_tokens INTEGER NOT NULL,"
    " completion_tokens INTEGER NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "PRAGMA user_version = " +
    std::to_string(kSchemaVersion) + ";";

// min() and max() keep first_seen and last_seen from moving inwards when the clock goes back.
constexpr const char* kAddSql =
    "INSERT INTO usage_by_key"
    " (key_name, requests, prompt_tokens, completion_tokens, first_seen, last_seen)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (key_name) DO UPDATE SET"
    " requests = requests + excluded.requests,"
    " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
    " completion_tokens = completion_tokens + excluded.completion_tokens,"
    " first_seen = min(first_seen, excluded.first_seen),"
    " last_seen = max(last_seen, excluded.last_seen)";

constexpr const char* kTotalsSql =
    "SELECT key_name, requests, prompt_tokens, completion_tokens, first_seen, last_seen"
    " FROM usage_by_key ORDER BY key_name";

std::string quoted(const std::string& path) {
  return "usage ledger '" + path + "'";
}

// The error for a failed SQLite call while opening, naming the file.
Error open_failure(sqlite3* db, const std::string& path) {
  if (sqlite3_errcode(db) == SQLITE_NOTADB) {
    return make_error(quoted(path) +
                      " is not a SQLite database: move it aside or choose another file");
  }
  return make_error(quoted(path) + ": " + sqlite3_errmsg(db));
}

Status execute(sqlite3* db, const std::string& path, const std::string& sql) {
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return open_failure(db, path);
  }
  return Ok{};
}

Result<int64_t> query_int(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
    return open_failure(db, path);
  }
  const int rc = sqlite3_step(statement);
  const int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
  Result<int64_t> result = value;
  if (rc != SQLITE_ROW) result = open_failure(db, path);
  sqlite3_finalize(statement);
  return result;
}

Result<std::vector<std::string>> column_names(sqlite3* db, const std::string& path) {
  sqlite3_stmt* statement = nullptr;
  const std::string sql = std::string("PRAGMA table_info(") + kTable + ")";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    return open_failure(db, path);
  }
  std::vector<std::string> names;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)));
  }
  Result<std::vector<std::string>> result = std::move(names);
  if (rc != SQLITE_DONE) result = open_failure(db, path);
  sqlite3_finalize(statement);
  return result;
}

// Checks that the file holds our schema; on an empty database, creates it when `create`.
Status check_schema(sqlite3* db, const std::string& path, bool create) {
  auto version = query_int(db, path, "PRAGMA user_version");
  if (!version) return version.error();
  auto objects = query_int(db, path, "SELECT count(*) FROM sqlite_master");
  if (!objects) return objects.error();
  if (*version == 0 && *objects == 0) {
    if (!create) return make_error(quoted(path) + " is an empty database, not a usage ledger");
    return execute(db, path, kCreateSchema);
  }
  const std::string foreign = quoted(path) + " is a SQLite database but not a usage ledger";
  if (*version == 0) return make_error(foreign + " (it has other tables): choose another file");
  if (*version != kSchemaVersion) {
    return make_error(foreign + " of this troupe: its schema version is " +
                      std::to_string(*version) + ", this troupe reads version " +
                      std::to_string(kSchemaVersion) +
                      " (a newer troupe's ledger, or another program's file)");
  }
  auto columns = column_names(db, path);
  if (!columns) return columns.error();
  if (*columns != kColumns) {
    return make_error(foreign + " (its " + kTable + " table has other columns)");
  }
  return Ok{};
}

}  // namespace

int64_t unix_seconds_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

Status usage_problem(const UsageRow& row) {
  if (row.requests >= 0 && row.prompt_tokens >= 0 && row.completion_tokens >= 0) return Ok{};
  return make_error("usage for key '" + row.key_name + "' has a negative count (" +
                    std::to_string(row.requests) + " requests, " +
                    std::to_string(row.prompt_tokens) + " prompt, " +
                    std::to_string(row.completion_tokens) + " completion tokens)");
}

UsageRow one_request(std::string key_name, int64_t prompt_tokens, int64_t completion_tokens) {
  const int64_t now = unix_seconds_now();
  return {std::move(key_name), 1, prompt_tokens, completion_tokens, now, now};
}

Result<std::unique_ptr<UsageLedger>> UsageLedger::open(const std::string& path,
                                                       std::chrono::milliseconds busy_timeout) {
  return open_with(path, true, busy_timeout);
}

Result<std::unique_ptr<UsageLedger>> UsageLedger::open_existing(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  return open_with(path, false, busy_timeout);
}

Result<std::unique_ptr<UsageLedger>> UsageLedger::open_with(
    const std::string& path, bool create, std::chrono::milliseconds busy_timeout) {
  // NOMUTEX: every use of the connection holds mutex_, so SQLite's own locking is redundant.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  // The ledger owns the handle from here, so every early return closes it.
  std::unique_ptr<UsageLedger> ledger(new UsageLedger(path, db));
  if (rc != SQLITE_OK) {
    return make_error("cannot open " + quoted(path) + ": " + sqlite3_errmsg(db) +
                      (create ? " (does its directory exist?)" : ""));
  }
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  // IMMEDIATE: two processes creating the same new ledger must not both create the table.
  if (create) {
    if (auto s = execute(db, path, "BEGIN IMMEDIATE"); !s) return s.error();
  }
  if (auto s = check_schema(db, path, create); !s) return s.error();
  if (create) {
    if (auto s = execute(db, path, "COMMIT"); !s) return s.error();
    // Only now that the file is known to be ours: WAL is a lasting change to the file. It lets
    // readers run beside the gateway's writes.
    if (auto s = execute(db, path, "PRAGMA journal_mode=WAL"); !s) return s.error();
  }
  // NORMAL syncs at checkpoints only: a power cut may lose the last few records, never the file.
  if (auto s = execute(db, path, "PRAGMA synchronous=NORMAL"); !s) return s.error();
  if (auto s = ledger->prepare_statements(); !s) return s.error();
  return ledger;
}

Status UsageLedger::prepare_statements() {
  for (auto [sql, statement] :
       {std::pair{kAddSql, &add_statement_}, std::pair{kTotalsSql, &totals_statement_}}) {
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, statement, nullptr) !=
        SQLITE_OK) {
      return make_error(describe_failure("cannot prepare its statements"));
    }
  }
  return Ok{};
}

UsageLedger::~UsageLedger() {
  sqlite3_finalize(add_statement_);
  sqlite3_finalize(totals_statement_);
  sqlite3_close_v2(db_);
}

std::string UsageLedger::describe_failure(const char* what) const {
  return quoted(path_) + ": " + what + ": " + sqlite3_errmsg(db_);
}

Status UsageLedger::add(const std::vector<UsageRow>& rows) {
  for (const UsageRow& row : rows)
    if (auto problem = usage_problem(row); !problem) return problem;
  std::lock_guard lock(mutex_);
  // One transaction: the rows land together or not at all (and one sync, not one a row).
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
    return make_error(describe_failure("cannot record usage"));
  sqlite3_stmt* statement = add_statement_;
  for (const UsageRow& row : rows) {
    // SQLITE_STATIC: the row outlives the step, and every parameter is rebound on each row.
    sqlite3_bind_text(statement, 1, row.key_name.data(), static_cast<int>(row.key_name.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(statement, 2, row.requests);
    sqlite3_bind_int64(statement, 3, row.prompt_tokens);
    sqlite3_bind_int64(statement, 4, row.completion_tokens);
    sqlite3_bind_int64(statement, 5, row.first_seen);
    sqlite3_bind_int64(statement, 6, row.last_seen);
    const int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (rc != SQLITE_DONE) {
      auto failure = make_error(
          describe_failure(("cannot record usage for key '" + row.key_name + "'").c_str()));
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return failure;
    }
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    auto failure = make_error(describe_failure("cannot record usage"));
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failure;
  }
  return Ok{};
}

Result<std::vector<UsageRow>> UsageLedger::totals() const {
  std::lock_guard lock(mutex_);
  sqlite3_stmt* statement = totals_statement_;
  std::vector<UsageRow> rows;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    UsageRow row;
    if (const auto* key = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0))) {
      row.key_name.assign(key, static_cast<size_t>(sqlite3_column_bytes(statement, 0)));
    }
    row.requests = sqlite3_column_int64(statement, 1);
    row.prompt_tokens = sqlite3_column_int64(statement, 2);
    row.completion_tokens = sqlite3_column_int64(statement, 3);
    row.first_seen = sqlite3_column_int64(statement, 4);
    row.last_seen = sqlite3_column_int64(statement, 5);
    rows.push_back(std::move(row));
  }
  Result<std::vector<UsageRow>> result = std::move(rows);
  if (rc != SQLITE_DONE) result = make_error(describe_failure("cannot read the totals"));
  sqlite3_reset(statement);
  return result;
}

}  // namespace troupe
