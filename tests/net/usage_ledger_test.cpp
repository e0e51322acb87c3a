#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "net/usage/usage_ledger.hpp"
#include "net/usage/usage_writer.hpp"

using namespace troupe;
namespace fs = std::filesystem;

namespace {

// A unique path under the temp directory; the file and SQLite's -wal/-shm companions are
// removed when it goes out of scope.
struct TempLedgerPath {
  std::string path;
  TempLedgerPath() {
    static int counter = 0;
    path = (fs::temp_directory_path() / ("troupe_usage_ledger_test_" + std::to_string(getpid()) +
                                         "_" + std::to_string(++counter) + ".db"))
               .string();
    remove_all();
  }
  ~TempLedgerPath() { remove_all(); }
  void remove_all() const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix);
  }
};

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

// Runs SQL on a plain SQLite file, to make databases the ledger did not write.
void run_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  INFO((message ? message : ""));
  sqlite3_free(message);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

std::string file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("usage ledger: records survive closing and reopening the file") {
  TempLedgerPath file;
  const int64_t before = unix_now();
  {
    auto ledger = UsageLedger::open(file.path);
    REQUIRE(ledger.ok());
    REQUIRE((*ledger)->add({one_request("team-a", 10, 5)}).ok());
    REQUIRE((*ledger)->add({one_request("team-a", 7, 3)}).ok());
    REQUIRE((*ledger)->add({one_request("team-b", 1, 0)}).ok());
  }
  const int64_t after = unix_now();
  auto reopened = UsageLedger::open(file.path);
  REQUIRE(reopened.ok());
  REQUIRE((*reopened)->add({one_request("team-b", 2, 4)}).ok());
  auto rows = (*reopened)->totals();
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  const UsageRow& a = (*rows)[0];
  CHECK(a.key_name == "team-a");
  CHECK(a.requests == 2);
  CHECK(a.prompt_tokens == 17);
  CHECK(a.completion_tokens == 8);
  CHECK(a.first_seen >= before);
  CHECK(a.last_seen <= after);
  CHECK(a.first_seen <= a.last_seen);
  const UsageRow& b = (*rows)[1];
  CHECK(b.key_name == "team-b");
  CHECK(b.requests == 2);
  CHECK(b.prompt_tokens == 3);
  CHECK(b.completion_tokens == 4);
}

TEST_CASE("usage ledger: open_existing reads a ledger and never creates one") {
  TempLedgerPath file;
  auto missing = UsageLedger::open_existing(file.path);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.message(), Catch::Contains(file.path));
  CHECK_FALSE(fs::exists(file.path));

  { REQUIRE(UsageLedger::open(file.path).ok()); }
  {
    auto ledger = UsageLedger::open(file.path);
    REQUIRE(ledger.ok());
    REQUIRE((*ledger)->add({one_request("k", 3, 4)}).ok());
  }
  auto existing = UsageLedger::open_existing(file.path);
  REQUIRE(existing.ok());
  auto rows = (*existing)->totals();
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].prompt_tokens == 3);
}

TEST_CASE("usage ledger: open_existing rejects an empty database") {
  TempLedgerPath file;
  std::ofstream(file.path).close();  // a zero-byte file is a valid, empty SQLite database
  auto ledger = UsageLedger::open_existing(file.path);
  REQUIRE_FALSE(ledger.ok());
  CHECK_THAT(ledger.message(), Catch::Contains(file.path) && Catch::Contains("empty"));
}

TEST_CASE("usage ledger: concurrent records from 4 threads sum exactly") {
  TempLedgerPath file;
  auto ledger = UsageLedger::open(file.path);
  REQUIRE(ledger.ok());
  UsageLedger& shared = **ledger;
  constexpr int kThreads = 4;
  constexpr int kRecordsPerThread = 500;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&shared, &failures, t] {
      // Two threads share each key, so the upsert's update path races too.
      const std::string key = "key-" + std::to_string(t % 2);
      for (int i = 0; i < kRecordsPerThread; ++i) {
        if (!shared.add({one_request(key, 3, t + 1)}).ok()) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == std::vector<int>(kThreads, 0));
  auto rows = shared.totals();
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  // key-0: threads 0 and 2 (completion 1 and 3); key-1: threads 1 and 3 (2 and 4).
  CHECK((*rows)[0].key_name == "key-0");
  CHECK((*rows)[0].requests == 2 * kRecordsPerThread);
  CHECK((*rows)[0].prompt_tokens == 2 * kRecordsPerThread * 3);
  CHECK((*rows)[0].completion_tokens == kRecordsPerThread * (1 + 3));
  CHECK((*rows)[1].key_name == "key-1");
  CHECK((*rows)[1].requests == 2 * kRecordsPerThread);
  CHECK((*rows)[1].completion_tokens == kRecordsPerThread * (2 + 4));
}

TEST_CASE("usage ledger: totals are sorted by key name") {
  TempLedgerPath file;
  auto ledger = UsageLedger::open(file.path);
  REQUIRE(ledger.ok());
  for (const char* key : {"zeta", "alpha", "Mid", "beta", "alpha"}) {
    REQUIRE((*ledger)->add({one_request(key, 1, 1)}).ok());
  }
  auto rows = (*ledger)->totals();
  REQUIRE(rows.ok());
  std::vector<std::string> keys;
  for (const auto& row : *rows) keys.push_back(row.key_name);
  // Byte order, as std::string compares: upper case before lower case.
  CHECK(keys == std::vector<std::string>{"Mid", "alpha", "beta", "zeta"});
  CHECK((*rows)[1].requests == 2);
}

TEST_CASE("usage ledger: a negative token count is an error and records nothing") {
  TempLedgerPath file;
  auto ledger = UsageLedger::open(file.path);
  REQUIRE(ledger.ok());
  auto recorded = (*ledger)->add({one_request("k", -1, 2)});
  REQUIRE_FALSE(recorded.ok());
  CHECK_THAT(recorded.message(), Catch::Contains("negative"));
  auto rows = (*ledger)->totals();
  REQUIRE(rows.ok());
  CHECK(rows->empty());
}

TEST_CASE("usage ledger: a file that is not a SQLite database is an error naming it") {
  TempLedgerPath file;
  const std::string garbage(4096, 'x');
  std::ofstream(file.path, std::ios::binary) << garbage;
  for (bool existing : {false, true}) {
    INFO("open_existing: " << existing);
    auto ledger = existing ? UsageLedger::open_existing(file.path) : UsageLedger::open(file.path);
    REQUIRE_FALSE(ledger.ok());
    CHECK_THAT(ledger.message(),
               Catch::Contains(file.path) && Catch::Contains("not a SQLite database"));
  }
  CHECK(file_contents(file.path) == garbage);
}

TEST_CASE("usage ledger: a SQLite database with another schema is an error naming it") {
  TempLedgerPath file;
  SECTION("another program's tables") {
    run_sql(file.path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)");
  }
  SECTION("our schema version but other tables") {
    run_sql(file.path, "CREATE TABLE accounts (id INTEGER); PRAGMA user_version = 1");
  }
  SECTION("our table name with other columns") {
    run_sql(file.path,
            "CREATE TABLE usage_by_key (key_name TEXT PRIMARY KEY, requests INTEGER);"
            "PRAGMA user_version = 1");
  }
  SECTION("a newer schema version") {
    run_sql(file.path, "CREATE TABLE usage_by_key (x); PRAGMA user_version = 2");
  }
  const std::string before = file_contents(file.path);
  auto ledger = UsageLedger::open(file.path);
  REQUIRE_FALSE(ledger.ok());
  CHECK_THAT(ledger.message(), Catch::Contains(file.path) && Catch::Contains("not a usage ledger"));
  // Rejected files are left exactly as they were (no table added, not switched to WAL).
  CHECK(file_contents(file.path) == before);
  CHECK_FALSE(fs::exists(file.path + "-wal"));
}

TEST_CASE("usage ledger: a path in a missing directory is an error naming it") {
  const std::string path =
      (fs::temp_directory_path() / "troupe_no_such_directory_for_ledger" / "usage.db").string();
  auto ledger = UsageLedger::open(path);
  REQUIRE_FALSE(ledger.ok());
  CHECK_THAT(ledger.message(), Catch::Contains(path));
}

// --- the writer: the gateway's requests record through it -----------------------------------

TEST_CASE("usage writer: a request's record returns while another process holds the file") {
  TempLedgerPath file;
  // A short busy timeout, so that a write the lock refuses fails here within the test.
  auto ledger = UsageLedger::open(file.path, std::chrono::milliseconds(50));
  REQUIRE(ledger.ok());
  UsageWriter writer(**ledger, std::chrono::hours(1));  // retries only when flushed

  // Another process's write transaction holds the lock (another front on the same file).
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(file.path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  // Returns at once (the lock is still held after it), and nothing is written yet.
  REQUIRE(writer.record("team-a", 10, 5).ok());
  REQUIRE(writer.record("team-a", 7, 3).ok());
  auto refused = writer.flush();
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.message(), Catch::Contains(file.path) && Catch::Contains("locked"));
  auto before = (*ledger)->totals();
  REQUIRE(before.ok());
  CHECK(before->empty());

  // The lock goes: what was held back is written, none of it lost or doubled.
  REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  REQUIRE(writer.record("team-b", 1, 2).ok());
  REQUIRE(writer.flush().ok());
  auto rows = (*ledger)->totals();
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].requests == 2);
  CHECK((*rows)[0].prompt_tokens == 17);
  CHECK((*rows)[0].completion_tokens == 8);
  CHECK((*rows)[1].requests == 1);
  CHECK((*rows)[1].completion_tokens == 2);
}

TEST_CASE("usage writer: records from 4 threads sum exactly once the writer is gone") {
  TempLedgerPath file;
  auto ledger = UsageLedger::open(file.path);
  REQUIRE(ledger.ok());
  constexpr int kThreads = 4;
  constexpr int kRecordsPerThread = 500;
  std::vector<int> failures(kThreads, 0);  // Catch's assertions are not for other threads
  {
    UsageWriter writer(**ledger);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&writer, &failures, t] {
        for (int i = 0; i < kRecordsPerThread; ++i)
          if (!writer.record("key-" + std::to_string(t % 2), 3, t + 1).ok()) ++failures[t];
      });
    }
    for (auto& thread : threads) thread.join();
  }  // the destructor writes what is still pending
  CHECK(failures == std::vector<int>(kThreads, 0));
  auto rows = (*ledger)->totals();
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].requests == 2 * kRecordsPerThread);
  CHECK((*rows)[0].prompt_tokens == 2 * kRecordsPerThread * 3);
  CHECK((*rows)[0].completion_tokens == kRecordsPerThread * (1 + 3));
  CHECK((*rows)[1].requests == 2 * kRecordsPerThread);
  CHECK((*rows)[1].completion_tokens == kRecordsPerThread * (2 + 4));
}

TEST_CASE("usage writer: a negative count is an error at once and nothing is recorded") {
  TempLedgerPath file;
  auto ledger = UsageLedger::open(file.path);
  REQUIRE(ledger.ok());
  UsageWriter writer(**ledger);
  auto recorded = writer.record("k", 2, -1);
  REQUIRE_FALSE(recorded.ok());
  CHECK_THAT(recorded.message(), Catch::Contains("negative"));
  REQUIRE(writer.flush().ok());
  auto rows = (*ledger)->totals();
  REQUIRE(rows.ok());
  CHECK(rows->empty());
}

TEST_CASE("usage writer: pending totals add up per key and widen the time seen") {
  std::map<std::string, UsageRow> pending;
  add_pending(pending, {"k", 1, 10, 1, 100, 100});
  add_pending(pending, {"k", 2, 5, 4, 90, 120});
  add_pending(pending, {"j", 1, 1, 1, 50, 50});
  REQUIRE(pending.size() == 2);
  const UsageRow& k = pending.at("k");
  CHECK(k.requests == 3);
  CHECK(k.prompt_tokens == 15);
  CHECK(k.completion_tokens == 5);
  CHECK(k.first_seen == 90);
  CHECK(k.last_seen == 120);
}
