#pragma once
// Per-key rate limits: two token buckets per key name, one counting requests and one counting
// tokens (prompt + completion). Each holds up to its per-minute limit and refills continuously
// at limit/60 per second, so a key may burst up to a minute's allowance and then runs at its
// rate. A request takes one request token when admitted. Its tokens are reserved as soon as it
// is decoded (its prompt and the most it may generate, which may drive the token bucket
// negative: the debt holds back the key's next requests until refill pays it off, so a burst
// cannot overshoot), and settled when it ends, to what it really used.
//
// Time is a parameter of every call (pass std::chrono::steady_clock::now()), so tests need no
// sleeping. Thread-safe: one mutex, taken twice per request, never per generated token.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/auth/api_keys.hpp"

namespace troupe::auth {

enum class RateLimit { none, requests_per_minute, tokens_per_minute };

struct Admission {
  bool allowed = true;
  double retry_after_seconds = 0;          // when refused: how long until a retry could pass
  RateLimit refused_by = RateLimit::none;  // when refused: the limit that refused (for the reply)
};

class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Admits a request and takes one request token, or refuses it, taking nothing, when the
  // request bucket holds less than one token or the token bucket is empty or in debt (less than
  // one token). A key with both limits 0 is always admitted.
  Admission admit(const KeyPolicy& policy, TimePoint now);

  // Charges `tokens` to the key named `key_name`: a reservation, or a settlement's difference;
  // negative gives tokens back (never above the bucket's capacity). Ignored for keys without a
  // token limit or never admitted, and for 0.
  void charge_tokens(const std::string& key_name, int64_t tokens, TimePoint now);

 private:
  struct Bucket {
    double level = 0;     // may be negative: tokens owed
    double capacity = 0;  // the per-minute limit; 0 = unlimited
    void set_capacity(double per_minute_limit);
    void refill(double elapsed_seconds);
    double per_second() const { return capacity / 60.0; }
    double seconds_until_one_token() const { return (1.0 - level) / per_second(); }
  };
  struct KeyBuckets {
    Bucket requests;
    Bucket tokens;
    TimePoint last_refill;
    void advance_to(TimePoint now);
  };

  // Brings a key's buckets up to `now` under the policy's current limits (they may change when
  // keys are reloaded) and returns them; new keys start with full buckets.
  KeyBuckets& refilled_buckets(const KeyPolicy& policy, TimePoint now);

  std::mutex mutex_;
  std::unordered_map<std::string, KeyBuckets> buckets_by_name_;
};

}  // namespace troupe::auth
