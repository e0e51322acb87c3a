// The cluster secret file and the TLS credentials derived from it (net/cluster/cluster_secret).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "net/cluster/cluster_secret.hpp"

using namespace troupe::cluster;

namespace {

std::string temp_file(const std::string& content, mode_t mode) {
  static int counter = 0;
  const auto path =
      std::filesystem::temp_directory_path() /
      ("troupe_secret_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::ofstream(path) << content;
  ::chmod(path.c_str(), mode);
  return path.string();
}

}  // namespace

TEST_CASE("every node derives the same certificate from the same secret, and only from it") {
  const auto a = derived_certificate_pem("0123456789abcdef-secret-a");
  const auto again = derived_certificate_pem("0123456789abcdef-secret-a");
  const auto b = derived_certificate_pem("0123456789abcdef-secret-b");
  REQUIRE(a.ok());
  REQUIRE(again.ok());
  REQUIRE(b.ok());
  CHECK(*a == *again);  // Ed25519 signs deterministically; every field is fixed
  CHECK(*a != *b);
  CHECK(a->find("BEGIN CERTIFICATE") != std::string::npos);
}

TEST_CASE("derived credentials live in a private directory that goes with them") {
  std::string directory;
  {
    auto credentials = ClusterCredentials::derive("0123456789abcdef-secret-a");
    REQUIRE(credentials.ok());
    directory = std::filesystem::path(credentials->key_file()).parent_path().string();
    struct stat info {};
    REQUIRE(::stat(directory.c_str(), &info) == 0);
    CHECK((info.st_mode & 0077) == 0);
    REQUIRE(::stat(credentials->key_file().c_str(), &info) == 0);
    CHECK((info.st_mode & 0077) == 0);
    std::ifstream cert(credentials->certificate_file());
    std::string pem{std::istreambuf_iterator<char>(cert), std::istreambuf_iterator<char>()};
    CHECK(pem == *derived_certificate_pem("0123456789abcdef-secret-a"));
  }
  CHECK_FALSE(std::filesystem::exists(directory));
}

TEST_CASE("the secret file must be private, long enough, and is never echoed") {
  const std::string secret = "  s3cret-s3cret-s3cret-0123\n";
  const auto good = temp_file(secret, 0600);
  auto read = read_cluster_secret(good);
  REQUIRE(read.ok());
  CHECK(*read == "s3cret-s3cret-s3cret-0123");

  const auto shared = temp_file(secret, 0644);
  REQUIRE_FALSE(read_cluster_secret(shared).ok());
  CHECK_THAT(read_cluster_secret(shared).message(), Catch::Contains("chmod 600"));
  CHECK_THAT(read_cluster_secret(shared).message(), !Catch::Contains("s3cret"));

  const auto short_one = temp_file("tiny\n", 0600);
  CHECK_THAT(read_cluster_secret(short_one).message(), Catch::Contains("shorter than 16"));
  CHECK_THAT(read_cluster_secret("/nonexistent/secret").message(), Catch::Contains("cannot read"));
  for (const auto& path : {good, shared, short_one}) std::filesystem::remove(path);
}
