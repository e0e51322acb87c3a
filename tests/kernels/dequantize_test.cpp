// Dequantization of every supported type against gguf-py's (fixture made by
// bench/reference/make_dequant_fixtures.py).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/cpu/dequantize.hpp"

using namespace troupe;

namespace {

DType type_named(const std::string& name) {
  for (uint32_t id = 0; id < 64; ++id) {
    if (auto t = dtype_traits(id); t && t->name == name) return static_cast<DType>(id);
  }
  FAIL("unknown type " << name);
  return DType::F32;
}

std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

TEST_CASE("dequantize_row matches gguf-py for every type") {
  std::ifstream in(TROUPE_FIXTURES_DIR "/reference/dequantize.json");
  REQUIRE(in);
  const auto fixture = nlohmann::json::parse(in);
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["type"];
    const auto bytes = from_hex(c["bytes"]);
    const auto expected = c["values"].get<std::vector<float>>();
    std::vector<float> got(expected.size());
    dequantize_row(type_named(name), bytes.data(), got.data(), static_cast<int64_t>(got.size()));
    INFO(name);
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("element " << i);
      REQUIRE(got[i] == Approx(expected[i]).margin(1e-6).epsilon(1e-5));
    }
  }
}
