#include "net/auth/rate_limiter.hpp"

#include <algorithm>

namespace troupe::auth {

void RateLimiter::Bucket::set_capacity(double per_minute_limit) {
  // A bucket that was unlimited holds nothing; it starts full once it gets a limit.
  if (capacity == 0) level = per_minute_limit;
  capacity = per_minute_limit;
  level = std::min(level, capacity);
}

void RateLimiter::Bucket::refill(double elapsed_seconds) {
  level = std::min(capacity, level + elapsed_seconds * per_second());
}

void RateLimiter::KeyBuckets::advance_to(TimePoint now) {
  // A caller's clock reading may be older than the last one seen; time never runs back here.
  if (now <= last_refill) return;
  const double elapsed = std::chrono::duration<double>(now - last_refill).count();
  requests.refill(elapsed);
  tokens.refill(elapsed);
  last_refill = now;
}

RateLimiter::KeyBuckets& RateLimiter::refilled_buckets(const KeyPolicy& policy, TimePoint now) {
  auto [it, added] = buckets_by_name_.try_emplace(policy.name);
  KeyBuckets& buckets = it->second;
  if (added) buckets.last_refill = now;
  buckets.advance_to(now);
  buckets.requests.set_capacity(static_cast<double>(policy.requests_per_minute));
  buckets.tokens.set_capacity(static_cast<double>(policy.tokens_per_minute));
  return buckets;
}

Admission RateLimiter::admit(const KeyPolicy& policy, TimePoint now) {
  if (policy.requests_per_minute == 0 && policy.tokens_per_minute == 0) return {};
  std::lock_guard lock(mutex_);
  KeyBuckets& buckets = refilled_buckets(policy, now);

  // Both limits are checked so that the retry time covers whichever frees up last.
  Admission refused{false, 0, RateLimit::none};
  if (policy.requests_per_minute > 0 && buckets.requests.level < 1.0) {
    refused.retry_after_seconds = buckets.requests.seconds_until_one_token();
    refused.refused_by = RateLimit::requests_per_minute;
  }
  if (policy.tokens_per_minute > 0 && buckets.tokens.level < 1.0 &&
      buckets.tokens.seconds_until_one_token() >= refused.retry_after_seconds) {
    refused.retry_after_seconds = buckets.tokens.seconds_until_one_token();
    refused.refused_by = RateLimit::tokens_per_minute;
  }
  if (refused.refused_by != RateLimit::none) return refused;

  if (policy.requests_per_minute > 0) buckets.requests.level -= 1.0;
  return {};
}

void RateLimiter::charge_tokens(const std::string& key_name, int64_t tokens, TimePoint now) {
  if (tokens == 0) return;
  std::lock_guard lock(mutex_);
  auto it = buckets_by_name_.find(key_name);
  if (it == buckets_by_name_.end() || it->second.tokens.capacity == 0) return;
  // Refill up to now first, so that the charge lands on the level the key really has.
  it->second.advance_to(now);
  Bucket& bucket = it->second.tokens;
  bucket.level = std::min(bucket.capacity, bucket.level - static_cast<double>(tokens));
}

}  // namespace troupe::auth
