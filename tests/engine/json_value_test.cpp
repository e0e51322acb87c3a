// parse_json_value: JSON text as the values jinja2 would get from json.loads — checked against
// nlohmann's reading of the same texts, dumped back through the template's own tojson.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/chat/json_dump.hpp"
#include "engine/chat/json_value.hpp"

using namespace troupe;
using namespace troupe::chat;

namespace {

std::string dumped(const Value& v) {
  RenderBudget budget(RenderLimits{});
  auto text = dump_json(budget, v, JsonOptions{true, std::nullopt, ",", ":", false});
  REQUIRE(text.ok());
  return *text;
}

}  // namespace

TEST_CASE("json value: reads what nlohmann reads, in key order") {
  for (const char* text :
       {R"({"b": [1, -2, 3.5, 1e3, -0.25E-2], "a": {"x": null, "y": true, "z": false}})",
        R"("esc\"apes \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 é")", R"([])", R"({})", "  42  ",
        R"([[[[]]], {"k": [{}]}])", "-9223372036854775808", "123456789012345678901234"}) {
    INFO(text);
    auto ours = parse_json_value(text);
    REQUIRE(ours.ok());
    const auto theirs = nlohmann::ordered_json::parse(text);
    CHECK(dumped(*ours) == theirs.dump(-1, ' ', true));
  }
}

TEST_CASE("json value: a repeated key keeps its first place and last value, as Python's dict") {
  auto v = parse_json_value(R"({"a": 1, "b": 2, "a": 3})");
  REQUIRE(v.ok());
  CHECK(dumped(*v) == R"({"a":3,"b":2})");
}

TEST_CASE("json value: bad text is an error naming where, never a crash") {
  for (const char* text : {"", "[1,", "{\"a\" 1}", "{a: 1}", "[1 2]", "\"open", "01", "1.", "1e",
                           "tru", "[1]x", "\"\\x\"", "\"\\u12\"", "\"a\x01\"", "-"}) {
    INFO(text);
    auto v = parse_json_value(text);
    REQUIRE_FALSE(v.ok());
    CHECK_THAT(v.message(), Catch::Contains("JSON at byte"));
  }
  CHECK_FALSE(parse_json_value(std::string(200, '[') + std::string(200, ']')).ok());
  CHECK(parse_json_value(std::string(100, '[') + std::string(100, ']')).ok());
}

TEST_CASE("json value: random documents read as nlohmann reads them") {
  std::mt19937 rng(11);
  std::function<nlohmann::ordered_json(int)> random_json = [&](int depth) {
    switch (depth > 3 ? rng() % 4 : rng() % 6) {
      case 0:
        return nlohmann::ordered_json(static_cast<int64_t>(rng()) - (1ll << 31));
      case 1:
        return nlohmann::ordered_json(std::ldexp(static_cast<double>(rng()), -20));
      case 2:
        return nlohmann::ordered_json(std::string(rng() % 5, static_cast<char>('a' + rng() % 26)));
      case 3:
        return nlohmann::ordered_json(rng() % 2 == 0);
      case 4: {
        auto a = nlohmann::ordered_json::array();
        for (int i = static_cast<int>(rng() % 4); i > 0; --i) a.push_back(random_json(depth + 1));
        return a;
      }
      default: {
        auto o = nlohmann::ordered_json::object();
        for (int i = static_cast<int>(rng() % 4); i > 0; --i)
          o["k" + std::to_string(rng() % 10)] = random_json(depth + 1);
        return o;
      }
    }
  };
  for (int i = 0; i < 500; ++i) {
    const auto doc = random_json(0);
    auto v = parse_json_value(doc.dump(2));
    REQUIRE(v.ok());
    CHECK(dumped(*v) == doc.dump(-1, ' ', true));
  }
}
