// API keys (net/auth/api_keys) and per-key rate limits (net/auth/rate_limiter).
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "net/auth/admin_access.hpp"
#include "net/auth/api_keys.hpp"
#include "net/auth/rate_limiter.hpp"

using troupe::auth::Admission;
using troupe::auth::ApiKeys;
using troupe::auth::KeyPolicy;
using troupe::auth::RateLimit;
using troupe::auth::RateLimiter;

namespace {

// A YAML file in the temp directory, removed when the test ends.
class TempKeysFile {
 public:
  explicit TempKeysFile(const std::string& content) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("troupe_auth_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
              ".yaml"))
                .string();
    std::ofstream(path_) << content;
  }
  ~TempKeysFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ApiKeys keys_from_flags(const std::vector<std::string>& keys) {
  auto created = ApiKeys::create(keys, "");
  REQUIRE(created.ok());
  return std::move(created).value();
}

// The error from loading `content` as a keys file (and `flags` as --api-key values).
std::string load_error(const std::string& content, const std::vector<std::string>& flags = {}) {
  TempKeysFile file(content);
  auto created = ApiKeys::create(flags, file.path());
  REQUIRE_FALSE(created.ok());
  CHECK_THAT(created.message(), Catch::Contains(file.path()) || Catch::Contains("--api-key"));
  return created.message();
}

using Clock = std::chrono::steady_clock;
const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1);

Clock::time_point at(double seconds) {
  return kStart +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

TEST_CASE("authenticate matches Bearer keys and nothing else", "[auth]") {
  const ApiKeys keys = keys_from_flags({"sk-alpha", "sk-beta"});
  REQUIRE(keys.enabled());

  SECTION("each configured key maps to its own policy") {
    const KeyPolicy* alpha = keys.authenticate("Bearer sk-alpha");
    const KeyPolicy* beta = keys.authenticate("Bearer sk-beta");
    REQUIRE(alpha != nullptr);
    REQUIRE(beta != nullptr);
    CHECK(alpha->name == "key-1");
    CHECK(beta->name == "key-2");
    CHECK(alpha->requests_per_minute == 0);
    CHECK(alpha->tokens_per_minute == 0);
  }
  SECTION("the scheme is case-insensitive and spaces around parts are allowed") {
    for (const char* header :
         {"bearer sk-beta", "BEARER sk-beta", "Bearer\tsk-beta", "  Bearer   sk-beta  "}) {
      INFO(header);
      const KeyPolicy* policy = keys.authenticate(header);
      REQUIRE(policy != nullptr);
      CHECK(policy->name == "key-2");
    }
  }
  SECTION("wrong keys are refused, including prefixes, extensions and other cases") {
    for (const char* header : {"Bearer sk-gamma", "Bearer sk-alph", "Bearer sk-alphaa",
                               "Bearer SK-ALPHA", "Bearer sk-alpha\x01"}) {
      INFO(header);
      CHECK(keys.authenticate(header) == nullptr);
    }
  }
  SECTION("missing and malformed headers are refused") {
    for (const char* header :
         {"", "   ", "sk-alpha", "Basic sk-alpha", "Bearersk-alpha", "Bearer", "Bearer   ",
          "Bearer sk-alpha sk-beta", "Token sk-alpha", "Bearer: sk-alpha"}) {
      INFO("'" << header << "'");
      CHECK(keys.authenticate(header) == nullptr);
    }
  }
}

TEST_CASE("no keys configured means authentication is off", "[auth]") {
  const ApiKeys keys = keys_from_flags({});
  CHECK_FALSE(keys.enabled());
  CHECK(keys.authenticate("Bearer anything") == nullptr);
  CHECK_FALSE(ApiKeys{}.enabled());
}

TEST_CASE("keys file gives names and limits; flags number first", "[auth]") {
  TempKeysFile file(
      "sk-team-a:\n"
      "  name: team-a\n"
      "  rpm: 600\n"
      "  tpm: 200000\n"
      "sk-bare:\n"
      "sk-empty: {}\n"
      "12345: {tpm: 7}\n");
  auto created = ApiKeys::create({"sk-flag"}, file.path());
  REQUIRE(created.ok());
  const ApiKeys& keys = *created;
  CHECK(keys.size() == 5);

  const KeyPolicy* flag = keys.authenticate("Bearer sk-flag");
  REQUIRE(flag != nullptr);
  CHECK(flag->name == "key-1");

  const KeyPolicy* team = keys.authenticate("Bearer sk-team-a");
  REQUIRE(team != nullptr);
  CHECK(team->name == "team-a");
  CHECK(team->requests_per_minute == 600);
  CHECK(team->tokens_per_minute == 200000);

  const KeyPolicy* bare = keys.authenticate("Bearer sk-bare");
  REQUIRE(bare != nullptr);
  CHECK(bare->name == "key-3");
  CHECK(bare->requests_per_minute == 0);
  CHECK(bare->tokens_per_minute == 0);

  const KeyPolicy* empty = keys.authenticate("Bearer sk-empty");
  REQUIRE(empty != nullptr);
  CHECK(empty->name == "key-4");

  const KeyPolicy* numeric = keys.authenticate("Bearer 12345");
  REQUIRE(numeric != nullptr);
  CHECK(numeric->name == "key-5");
  CHECK(numeric->tokens_per_minute == 7);
}

TEST_CASE("keys file errors name the file and the problem", "[auth]") {
  SECTION("unreadable") {
    const std::string missing = "/nonexistent/troupe/keys.yaml";
    auto created = ApiKeys::create({}, missing);
    REQUIRE_FALSE(created.ok());
    CHECK_THAT(created.message(), Catch::Contains(missing) && Catch::Contains("cannot read"));

    const std::string directory = std::filesystem::temp_directory_path().string();
    auto from_directory = ApiKeys::create({}, directory);
    REQUIRE_FALSE(from_directory.ok());
    CHECK_THAT(from_directory.message(), Catch::Contains("cannot read"));
  }
  SECTION("not YAML") {
    CHECK_THAT(load_error("sk-a: [1, 2\n"), Catch::Contains("not valid YAML"));
  }
  SECTION("not a map of keys") {
    CHECK_THAT(load_error("- sk-a\n- sk-b\n"), Catch::Contains("plain list is not accepted"));
    CHECK_THAT(load_error("just-a-key\n"), Catch::Contains("expected a map"));
    CHECK_THAT(load_error(""), Catch::Contains("holds no keys"));
    CHECK_THAT(load_error("# nothing here\n"), Catch::Contains("holds no keys"));
    CHECK_THAT(load_error("{}\n"), Catch::Contains("holds no keys"));
    CHECK_THAT(load_error("sk-a: 5\n"),
               Catch::Contains("expected a map with name, rpm, tpm and role"));
    CHECK_THAT(load_error("? [a, b]\n: {}\n"), Catch::Contains("a key must be a plain string"));
  }
  SECTION("wrong types") {
    CHECK_THAT(load_error("sk-a: {rpm: many}\n"),
               Catch::Contains("rpm must be a whole number, got 'many'"));
    CHECK_THAT(load_error("sk-a: {tpm: 1.5}\n"),
               Catch::Contains("tpm must be a whole number, got '1.5'"));
    CHECK_THAT(load_error("sk-a: {rpm: [1]}\n"), Catch::Contains("rpm must be a whole number"));
    CHECK_THAT(load_error("sk-a: {name: [x]}\n"), Catch::Contains("name must be a non-empty"));
    CHECK_THAT(load_error("sk-a: {name: ''}\n"), Catch::Contains("name must be a non-empty"));
    // A key written as a limit's value (the wrong line) is never shown.
    const std::string misplaced = load_error("sk-a:\n  rpm: sk-secret-b-77aa\n");
    CHECK_THAT(misplaced, Catch::Contains("rpm must be a whole number, got a value of 16 "));
    CHECK_THAT(misplaced, !Catch::Contains("sk-secret-b"));
  }
  SECTION("negative limits") {
    CHECK_THAT(load_error("sk-a: {rpm: -1}\n"),
               Catch::Contains("rpm must be 0 (unlimited) or more"));
    CHECK_THAT(load_error("sk-a: {tpm: -5}\n"),
               Catch::Contains("tpm must be 0 (unlimited) or more"));
  }
  SECTION("unknown fields, so that a typo never means unlimited") {
    CHECK_THAT(load_error("sk-a: {rmp: 10}\n"), Catch::Contains("unknown field 'rmp'"));
    // A key indented under another key's entry reads as a field of it: never shown.
    const std::string nested = load_error("sk-a:\n  name: a\n  sk-secret-b: {name: b}\n");
    CHECK_THAT(nested, Catch::Contains("unknown field of 11 characters"));
    CHECK_THAT(nested, !Catch::Contains("sk-secret-b"));
  }
  SECTION("duplicate keys, in the file or across flag and file") {
    CHECK_THAT(load_error("sk-a: {}\nsk-b: {}\nsk-a: {}\n"),
               Catch::Contains("line 3") && Catch::Contains("already given by") &&
                   Catch::Contains("line 1"));
    CHECK_THAT(load_error("sk-a: {}\n", {"sk-a"}), Catch::Contains("--api-key #1"));
    auto from_flags = ApiKeys::create({"sk-x", "sk-x"}, "");
    REQUIRE_FALSE(from_flags.ok());
    CHECK_THAT(from_flags.message(), Catch::Contains("--api-key #2") && Catch::Contains("#1"));
  }
  SECTION("duplicate names") {
    CHECK_THAT(load_error("sk-a: {name: team}\nsk-b: {name: team}\n"),
               Catch::Contains("name 'team' is already used"));
    CHECK_THAT(load_error("sk-b: {name: key-1}\n", {"sk-a"}),
               Catch::Contains("name 'key-1' is already used by --api-key #1"));
  }
  SECTION("empty keys and keys that cannot travel in a header") {
    CHECK_THAT(load_error("'': {}\n"), Catch::Contains("the key is empty"));
    CHECK_THAT(load_error("'sk a': {}\n"), Catch::Contains("space or control character"));
    auto from_flags = ApiKeys::create({""}, "");
    REQUIRE_FALSE(from_flags.ok());
    CHECK_THAT(from_flags.message(), Catch::Contains("--api-key #1: the key is empty"));
  }
  SECTION("errors never quote the key, which is a secret") {
    CHECK_THAT(load_error("sk-secret-123: {rpm: -1}\n"), !Catch::Contains("sk-secret-123"));
    CHECK_THAT(load_error("sk-secret-123: {}\nsk-secret-123: {}\n"),
               !Catch::Contains("sk-secret-123"));
  }
}

TEST_CASE("requests per minute: refusal, retry time and refill", "[auth][rate]") {
  RateLimiter limiter;
  const KeyPolicy policy{"team", 60, 0};  // one request per second, bursts of 60

  for (int i = 0; i < 60; ++i) REQUIRE(limiter.admit(policy, at(0)).allowed);
  Admission refused = limiter.admit(policy, at(0));
  CHECK_FALSE(refused.allowed);
  CHECK(refused.refused_by == RateLimit::requests_per_minute);
  CHECK(refused.retry_after_seconds == Approx(1.0));

  refused = limiter.admit(policy, at(0.25));
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_seconds == Approx(0.75));

  // Refusals took nothing, so the first token is back after exactly one second.
  CHECK(limiter.admit(policy, at(1.0)).allowed);
  CHECK_FALSE(limiter.admit(policy, at(1.0)).allowed);

  // A long idle refills to the capacity, and no further.
  for (int i = 0; i < 60; ++i) REQUIRE(limiter.admit(policy, at(1000)).allowed);
  CHECK_FALSE(limiter.admit(policy, at(1000)).allowed);
}

TEST_CASE("tokens per minute: debt from a finished request delays the next", "[auth][rate]") {
  RateLimiter limiter;
  const KeyPolicy policy{"team", 0, 600};  // ten tokens per second

  REQUIRE(limiter.admit(policy, at(0)).allowed);
  CHECK(limiter.admit(policy, at(0)).allowed);  // admission alone costs no tokens
  limiter.charge_tokens("team", 1200, at(0));   // the bucket is now 600 tokens in debt

  Admission refused = limiter.admit(policy, at(0));
  CHECK_FALSE(refused.allowed);
  CHECK(refused.refused_by == RateLimit::tokens_per_minute);
  CHECK(refused.retry_after_seconds == Approx(60.1));  // back to one token: 601 tokens at 10/s

  CHECK_FALSE(limiter.admit(policy, at(60.0)).allowed);  // debt paid, but the bucket is empty
  CHECK(limiter.admit(policy, at(60.1)).allowed);
}

TEST_CASE("charges apply at the time given, after the refill up to then", "[auth][rate]") {
  RateLimiter limiter;
  const KeyPolicy policy{"team", 0, 60};  // one token per second

  REQUIRE(limiter.admit(policy, at(0)).allowed);
  limiter.charge_tokens("team", 60, at(0));   // empty
  limiter.charge_tokens("team", 30, at(30));  // 30 refilled, 30 charged: empty again
  const Admission refused = limiter.admit(policy, at(30));
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_seconds == Approx(1.0));
}

TEST_CASE("with both limits the retry time is the later of the two", "[auth][rate]") {
  RateLimiter limiter;
  const KeyPolicy policy{"team", 1, 60};

  REQUIRE(limiter.admit(policy, at(0)).allowed);
  limiter.charge_tokens("team", 60 + 119, at(0));  // 120 s until one token is back
  const Admission refused = limiter.admit(policy, at(0));
  CHECK_FALSE(refused.allowed);
  CHECK(refused.refused_by == RateLimit::tokens_per_minute);
  CHECK(refused.retry_after_seconds == Approx(120.0));  // not the request bucket's 60 s
}

TEST_CASE("unlimited keys are never refused, and keys do not share buckets", "[auth][rate]") {
  RateLimiter limiter;
  const KeyPolicy unlimited{"free", 0, 0};
  for (int i = 0; i < 10000; ++i) REQUIRE(limiter.admit(unlimited, at(0)).allowed);
  limiter.charge_tokens("free", 1'000'000'000, at(0));
  CHECK(limiter.admit(unlimited, at(0)).allowed);

  const KeyPolicy requests_only{"requests-only", 1, 0};
  REQUIRE(limiter.admit(requests_only, at(0)).allowed);
  limiter.charge_tokens("requests-only", 1'000'000'000, at(0));  // no token limit: ignored
  CHECK(limiter.admit(requests_only, at(60)).allowed);

  const KeyPolicy a{"a", 1, 0};
  const KeyPolicy b{"b", 1, 0};
  REQUIRE(limiter.admit(a, at(0)).allowed);
  CHECK_FALSE(limiter.admit(a, at(0)).allowed);
  CHECK(limiter.admit(b, at(0)).allowed);

  limiter.charge_tokens("never-admitted", 100, at(0));  // unknown names are ignored
  CHECK(limiter.admit(KeyPolicy{"never-admitted", 0, 1}, at(0)).allowed);
}

TEST_CASE("concurrent admits never exceed the capacity", "[auth][rate]") {
  RateLimiter limiter;
  const KeyPolicy policy{"team", 2000, 0};
  std::atomic<bool> start{false};  // released together, so the threads overlap
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!start.load()) std::this_thread::yield();
      for (int i = 0; i < 1000; ++i) {
        if (limiter.admit(policy, at(0)).allowed) admitted.fetch_add(1);
      }
    });
  }
  start.store(true);
  for (auto& thread : threads) thread.join();
  CHECK(admitted.load() == 2000);
}

TEST_CASE("a reservation holds back a burst; settling gives back what was not used",
          "[auth][rate]") {
  RateLimiter limiter;
  const KeyPolicy policy{"team", 0, 300};

  // Three requests reserving 110 tokens each arrive at once: two fit, the third takes the
  // bucket into debt, and the fourth is refused before it can run.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(limiter.admit(policy, at(0)).allowed);
    limiter.charge_tokens("team", 110, at(0));
  }
  CHECK_FALSE(limiter.admit(policy, at(0)).allowed);

  // Each used 20 of its 110: settling returns 90 apiece (300 - 60 = 240 left).
  for (int i = 0; i < 3; ++i) limiter.charge_tokens("team", 20 - 110, at(0));
  CHECK(limiter.admit(policy, at(0)).allowed);
  limiter.charge_tokens("team", 240, at(0));
  CHECK_FALSE(limiter.admit(policy, at(0)).allowed);  // exactly empty

  // A refund never fills the bucket past its capacity.
  limiter.charge_tokens("team", -1'000'000, at(0));
  for (int i = 0; i < 3; ++i) {
    REQUIRE(limiter.admit(policy, at(0)).allowed);
    limiter.charge_tokens("team", 100, at(0));
  }
  CHECK_FALSE(limiter.admit(policy, at(0)).allowed);
}

TEST_CASE("roles: --admin-api-key and role: admin grant the admin routes", "[auth][admin]") {
  TempKeysFile file(
      "sk-tenant: {name: tenant}\n"
      "sk-ops: {name: ops, role: admin}\n"
      "sk-plain: {role: tenant}\n");
  auto created = ApiKeys::create({"sk-flag"}, file.path(), {"sk-root"});
  REQUIRE(created.ok());
  const ApiKeys& keys = created.value();
  CHECK_FALSE(keys.authenticate("Bearer sk-flag")->admin);
  CHECK_FALSE(keys.authenticate("Bearer sk-tenant")->admin);
  CHECK_FALSE(keys.authenticate("Bearer sk-plain")->admin);
  CHECK(keys.authenticate("Bearer sk-ops")->admin);
  CHECK(keys.authenticate("Bearer sk-root")->admin);
  CHECK(keys.authenticate("Bearer sk-root")->name == "key-2");  // after --api-key, before the file

  CHECK_THAT(load_error("sk-a: {role: root}\n"), Catch::Contains("role must be tenant or admin"));
  CHECK_THAT(load_error("sk-a: {role: [admin]}\n"),
             Catch::Contains("role must be tenant or admin"));
  auto clash = ApiKeys::create({}, "", {"sk-x", "sk-x"});
  REQUIRE_FALSE(clash.ok());
  CHECK_THAT(clash.message(), Catch::Contains("--admin-api-key #2"));
  CHECK_THAT(clash.message(), !Catch::Contains("sk-x"));  // keys never appear in errors
}

TEST_CASE("admin access: an admin key from anywhere; without keys, loopback only",
          "[auth][admin]") {
  using troupe::auth::admin_access;
  using troupe::auth::AdminAccess;
  KeyPolicy tenant{"tenant"};
  KeyPolicy admin{"admin"};
  admin.admin = true;
  using Headers = std::map<std::string, std::string>;
  const Headers direct{{"host", "127.0.0.1:8000"}};
  const Headers proxied{{"host", "127.0.0.1:8000"}, {"x-forwarded-for", "203.0.113.9"}};
  for (const Headers& headers : {direct, proxied}) {  // with keys, a proxy changes nothing
    CHECK(admin_access(true, &admin, "203.0.113.9", headers) == AdminAccess::allowed);
    CHECK(admin_access(true, &admin, "127.0.0.1", headers) == AdminAccess::allowed);
    CHECK(admin_access(true, &tenant, "127.0.0.1", headers) == AdminAccess::not_admin);
    CHECK(admin_access(true, &tenant, "203.0.113.9", headers) == AdminAccess::not_admin);
    CHECK(admin_access(true, nullptr, "127.0.0.1", headers) == AdminAccess::no_key);
  }
  for (const char* local : {"127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"}) {
    CAPTURE(local);
    CHECK(admin_access(false, nullptr, local, direct) == AdminAccess::allowed);
    // nginx on this host connects from loopback for whoever reached it.
    CHECK(admin_access(false, nullptr, local, proxied) == AdminAccess::proxied);
  }
  for (const char* remote : {"10.0.0.1", "203.0.113.9", "::ffff:10.0.0.1", "fe80::1", "", "junk"}) {
    CAPTURE(remote);
    CHECK(admin_access(false, nullptr, remote, direct) == AdminAccess::not_loopback);
  }
  // A program on this host names it; a page a local browser runs names its own site (Origin),
  // and a site's name rebound to 127.0.0.1 is the Host a browser sends.
  for (const Headers& local :
       {Headers{}, Headers{{"host", "localhost"}}, Headers{{"host", "LOCALHOST:80"}},
        Headers{{"host", "[::1]:8000"}}, Headers{{"host", "127.0.0.1"}},
        Headers{{"host", "127.0.0.1:8000"}, {"origin", "http://127.0.0.1:8000"}},
        Headers{{"host", "localhost:8000"}, {"origin", "http://localhost:3000"}}}) {
    CHECK(admin_access(false, nullptr, "127.0.0.1", local) == AdminAccess::allowed);
  }
  for (const Headers& foreign :
       {Headers{{"host", "evil.example:8000"}}, Headers{{"host", "localhost.evil.example"}},
        Headers{{"host", "127.0.0.1:8000"}, {"origin", "https://evil.example"}},
        Headers{{"host", "127.0.0.1:8000"}, {"origin", "null"}}, Headers{{"host", "[::1"}},
        Headers{{"host", "127.0.0.1.evil.example"}}}) {
    CHECK(admin_access(false, nullptr, "127.0.0.1", foreign) == AdminAccess::another_name);
  }
  using troupe::auth::forwarded_by_proxy;
  CHECK_FALSE(forwarded_by_proxy({{"content-type", "application/json"}}));
  CHECK(forwarded_by_proxy({{"x-forwarded-for", "203.0.113.9"}}));
  CHECK(forwarded_by_proxy({{"forwarded", "for=203.0.113.9"}}));
  CHECK(forwarded_by_proxy({{"x-real-ip", "203.0.113.9"}}));
}
