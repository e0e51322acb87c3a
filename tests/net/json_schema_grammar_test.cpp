// JSON Schema compiled to a grammar: documents the schema accepts match it whole, documents it
// rejects do not, and what the compiler does not support is an error naming the keyword.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/grammar_matcher.hpp"
#include "net/api/json_schema_grammar.hpp"

using namespace troupe;
using json = nlohmann::ordered_json;

namespace {

std::shared_ptr<const grammar::CompiledGrammar> compile(const json& schema) {
  auto g = api::json_schema_grammar(schema);
  INFO(schema.dump());
  REQUIRE(g.ok());
  auto c = grammar::CompiledGrammar::compile(*g);
  REQUIRE(c.ok());
  return *c;
}

bool accepts(const std::shared_ptr<const grammar::CompiledGrammar>& g, const std::string& text) {
  grammar::GrammarMatcher m(g);
  return m.accept(text) && m.complete();
}

std::string error_of(const json& schema) {
  auto g = api::json_schema_grammar(schema);
  return g.ok() ? "" : g.message();
}

}  // namespace

TEST_CASE("json schema: objects with required, optional and extra properties") {
  const auto g = compile(json::parse(R"({
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                   "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                   "ok": {"type": "boolean"}},
    "required": ["name", "ok"]})"));
  CHECK(accepts(g, R"({"name": "Ann", "ok": true})"));
  CHECK(accepts(g, R"({"name":"Ann","age":31,"tags":["a","b"],"ok":false})"));
  CHECK(accepts(g, "{\n  \"name\": \"A\\\"nn\\u00e9\",\n  \"age\": 0,\n  \"ok\": true\n}"));
  CHECK_FALSE(accepts(g, R"({"name": "Ann"})"));                         // ok is required
  CHECK_FALSE(accepts(g, R"({"ok": true, "name": "Ann"})"));             // declared order
  CHECK_FALSE(accepts(g, R"({"name": "Ann", "age": -1, "ok": true})"));  // minimum 0
  CHECK_FALSE(accepts(g, R"({"name": "Ann", "tags": ["a","b","c"], "ok": true})"));
  CHECK_FALSE(accepts(g, R"({"name": "Ann", "ok": true, "x": 1})"));  // no extras by default
  CHECK_FALSE(accepts(g, R"({"name": "Ann", "age": 01, "ok": true})"));
  CHECK_FALSE(accepts(g, "{\"name\": \"a\nb\", \"ok\": true}"));  // a raw newline in a string

  const auto open = compile(json::parse(
      R"({"type": "object", "properties": {"a": {"type": "number"}},
          "additionalProperties": {"type": "null"}})"));
  CHECK(accepts(open, R"({"a": -1.5e3, "b": null, "c": null})"));
  CHECK(accepts(open, R"({"b": null})"));
  CHECK(accepts(open, "{}"));
  CHECK_FALSE(accepts(open, R"({"b": 1})"));

  const auto any = compile(json::object());
  CHECK(accepts(any, R"([1, {"a": [true, null]}, "x"])"));
  CHECK(accepts(any, "-0.25"));
  const auto mode = grammar::CompiledGrammar::compile(api::json_object_grammar());
  REQUIRE(mode.ok());
  CHECK(accepts(*mode, R"({"any": {"thing": [1, 2]}})"));
  CHECK_FALSE(accepts(*mode, "[1]"));
}

TEST_CASE("json schema: enums, consts, anyOf, refs, arrays, formats") {
  const auto g = compile(json::parse(R"({
    "$defs": {"node": {"type": "object", "properties": {
                 "v": {"enum": ["a", 1, null]},
                 "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
               "required": ["v"]}},
    "type": "object",
    "properties": {"root": {"$ref": "#/$defs/node"},
                   "kind": {"const": "tree"},
                   "id": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
                   "when": {"type": "string", "format": "date-time"},
                   "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
                            "items": false, "minItems": 2},
                   "code": {"type": "string", "minLength": 2, "maxLength": 3}},
    "required": ["root", "kind"]})"));
  CHECK(accepts(
      g, R"({"root": {"v": "a", "kids": [{"v": 1}, {"v": null, "kids": []}]}, "kind": "tree"})"));
  CHECK(accepts(
      g, R"({"root": {"v": 1}, "kind": "tree", "id": "123e4567-e89b-12d3-a456-426614174000"})"));
  CHECK(accepts(
      g, R"({"root": {"v": 1}, "kind": "tree", "id": null, "when": "2026-12-03T15:04:05.123Z"})"));
  CHECK(accepts(g, R"({"root": {"v": 1}, "kind": "tree", "pair": [1, "x"], "code": "abc"})"));
  CHECK_FALSE(accepts(g, R"({"root": {"v": "b"}, "kind": "tree"})"));
  CHECK_FALSE(accepts(g, R"({"root": {"v": 1}, "kind": "forest"})"));
  CHECK_FALSE(accepts(g, R"({"root": {"v": 1}, "kind": "tree", "id": "not-a-uuid"})"));
  CHECK_FALSE(accepts(g, R"({"root": {"v": 1}, "kind": "tree", "when": "2026-13-03T15:04:05Z"})"));
  CHECK_FALSE(accepts(g, R"({"root": {"v": 1}, "kind": "tree", "pair": [1, "x", 2]})"));
  CHECK_FALSE(accepts(g, R"({"root": {"v": 1}, "kind": "tree", "pair": [1]})"));
  CHECK_FALSE(accepts(g, R"({"root": {"v": 1}, "kind": "tree", "code": "abcd"})"));

  const auto list =
      compile(json::parse(R"({"type": "array", "items": {"type": ["integer", "boolean"]},
                                              "minItems": 1, "maxItems": 3})"));
  CHECK(accepts(list, "[1]"));
  CHECK(accepts(list, "[1, true, -3]"));
  CHECK_FALSE(accepts(list, "[]"));
  CHECK_FALSE(accepts(list, "[1, 2, 3, 4]"));
  CHECK_FALSE(accepts(list, "[1.5]"));
}

TEST_CASE("json schema: pattern matches the string's characters, escaped in the JSON text") {
  auto anchored = compile(json::parse(R"({"type": "string", "pattern": "^[a-z]+@[a-z]+\\.com$"})"));
  CHECK(accepts(anchored, R"("bob@example.com")"));
  CHECK_FALSE(accepts(anchored, R"("Bob@example.com")"));
  CHECK_FALSE(accepts(anchored, R"("x bob@example.com")"));
  // Unanchored, as JSON Schema reads it: a match anywhere in the string.
  auto search = compile(json::parse(R"({"type": "string", "pattern": "[0-9]{3}"})"));
  CHECK(accepts(search, R"("call 555 now")"));
  CHECK(accepts(search, R"("555")"));
  CHECK_FALSE(accepts(search, R"("55 5")"));
  // Quotes, backslashes and controls the pattern allows go out escaped, never raw.
  auto any = compile(json::parse(R"({"type": "string", "pattern": "^a.b$"})"));
  CHECK(accepts(any, R"("a\"b")"));
  CHECK(accepts(any, R"("a\\b")"));
  CHECK(accepts(any, R"("a\tb")"));
  CHECK(accepts(any, R"("a\u0001b")"));
  CHECK(accepts(any,
                "\"a\xc3\xa9"
                "b\""));  // é: two bytes, one character
  CHECK_FALSE(accepts(any, "\"a\"b\""));
  CHECK_FALSE(accepts(any, "\"a\tb\""));   // a raw tab is not valid JSON
  CHECK_FALSE(accepts(any, R"("a\nb")"));  // '.' is not a newline
  auto dollar = compile(json::parse(R"({"type": "string", "pattern": "^cost: [0-9]+\\$"})"));
  CHECK(accepts(dollar, R"("cost: 5$")"));
  CHECK(accepts(dollar, R"("cost: 5$ each")"));  // the escaped '$' anchors nothing
}

TEST_CASE("json schema: what is not supported is an error naming it") {
  CHECK(error_of(json::parse(R"({"type": "object", "patternProperties": {}})")) ==
        "json_schema at root: the keyword 'patternProperties' is not supported");
  CHECK(error_of(json::parse(R"({"type": "string", "pattern": "(a"})")).find("root/pattern") !=
        std::string::npos);
  CHECK(error_of(json::parse(R"({"type": "string", "pattern": "a", "maxLength": 3})"))
            .find("pattern together with minLength") != std::string::npos);
  CHECK(error_of(json::parse(R"({"properties": {"a": {"type": "integer", "maximum": 5}}})")) ==
        "json_schema at root/properties/a: the keyword 'maximum' is not supported");
  CHECK(error_of(json::parse(R"({"type": "string", "format": "hostname"})"))
            .find("string format 'hostname' is not supported") != std::string::npos);
  CHECK(error_of(json::parse(R"({"$ref": "#/$defs/missing"})")).find("points at nothing") !=
        std::string::npos);
  CHECK(error_of(json::parse(R"({"type": "integer", "minimum": 5})"))
            .find("root/minimum: only a minimum of 0") != std::string::npos);
  CHECK(error_of(json::parse(R"({"type": "tuple"})")).find("unknown type 'tuple'") !=
        std::string::npos);
  CHECK(error_of(json::parse(R"({"required": ["x"], "properties": {}})"))
            .find("'x' is not among the properties") != std::string::npos);
  CHECK(error_of(json::parse(R"({"type": "array", "minItems": 3, "maxItems": 2})"))
            .find("maxItems is below minItems") != std::string::npos);
  CHECK(error_of(json(false)).find("accepts nothing") != std::string::npos);
  json deep = json::object();
  for (int i = 0; i < 100; ++i) deep = json{{"type", "array"}, {"items", deep}};
  CHECK(error_of(deep).find("nested too deep") != std::string::npos);
}

TEST_CASE("json schema: schemas that would outgrow the grammar's bounds are errors, not crashes") {
  // 40,000 properties: each member's rule was built by a recursive call (the stack overflowed).
  json wide = {{"type", "object"}, {"properties", json::object()}};
  for (int i = 0; i < 40000; ++i) wide["properties"]["k" + std::to_string(i)] = true;
  CHECK(error_of(wide).find("the grammar is too large") != std::string::npos);
  // A few hundred still compile, every one of them optional.
  json some = {{"type", "object"}, {"properties", json::object()}};
  for (int i = 0; i < 300; ++i) some["properties"]["k" + std::to_string(i)] = {{"type", "null"}};
  CHECK(error_of(some).empty());
  // prefixItems: one alternative per item count, each as long as its count (quadratic).
  json tuple = {{"type", "array"}, {"prefixItems", json::array()}};
  for (int i = 0; i < 1001; ++i) tuple["prefixItems"].push_back(true);
  CHECK(error_of(tuple).find("root/prefixItems: at most 1000 schemas") != std::string::npos);
  // A reference whose array index is past any size: an error naming it, not an exception.
  CHECK(error_of(json::parse(R"({"$ref": "#/prefixItems/99999999999999999999999"})"))
            .find("points at nothing") != std::string::npos);
}
