#pragma once
// The cluster's shared secret, and the TLS credentials every node derives from it. Nodes prove
// they hold the secret by completing a mutually authenticated TLS handshake (CAF's OpenSSL
// module): each derives the same Ed25519 key from the secret (HKDF-SHA256) and the same
// self-signed certificate (Ed25519 signatures are deterministic, and every field is fixed), and
// trusts exactly that certificate. A process without the secret cannot finish the handshake, so
// it can send the front nothing at all; with it, the link is encrypted too. No certificates to
// hand out: the secret is the one thing to distribute (a file, e.g. a Kubernetes Secret).
#include <string>

#include "engine/result.hpp"

namespace troupe::cluster {

// Fewer bytes than this is a password, not a key.
inline constexpr size_t kMinSecretBytes = 16;

// The secret in `path`, surrounding whitespace trimmed. Errors name the file, never its content:
// unreadable, too short, or readable by others than its owner (group or world permissions).
Result<std::string> read_cluster_secret(const std::string& path);

// PEM files written for CAF's OpenSSL module, in a directory only this user can read; the
// directory is removed with this object.
class ClusterCredentials {
 public:
  static Result<ClusterCredentials> derive(const std::string& secret);
  ClusterCredentials(ClusterCredentials&& other) noexcept;
  ClusterCredentials& operator=(ClusterCredentials&&) = delete;
  ~ClusterCredentials();

  const std::string& key_file() const { return key_file_; }
  const std::string& certificate_file() const { return certificate_file_; }

 private:
  ClusterCredentials() = default;
  std::string directory_;
  std::string key_file_;
  std::string certificate_file_;
};

// The derived certificate in PEM: the same bytes for the same secret on every node.
Result<std::string> derived_certificate_pem(const std::string& secret);

}  // namespace troupe::cluster
