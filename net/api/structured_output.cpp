#include "net/api/structured_output.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "engine/grammar/compiled_grammar.hpp"
#include "engine/grammar/gbnf.hpp"
#include "engine/grammar/grammar_builder.hpp"
#include "engine/grammar/grammar_words.hpp"
#include "engine/grammar/regex.hpp"
#include "net/api/bounded_json.hpp"
#include "net/api/json_schema_grammar.hpp"

namespace troupe::api {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::array<const char*, 5> kFields = {"response_format", "guided_json", "guided_choice",
                                                "guided_grammar", "guided_regex"};

Result<grammar::Grammar> schema_grammar(const ordered_json& schema, const std::string& param) {
  if (schema.is_string()) {  // vLLM takes guided_json as a JSON text, too
    const std::string& text = schema.get_ref<const std::string&>();
    if (json_nesting_depth(text, kMaxJsonDepth + 1) > kMaxJsonDepth) {
      return make_error("'" + param + "' nests deeper than " + std::to_string(kMaxJsonDepth) +
                        " levels");
    }
    const json plain = parse_bounded_json_or_discarded(text);
    if (plain.is_discarded()) return make_error("'" + param + "' is not valid JSON");
    if (auto wide = too_wide_to_order(plain, param)) return make_error(*wide);
    return json_schema_grammar(ordered_json::parse(text));
  }
  return json_schema_grammar(schema);
}

Result<grammar::Grammar> choice_grammar(const json& choices) {
  if (!choices.is_array() || choices.empty()) {
    return make_error("'guided_choice' must be a non-empty array of strings");
  }
  grammar::GrammarBuilder b;
  std::vector<grammar::Sequence> alternatives;
  for (const json& c : choices) {
    if (!c.is_string()) return make_error("'guided_choice' must be a non-empty array of strings");
    alternatives.push_back(grammar::GrammarBuilder::literal(c.get<std::string>()));
  }
  b.define(b.rule("root"), std::move(alternatives));
  return b.finish("root");
}

Result<grammar::Grammar> format_grammar(const json& format, std::string_view body, bool& none) {
  if (!format.is_object() || !format.contains("type") || !format["type"].is_string()) {
    return make_error("'response_format' must be an object with a string 'type'");
  }
  const std::string type = format["type"].get<std::string>();
  if (type == "text") {
    none = true;
    return grammar::Grammar{};
  }
  if (type == "json_object") return json_object_grammar();
  if (type != "json_schema") {
    return make_error("'response_format.type' must be text, json_object or json_schema, got '" +
                      type + "'");
  }
  if (!format.contains("json_schema") || !format["json_schema"].is_object() ||
      !format["json_schema"].contains("schema")) {
    return make_error("'response_format' of type json_schema needs 'json_schema.schema'");
  }
  return json_schema_grammar(ordered_member(body, "response_format")["json_schema"]["schema"]);
}

// The grammar's words, or the field's error.
void use_grammar(JsonFields& fields, const std::string& param, Result<grammar::Grammar> g,
                 SamplingParams& sampling) {
  if (!g) return fields.fail(param, "'" + param + "': " + g.message());
  if (auto c = grammar::CompiledGrammar::compile(*g); !c) {
    return fields.fail(param, "'" + param + "': " + c.message());
  }
  sampling.grammar = grammar::to_words(*g);
}

}  // namespace

void read_tgi_grammar(JsonFields& params, std::string_view body, SamplingParams& sampling) {
  if (params.error || !params.has("grammar")) return;
  const json& g = params.json()["grammar"];
  if (!g.is_object() || !g.contains("type") || !g["type"].is_string() || !g.contains("value")) {
    return params.fail("grammar", "'grammar' must be {\"type\": \"json\", \"value\": ...}");
  }
  const std::string type = g["type"].get<std::string>();
  if (type == "regex") {
    if (!g["value"].is_string()) return params.fail("grammar", "'grammar.value' must be a string");
    return use_grammar(params, "grammar", grammar::parse_regex(g["value"].get<std::string>()),
                       sampling);
  }
  if (type != "json" && type != "json_schema") {
    return params.fail("grammar", "'grammar.type' must be json or regex, got '" + type + "'");
  }
  if (auto wide = too_wide_to_order(g, "grammar")) return params.fail("grammar", *wide);
  const ordered_json value = ordered_member(body, "parameters")["grammar"]["value"];
  use_grammar(params, "grammar", schema_grammar(value, "grammar"), sampling);
}

bool is_structured_output_field(std::string_view name) {
  for (const char* f : kFields) {
    if (name == f) return true;
  }
  return false;
}

void read_structured_output(JsonFields& fields, std::string_view body, SamplingParams& sampling) {
  if (fields.error) return;
  const char* given = nullptr;
  for (const char* f : kFields) {
    if (!fields.has(f)) continue;
    if (given) {
      return fields.fail(f, std::string("'") + f + "' and '" + given +
                                "' both constrain the output: give one of them");
    }
    given = f;
  }
  if (!given) return;
  const std::string param = given;
  const json& value = fields.json()[given];
  if (auto wide = too_wide_to_order(value, param)) return fields.fail(param, *wide);
  bool none = false;
  Result<grammar::Grammar> g = make_error("");
  if (param == "response_format") {
    g = format_grammar(value, body, none);
  } else if (param == "guided_json") {
    g = schema_grammar(ordered_member(body, given), param);
  } else if (param == "guided_choice") {
    g = choice_grammar(value);
  } else if (param == "guided_grammar") {
    if (!value.is_string()) return fields.fail(param, "'guided_grammar' must be a string (GBNF)");
    g = grammar::parse_gbnf(value.get<std::string>());
  } else {
    if (!value.is_string()) return fields.fail(param, "'guided_regex' must be a string");
    g = grammar::parse_regex(value.get<std::string>());
  }
  if (none) return;
  use_grammar(fields, param, std::move(g), sampling);
}

}  // namespace troupe::api
