#include "net/auth/api_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unordered_map>

namespace troupe::auth {
namespace {

// A key before validation, with where it came from so that errors can point there without
// quoting the key itself.
struct ConfiguredKey {
  std::string key;
  KeyPolicy policy;
  std::string origin;  // "--api-key #2" or "api keys file 'x.yaml', line 3"
};

std::string default_name(size_t index) {
  return "key-" + std::to_string(index + 1);
}

std::string file_origin(const std::string& path, const YAML::Node& node) {
  return "api keys file '" + path + "', line " + std::to_string(node.Mark().line + 1);
}

bool is_http_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_http_spaces(std::string_view text) {
  while (!text.empty() && is_http_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_http_space(text.back())) text.remove_suffix(1);
  return text;
}

// A key travels as one token in a header, so it cannot hold spaces or control characters.
bool is_sendable_key(std::string_view key) {
  for (unsigned char c : key) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool starts_with_bearer(std::string_view text) {
  constexpr std::string_view kScheme = "bearer";
  if (text.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = text[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return false;
  }
  return true;
}

Result<std::string> read_whole_file(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return make_error("cannot read api keys file '" + path +
                      "': it is a directory; check --api-keys-file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error("cannot read api keys file '" + path + "': " + std::strerror(errno) +
                      "; check --api-keys-file");
  }
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return make_error("cannot read api keys file '" + path + "'");
  return text;
}

// Text from the keys file as an error may show it: quoted when it is at most `most` characters,
// all of them in `allowed`; else only its length. A key never appears in an error (errors end
// up in logs), and a key written on the wrong line reads as a field or a value.
constexpr const char* kLowerWord = "abcdefghijklmnopqrstuvwxyz_";
std::string shown(const std::string& text, size_t most, std::initializer_list<const char*> allowed,
                  const char* hidden_as, const char* hidden_because) {
  for (const char* characters : allowed) {
    if (text.size() <= most && text.find_first_not_of(characters) == std::string::npos)
      return "'" + text + "'";
  }
  return hidden_as + std::to_string(text.size()) + " characters (not shown: " + hidden_because +
         ")";
}

// A limit's value: a number, or a short word ('unlimited').
std::string shown_value(const YAML::Node& value) {
  if (!value.IsScalar()) return "a list or map";
  return shown(value.Scalar(), 20, {"0123456789+-.eE", kLowerWord}, "a value of ",
               "it may be a key written on the wrong line");
}

Result<int64_t> parse_limit(const YAML::Node& value, const std::string& field,
                            const std::string& where) {
  const std::string shown = shown_value(value);
  int64_t limit = 0;
  try {
    if (!value.IsScalar()) throw YAML::BadConversion(value.Mark());
    limit = value.as<int64_t>();
  } catch (const YAML::BadConversion&) {
    return make_error(where + ": " + field + " must be a whole number, got " + shown);
  }
  if (limit < 0) {
    return make_error(where + ": " + field + " must be 0 (unlimited) or more, got " + shown);
  }
  return limit;
}

// An unknown field's name: a typo of a field is short and lower case ('rmp'), while a key
// indented under another key's entry reads as a field too.
std::string shown_field(const std::string& name) {
  return shown(name, 8, {kLowerWord}, "of ", "it may be a key indented under this entry");
}

Status parse_policy(const YAML::Node& value, const std::string& where, KeyPolicy& policy) {
  if (value.IsNull()) return Ok{};  // `key:` alone: default name, no limits
  if (!value.IsMap()) {
    return make_error(where +
                      ": expected a map with name, rpm, tpm and role (or nothing) after the key");
  }
  for (const auto& field : value) {
    const std::string field_name = field.first.IsScalar() ? field.first.Scalar() : "";
    if (field_name == "name") {
      if (!field.second.IsScalar() || field.second.Scalar().empty()) {
        return make_error(where + ": name must be a non-empty string");
      }
      policy.name = field.second.Scalar();
    } else if (field_name == "role") {
      const std::string role = field.second.IsScalar() ? field.second.Scalar() : "";
      if (role != "tenant" && role != "admin") {
        return make_error(where + ": role must be tenant or admin");
      }
      policy.admin = role == "admin";
    } else if (field_name == "rpm" || field_name == "tpm") {
      auto limit = parse_limit(field.second, field_name, where);
      if (!limit) return limit.error();
      (field_name == "rpm" ? policy.requests_per_minute : policy.tokens_per_minute) = *limit;
    } else {
      return make_error(where + ": unknown field " + shown_field(field_name) +
                        "; expected name, rpm, tpm or role");
    }
  }
  return Ok{};
}

Status parse_keys_file(const std::string& path, std::vector<ConfiguredKey>& keys) {
  auto text = read_whole_file(path);
  if (!text) return text.error();
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::ParserException& e) {
    return make_error("api keys file '" + path + "' is not valid YAML: line " +
                      std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  const std::string expected = "expected a map from each key to {name, rpm, tpm, role}";
  if (root.IsNull() || (root.IsMap() && root.size() == 0)) {
    // An empty file would silently turn authentication off; say so instead.
    return make_error("api keys file '" + path + "' holds no keys; " + expected);
  }
  if (!root.IsMap()) {
    return make_error(
        "api keys file '" + path + "': " + expected +
        (root.IsSequence() ? " (a plain list is not accepted: write `KEY: {}`)" : ""));
  }
  for (const auto& entry : root) {
    const std::string where = file_origin(path, entry.first);
    if (!entry.first.IsScalar()) return make_error(where + ": a key must be a plain string");
    ConfiguredKey configured{entry.first.Scalar(), KeyPolicy{default_name(keys.size())}, where};
    if (auto parsed = parse_policy(entry.second, where, configured.policy); !parsed) return parsed;
    keys.push_back(std::move(configured));
  }
  return Ok{};
}

// Every key sendable, every key and every name unique.
Status validate(const std::vector<ConfiguredKey>& keys) {
  std::unordered_map<std::string, const ConfiguredKey*> by_key, by_name;
  for (const auto& configured : keys) {
    if (configured.key.empty()) return make_error(configured.origin + ": the key is empty");
    if (!is_sendable_key(configured.key)) {
      return make_error(configured.origin + ": the key holds a space or control character");
    }
    if (auto [it, added] = by_key.emplace(configured.key, &configured); !added) {
      return make_error(configured.origin + ": the same key is already given by " +
                        it->second->origin + "; each key must appear once");
    }
    if (auto [it, added] = by_name.emplace(configured.policy.name, &configured); !added) {
      return make_error(configured.origin + ": name '" + configured.policy.name +
                        "' is already used by " + it->second->origin + "; names must be unique");
    }
  }
  return Ok{};
}

}  // namespace

Result<ApiKeys> ApiKeys::create(const std::vector<std::string>& keys, const std::string& keys_file,
                                const std::vector<std::string>& admin_keys) {
  std::vector<ConfiguredKey> configured;
  for (const auto& key : keys) {
    const std::string name = default_name(configured.size());
    configured.push_back(
        {key, KeyPolicy{name}, "--api-key #" + std::to_string(configured.size() + 1)});
  }
  for (size_t i = 0; i < admin_keys.size(); ++i) {
    KeyPolicy policy{default_name(configured.size())};
    policy.admin = true;
    configured.push_back({admin_keys[i], policy, "--admin-api-key #" + std::to_string(i + 1)});
  }
  if (!keys_file.empty()) {
    if (auto parsed = parse_keys_file(keys_file, configured); !parsed) return parsed.error();
  }
  if (auto valid = validate(configured); !valid) return valid.error();

  ApiKeys api_keys;
  for (auto& entry : configured) {
    api_keys.digests_.push_back(digest_of(entry.key));
    api_keys.policies_.push_back(std::move(entry.policy));
  }
  return api_keys;
}

ApiKeys::Digest ApiKeys::digest_of(std::string_view key) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest.data());
  return digest;
}

const KeyPolicy* ApiKeys::authenticate(std::string_view authorization_header) const {
  // The early returns depend only on the header's shape, never on the configured keys.
  const std::string_view header = trim_http_spaces(authorization_header);
  constexpr size_t kSchemeLength = 6;  // "bearer"
  if (!starts_with_bearer(header) || header.size() <= kSchemeLength ||
      !is_http_space(header[kSchemeLength])) {
    return nullptr;
  }
  const std::string_view key = trim_http_spaces(header.substr(kSchemeLength));
  if (key.empty() || !is_sendable_key(key)) return nullptr;

  // Equal-length digests compared with CRYPTO_memcmp against every key, and the match picked
  // with a mask rather than a branch or an early exit, so the time says nothing about the keys.
  const Digest presented = digest_of(key);
  size_t match_plus_one = 0;
  for (size_t i = 0; i < digests_.size(); ++i) {
    const size_t equal = CRYPTO_memcmp(presented.data(), digests_[i].data(), presented.size()) == 0;
    match_plus_one |= (size_t{0} - equal) & (i + 1);
  }
  return match_plus_one == 0 ? nullptr : &policies_[match_plus_one - 1];
}

}  // namespace troupe::auth
