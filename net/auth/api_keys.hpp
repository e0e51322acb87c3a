#pragma once
// API keys for the OpenAI-compatible gateway: who may call, under which name, with which limits.
//
// Keys come from `--api-key KEY` (repeatable; the n-th key overall is named "key-n" and has no
// limits), `--admin-api-key KEY` (the same, with the admin role) and/or an `--api-keys-file` in
// YAML: a map from key to its policy, every field optional.
//
//   sk-team-a-4f9c:            # the key exactly as clients send it after "Bearer "
//     name: team-a             # shown in logs, metrics and the usage ledger; default "key-n"
//     rpm: 600                 # requests per minute; 0 or absent = unlimited
//     tpm: 200000              # prompt + completion tokens per minute; 0 or absent = unlimited
//     role: tenant             # tenant (default): the API; admin: the API and the admin routes
//   sk-ci-77aa: {}             # or `sk-ci-77aa:` with nothing after it: default name, no limits
//
// A plain list of keys is not accepted (one format, one meaning). Keys may not be empty or hold
// whitespace or control characters; keys and names must be unique (a name is also the
// rate-limit bucket, so two keys sharing one would share limits that may disagree). Unknown
// fields are errors, so a misspelt limit never silently means "unlimited". Error messages name
// the file and line but never echo a key: keys are secrets and errors end up in logs.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.hpp"

namespace troupe::auth {

struct KeyPolicy {
  std::string name;
  int64_t requests_per_minute = 0;  // 0 = unlimited
  int64_t tokens_per_minute = 0;    // 0 = unlimited
  bool admin = false;               // may call the admin routes (drain, undrain, cluster status)
};

class ApiKeys {
 public:
  // `keys`: the --api-key values; `keys_file`: the --api-keys-file path, empty for none;
  // `admin_keys`: the --admin-api-key values.
  static Result<ApiKeys> create(const std::vector<std::string>& keys, const std::string& keys_file,
                                const std::vector<std::string>& admin_keys = {});

  // No key configured (as in a default-constructed ApiKeys): authentication is off and every
  // request is let in.
  bool enabled() const { return !policies_.empty(); }

  // The policy of the key in an "Authorization: Bearer <key>" header value (scheme matched
  // case-insensitively), or nullptr when the header is missing, malformed or names no key.
  // Takes the same time whichever key matches, if any, and wherever a wrong key differs.
  // The pointer stays valid as long as this ApiKeys does.
  const KeyPolicy* authenticate(std::string_view authorization_header) const;

  size_t size() const { return policies_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;  // SHA-256
  static Digest digest_of(std::string_view key);

  // Parallel vectors: digests_[i] is the SHA-256 of the key whose policy is policies_[i]. The
  // keys themselves are not kept.
  std::vector<Digest> digests_;
  std::vector<KeyPolicy> policies_;
};

}  // namespace troupe::auth
