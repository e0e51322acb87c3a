#include "net/cluster/cluster_secret.hpp"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>

namespace troupe::cluster {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using KdfContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

// HKDF-SHA256 of the secret: the Ed25519 private key's 32 bytes.
Result<Key> derived_key(const std::string& secret) {
  KdfContext kdf(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  static constexpr unsigned char kSalt[] = "troupe cluster v1";
  static constexpr unsigned char kInfo[] = "ed25519 node key";
  unsigned char seed[32];
  size_t length = sizeof seed;
  if (!kdf || EVP_PKEY_derive_init(kdf.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(kdf.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_salt(kdf.get(), kSalt, sizeof kSalt - 1) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(kdf.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                 static_cast<int>(secret.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(kdf.get(), kInfo, sizeof kInfo - 1) <= 0 ||
      EVP_PKEY_derive(kdf.get(), seed, &length) <= 0) {
    return make_error("cannot derive the cluster key (OpenSSL's HKDF failed)");
  }
  Key key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, sizeof seed));
  OPENSSL_cleanse(seed, sizeof seed);
  if (!key) return make_error("cannot derive the cluster key (OpenSSL's Ed25519 failed)");
  return key;
}

// Every field fixed, so that each node builds the same certificate byte for byte.
Result<Certificate> self_signed(EVP_PKEY* key) {
  Certificate cert(X509_new());
  if (!cert) return make_error("cannot build the cluster certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  ASN1_TIME_set_string(X509_getm_notBefore(cert.get()), "20000101000000Z");
  ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "20991231235959Z");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("troupe cluster"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  if (X509_sign(cert.get(), key, nullptr) <= 0) {  // Ed25519 takes no separate digest
    return make_error("cannot sign the cluster certificate");
  }
  return cert;
}

std::string pem_of(const std::function<int(BIO*)>& write) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return {};
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

Status write_private_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) return make_error("cannot write " + path);
  return Ok{};
}

}  // namespace

Result<std::string> read_cluster_secret(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return make_error("cannot read the cluster secret file '" + path + "'");
  }
  if (info.st_mode & (S_IRWXG | S_IRWXO)) {
    return make_error("the cluster secret file '" + path +
                      "' is open to other users: chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  std::string secret{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in && !in.eof()) return make_error("cannot read the cluster secret file '" + path + "'");
  const auto first = secret.find_first_not_of(" \t\r\n");
  const auto last = secret.find_last_not_of(" \t\r\n");
  secret = first == std::string::npos ? std::string() : secret.substr(first, last - first + 1);
  if (secret.size() < kMinSecretBytes) {
    return make_error("the cluster secret in '" + path + "' is shorter than " +
                      std::to_string(kMinSecretBytes) +
                      " bytes: make one with 'head -c 32 /dev/urandom | base64'");
  }
  return secret;
}

Result<std::string> derived_certificate_pem(const std::string& secret) {
  auto key = derived_key(secret);
  if (!key) return key.error();
  auto cert = self_signed(key->get());
  if (!cert) return cert.error();
  return pem_of([&](BIO* bio) { return PEM_write_bio_X509(bio, cert->get()); });
}

Result<ClusterCredentials> ClusterCredentials::derive(const std::string& secret) {
  auto key = derived_key(secret);
  if (!key) return key.error();
  auto cert = self_signed(key->get());
  if (!cert) return cert.error();
  const std::string key_pem = pem_of([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key->get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  const std::string cert_pem =
      pem_of([&](BIO* bio) { return PEM_write_bio_X509(bio, cert->get()); });
  if (key_pem.empty() || cert_pem.empty())
    return make_error("cannot write the cluster credentials");

  std::string pattern = (std::filesystem::temp_directory_path() / "troupe-cluster-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) {  // mode 0700
    return make_error("cannot make a private directory for the cluster credentials in " +
                      std::filesystem::temp_directory_path().string());
  }
  ClusterCredentials credentials;
  credentials.directory_ = pattern;
  credentials.key_file_ = pattern + "/key.pem";
  credentials.certificate_file_ = pattern + "/certificate.pem";
  const mode_t old_mask = ::umask(077);
  auto wrote = write_private_file(credentials.key_file_, key_pem);
  if (wrote) wrote = write_private_file(credentials.certificate_file_, cert_pem);
  ::umask(old_mask);
  if (!wrote) return wrote.error();
  return credentials;
}

ClusterCredentials::ClusterCredentials(ClusterCredentials&& other) noexcept
    : directory_(std::move(other.directory_)),
      key_file_(std::move(other.key_file_)),
      certificate_file_(std::move(other.certificate_file_)) {
  other.directory_.clear();
}

ClusterCredentials::~ClusterCredentials() {
  if (directory_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

}  // namespace troupe::cluster
