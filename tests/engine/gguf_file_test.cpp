#include <catch2/catch.hpp>

#include "engine/gguf/gguf_file.hpp"
#include "tests/support/tiny_model.hpp"

using namespace troupe;

namespace {

Result<std::shared_ptr<const gguf::File>> parse(const std::vector<std::byte>& bytes) {
  return gguf::File::parse(bytes, "test.gguf");
}

}  // namespace

TEST_CASE("GGUF: metadata of every value type and tensor views round-trip") {
  test::GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("a.u32", 7);
  w.add_i32("a.i32", -3);
  w.add_f32("a.f32", 1.5f);
  w.add_bool("a.bool", true);
  w.add_string_array("a.strings", {"x", "", "yz"});
  w.add_f32_array("a.floats", {1, 2, 3});
  std::vector<float> values{1, 2, 3, 4, 5, 6, 7, 8};
  w.add_tensor("t", {4, 2}, DType::F32, test::as_bytes(values));
  auto file = parse(w.bytes());
  REQUIRE(file.ok());
  const auto& f = **file;
  CHECK(f.version() == 3);
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.get_int("a.u32") == 7);
  CHECK(f.get_int("a.i32") == -3);
  CHECK(f.get_float("a.f32") == 1.5);
  CHECK(f.get_bool("a.bool") == true);
  CHECK(f.find("a.strings")->as_array()->size() == 3);
  CHECK(*f.find("a.strings")->as_array()->at(2).as_string() == "yz");
  CHECK(!f.get_int("missing"));
  const auto* t = f.find_tensor("t");
  REQUIRE(t);
  CHECK(t->rows() == 2);
  CHECK(t->data.size() == 32);
  CHECK(reinterpret_cast<const float*>(t->data.data())[5] == 6.0f);
}

TEST_CASE("GGUF: every truncation of a valid file fails cleanly") {
  const auto bytes = test::tiny_model_gguf({.layers = 1});
  REQUIRE(parse(bytes).ok());
  // Every prefix is either a clean error or, for cuts inside padding, still consistent.
  for (size_t cut = 0; cut < bytes.size(); cut += (cut < 4096 ? 1 : 97)) {
    auto r = parse(std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    if (!r.ok()) CHECK(r.message().find("test.gguf") != std::string::npos);
  }
}

TEST_CASE("GGUF: corrupt headers are named") {
  auto bytes = test::tiny_model_gguf({.layers = 1});
  SECTION("bad magic") {
    bytes[0] = std::byte{'X'};
    auto r = parse(bytes);
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("not a GGUF file"));
  }
  SECTION("unsupported version") {
    bytes[4] = std::byte{1};
    auto r = parse(bytes);
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("version 1"));
  }
  SECTION("absurd counts") {
    bytes[8] = std::byte{0xff};
    bytes[15] = std::byte{0x7f};
    auto r = parse(bytes);
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("exceed the file size"));
  }
}

namespace {

// A GGUF v3 header with `tensors` tensors and `kvs` metadata entries, then `tail`.
std::vector<std::byte> header(uint64_t tensors, uint64_t kvs, const std::vector<std::byte>& tail) {
  std::vector<std::byte> out;
  auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out.insert(out.end(), b, b + n);
  };
  const uint32_t version = 3;
  put("GGUF", 4);
  put(&version, 4);
  put(&tensors, 8);
  put(&kvs, 8);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

}  // namespace

TEST_CASE("GGUF: counts a file cannot mean are refused before anything is sized from them") {
  // Counts within the bytes left but past any model's: each element also takes a ~40-byte
  // Value, each tensor a record, so they once reserved gigabytes (a bad_alloc ends the process).
  SECTION("an array of 2^24 + 1 bytes") {
    std::vector<std::byte> kv;
    auto put = [&](const void* p, size_t n) {
      const auto* b = static_cast<const std::byte*>(p);
      kv.insert(kv.end(), b, b + n);
    };
    const uint64_t key_len = 1, count = (uint64_t{1} << 24) + 1;
    const uint32_t array_type = 9, uint8_type = 0;
    put(&key_len, 8);
    put("k", 1);
    put(&array_type, 4);
    put(&uint8_type, 4);
    put(&count, 8);
    kv.resize(kv.size() + count);
    auto r = parse(header(0, 1, kv));
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("16777217 array elements"));
  }
  SECTION("2^20 + 1 tensors") {
    auto r = parse(header((uint64_t{1} << 20) + 1, 0, std::vector<std::byte>(2 << 20)));
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("1048577 tensors"));
  }
}

TEST_CASE("GGUF: unsupported tensor types and out-of-range data are rejected") {
  SECTION("unsupported type") {
    test::GgufWriter w;
    w.add_tensor("q5", {32}, static_cast<DType>(6), std::vector<std::byte>(22));
    auto r = parse(w.bytes());
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("Q5_0") && Catch::Contains("supported"));
  }
  SECTION("data past the end") {
    test::GgufWriter w;
    w.add_tensor("t", {8}, DType::F32, std::vector<std::byte>(32));
    auto bytes = w.bytes();
    bytes.resize(bytes.size() - 16);
    auto r = parse(bytes);
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("runs past the end"));
  }
  SECTION("row not a multiple of the block") {
    test::GgufWriter w;
    w.add_tensor("t", {16}, DType::Q8_0, std::vector<std::byte>(34));
    auto r = parse(w.bytes());
    REQUIRE(!r.ok());
    CHECK_THAT(r.message(), Catch::Contains("block size"));
  }
}

TEST_CASE("GGUF: a missing file names the path") {
  auto r = gguf::File::open("/nonexistent/model.gguf");
  REQUIRE(!r.ok());
  CHECK_THAT(r.message(), Catch::Contains("/nonexistent/model.gguf"));
}

TEST_CASE("GGUF: random byte flips never crash the parser") {
  const auto original = test::tiny_model_gguf({.layers = 1});
  std::mt19937 rng(42);
  for (int i = 0; i < 300; ++i) {
    auto bytes = original;
    for (int k = 0; k < 4; ++k) {
      const size_t at = rng() % std::min<size_t>(bytes.size(), 8192);
      bytes[at] = static_cast<std::byte>(rng());
    }
    (void)parse(bytes);  // any result is fine; ASan/UBSan builds catch bad reads
  }
  SUCCEED();
}
