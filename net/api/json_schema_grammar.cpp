#include "net/api/json_schema_grammar.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "engine/grammar/grammar_builder.hpp"
#include "engine/grammar/regex.hpp"

namespace troupe::api {
namespace {

using grammar::Element;
using grammar::GrammarBuilder;
using grammar::Sequence;
using json = nlohmann::ordered_json;

constexpr int kMaxDepth = 64;         // schemas nested within schemas
constexpr int kMaxRepetition = 1000;  // minItems, maxItems, minLength, maxLength

const std::set<std::string> kAnnotations = {"title",    "description", "default",  "examples",
                                            "$schema",  "$id",         "$comment", "deprecated",
                                            "readOnly", "writeOnly",   "strict",   "discriminator"};

struct SchemaError {
  std::string message;
};

// A grammar of raw characters as the grammar of their JSON string text: every byte range that
// holds '"', '\\' or a control character is split, and those go out escaped.
grammar::Grammar json_escaped(grammar::Grammar g) {
  auto escape = [](uint8_t c) -> std::string {
    switch (c) {
      case '"':
        return "\\\"";
      case '\\':
        return "\\\\";
      case '\n':
        return "\\n";
      case '\r':
        return "\\r";
      case '\t':
        return "\\t";
      case '\b':
        return "\\b";
      case '\f':
        return "\\f";
      default: {
        static const char kHex[] = "0123456789abcdef";
        return std::string("\\u00") + kHex[c >> 4] + kHex[c & 15];
      }
    }
  };
  auto special = [](int c) { return c < 0x20 || c == '"' || c == '\\'; };
  std::map<std::pair<uint8_t, uint8_t>, int32_t> escaped_ranges;
  const size_t original = g.rules.size();
  for (size_t r = 0; r < original; ++r) {
    for (size_t a = 0; a < g.rules[r].alternatives.size(); ++a) {
      for (size_t e = 0; e < g.rules[r].alternatives[a].size(); ++e) {
        const Element element = g.rules[r].alternatives[a][e];
        if (element.kind != Element::Kind::bytes) continue;
        bool any = false;
        for (int c = element.lo; c <= element.hi; ++c) any = any || special(c);
        if (!any) continue;
        auto [it, fresh] = escaped_ranges.emplace(std::pair(element.lo, element.hi), 0);
        if (fresh) {
          grammar::Rule rule{"escaped", {}};
          int run = -1;  // the start of a run of plain bytes
          for (int c = element.lo; c <= element.hi + 1; ++c) {
            if (c <= element.hi && !special(c)) {
              if (run < 0) run = c;
              continue;
            }
            if (run >= 0) {
              rule.alternatives.push_back(
                  {Element::byte_range(static_cast<uint8_t>(run), static_cast<uint8_t>(c - 1))});
              run = -1;
            }
            if (c <= element.hi) {
              rule.alternatives.push_back(GrammarBuilder::literal(escape(static_cast<uint8_t>(c))));
            }
          }
          it->second = static_cast<int32_t>(g.rules.size());
          g.rules.push_back(std::move(rule));
        }
        g.rules[r].alternatives[a][e] = Element::ref(it->second);
      }
    }
  }
  return g;
}

class SchemaCompiler {
 public:
  SchemaCompiler(const json& root, JsonSpacing spacing) : root_(root), spacing_(spacing) {}

  Result<grammar::Grammar> run() {
    try {
      const Element value = schema_element(root_, "root", 0);
      b_.define(b_.rule("root"), {{value}});
    } catch (const SchemaError& e) {
      return make_error(e.message);
    }
    return b_.finish("root");
  }

  // Shared pieces, defined once on first use.
  Element ws() {
    return shared("ws", [&] {
      if (spacing_ == JsonSpacing::compact) {
        return std::vector<Sequence>{{}, GrammarBuilder::literal(" ")};
      }
      const Element blank = b_.char_class({{' ', ' '}, {'\t', '\t'}}, false, "ws");
      Sequence newline = GrammarBuilder::literal("\n");
      const Sequence indent = b_.repeat(blank, 0, 20, "ws");
      newline.insert(newline.end(), indent.begin(), indent.end());
      return std::vector<Sequence>{{}, GrammarBuilder::literal(" "), newline};
    });
  }
  Element any_string() { return string_rule(0, -1); }
  Element any_value() {
    return shared("value", [&] {
      std::vector<Sequence> alts;
      for (const char* type : {"object", "array", "string", "number", "boolean", "null"}) {
        alts.push_back({any_of_type(type)});
      }
      return alts;
    });
  }

 private:
  template <typename Make>
  Element shared(const std::string& name, Make make) {
    const int32_t r = b_.rule(name + "@");  // '@': no schema-made name has it
    if (!b_.defined(r) && !defining_.count(r)) {
      defining_.insert(r);
      auto alternatives = make();
      b_.define(r, std::move(alternatives));
    }
    return Element::ref(r);
  }

  [[noreturn]] static void fail(const std::string& where, const std::string& what) {
    throw SchemaError{"json_schema at " + where + ": " + what};
  }

  Element any_of_type(const std::string& type) {
    if (type == "object") {
      return shared("any-object", [&] {
        // "{" ws ( member ( "," ws member )* )? "}"
        const Element member = shared("any-member", [&] {
          return std::vector<Sequence>{
              {any_string(), ws(), Element::byte(':'), ws(), any_value(), ws()}};
        });
        const Element more = b_.as_element({Element::byte(','), ws(), member}, "any-object");
        Sequence with_members{member};
        const Sequence rest = b_.repeat(more, 0, -1, "any-object");
        with_members.insert(with_members.end(), rest.begin(), rest.end());
        const Element members = b_.as_element(std::move(with_members), "any-object");
        return std::vector<Sequence>{{Element::byte('{'), ws(), members, Element::byte('}')},
                                     {Element::byte('{'), ws(), Element::byte('}')}};
      });
    }
    if (type == "array") {
      return shared("any-array", [&] {
        const Element item = b_.as_element({any_value(), ws()}, "any-array");
        const Element more = b_.as_element({Element::byte(','), ws(), item}, "any-array");
        Sequence with_items{Element::byte('['), ws(), item};
        const Sequence rest = b_.repeat(more, 0, -1, "any-array");
        with_items.insert(with_items.end(), rest.begin(), rest.end());
        with_items.push_back(Element::byte(']'));
        return std::vector<Sequence>{with_items, {Element::byte('['), ws(), Element::byte(']')}};
      });
    }
    if (type == "string") return any_string();
    if (type == "number") return number(false, -1);
    if (type == "integer") return number(true, -1);
    if (type == "boolean") {
      return shared("boolean", [] {
        return std::vector<Sequence>{GrammarBuilder::literal("true"),
                                     GrammarBuilder::literal("false")};
      });
    }
    if (type == "null") return b_.as_element(GrammarBuilder::literal("null"), "null");
    fail("type", "unknown type '" + type + "'");
  }

  // A JSON string's characters: anything but '"', '\\' and controls, or an escape.
  Element string_char() {
    return shared("char", [&] {
      const Element plain =
          b_.char_class({{'"', '"'}, {'\\', '\\'}, {0, 0x1F}, {0x7F, 0x7F}}, true, "char");
      const Element escaped = b_.char_class({{'"', '"'},
                                             {'\\', '\\'},
                                             {'/', '/'},
                                             {'b', 'b'},
                                             {'f', 'f'},
                                             {'n', 'n'},
                                             {'r', 'r'},
                                             {'t', 't'}},
                                            false, "char");
      Sequence unicode = GrammarBuilder::literal("\\u");
      const Sequence digits = b_.repeat(hex(), 4, 4, "char");
      unicode.insert(unicode.end(), digits.begin(), digits.end());
      return std::vector<Sequence>{{plain}, {Element::byte('\\'), escaped}, unicode};
    });
  }
  Element hex() { return b_.char_class({{'0', '9'}, {'a', 'f'}, {'A', 'F'}}, false, "hex"); }
  Element digit() { return Element::byte_range('0', '9'); }

  // A string whose characters match `regex` as JSON Schema does (a search: unanchored sides
  // match anything), written in the JSON text with the escapes its characters need.
  Element pattern(const std::string& where, const std::string& regex) {
    return shared("pattern " + regex, [&] {
      std::string whole = regex;
      const bool starts = !whole.empty() && whole.front() == '^';
      if (starts) whole.erase(0, 1);
      size_t backslashes = 0;  // an escaped '$' at the end is a dollar sign
      for (size_t i = whole.size(); i >= 2 && whole[i - 2] == '\\'; --i) ++backslashes;
      const bool ends = !whole.empty() && whole.back() == '$' && backslashes % 2 == 0;
      if (ends) whole.pop_back();
      const std::string anything = "(?:.|\\n)*";  // any characters, newlines too
      whole = (starts ? "" : anything) + "(?:" + whole + ")" + (ends ? "" : anything);
      auto g = grammar::parse_regex(whole);
      if (!g) fail(where + "/pattern", g.message());
      const int32_t body = b_.import(json_escaped(*g), "pattern");
      return std::vector<Sequence>{{Element::byte('"'), Element::ref(body), Element::byte('"')}};
    });
  }

  Element string_rule(int min, int max) {
    const std::string name = "string{" + std::to_string(min) + "," + std::to_string(max) + "}";
    return shared(name, [&] {
      Sequence s{Element::byte('"')};
      const Sequence chars = b_.repeat(string_char(), min, max, name);
      s.insert(s.end(), chars.begin(), chars.end());
      s.push_back(Element::byte('"'));
      return std::vector<Sequence>{s};
    });
  }

  // Integers: -? (0 | [1-9][0-9]{0,15}); `min` 0 drops the sign, 1 the zero too. Numbers add an
  // optional fraction and exponent (bounded, so a model cannot loop on digits forever).
  Element number(bool integer, int min) {
    const std::string name = std::string(integer ? "integer" : "number") + std::to_string(min);
    return shared(name, [&] {
      const Element nonzero = Element::byte_range('1', '9');
      Sequence many{nonzero};
      const Sequence tail = b_.repeat(digit(), 0, 15, name);
      many.insert(many.end(), tail.begin(), tail.end());
      std::vector<Sequence> magnitude = {many};
      if (min <= 0) magnitude.push_back(GrammarBuilder::literal("0"));
      const int32_t mag = b_.fresh_rule(name);
      b_.define(mag, std::move(magnitude));
      Sequence s;
      if (min < 0) s = b_.repeat(Element::byte('-'), 0, 1, name);
      s.push_back(Element::ref(mag));
      if (!integer) {
        Sequence fraction{Element::byte('.')};
        const Sequence fd = b_.repeat(digit(), 1, 16, name);
        fraction.insert(fraction.end(), fd.begin(), fd.end());
        const Sequence opt_fraction =
            b_.repeat(b_.as_element(std::move(fraction), name), 0, 1, name);
        s.insert(s.end(), opt_fraction.begin(), opt_fraction.end());
        Sequence exponent{b_.char_class({{'e', 'e'}, {'E', 'E'}}, false, name)};
        const Sequence sign =
            b_.repeat(b_.char_class({{'-', '-'}, {'+', '+'}}, false, name), 0, 1, name);
        exponent.insert(exponent.end(), sign.begin(), sign.end());
        const Sequence ed = b_.repeat(digit(), 1, 3, name);
        exponent.insert(exponent.end(), ed.begin(), ed.end());
        const Sequence opt_exponent =
            b_.repeat(b_.as_element(std::move(exponent), name), 0, 1, name);
        s.insert(s.end(), opt_exponent.begin(), opt_exponent.end());
      }
      return std::vector<Sequence>{s};
    });
  }

  Element format(const std::string& where, const std::string& f) {
    auto digits = [&](int n) { return b_.repeat(digit(), n, n, f); };
    auto cat = [](std::initializer_list<Sequence> parts) {
      Sequence out;
      for (const Sequence& p : parts) out.insert(out.end(), p.begin(), p.end());
      return out;
    };
    auto lit = [](const char* s) { return GrammarBuilder::literal(s); };
    const Element date = shared("date", [&] {
      const int32_t month = b_.fresh_rule("date");
      b_.define(month, {{Element::byte('0'), Element::byte_range('1', '9')},
                        {Element::byte('1'), Element::byte_range('0', '2')}});
      const int32_t day = b_.fresh_rule("date");
      b_.define(day, {{Element::byte('0'), Element::byte_range('1', '9')},
                      {Element::byte_range('1', '2'), digit()},
                      {Element::byte('3'), Element::byte_range('0', '1')}});
      return std::vector<Sequence>{
          cat({digits(4), lit("-"), {Element::ref(month)}, lit("-"), {Element::ref(day)}})};
    });
    const Element time = shared("time", [&] {
      const int32_t hour = b_.fresh_rule("time");
      b_.define(hour, {{Element::byte_range('0', '1'), digit()},
                       {Element::byte('2'), Element::byte_range('0', '3')}});
      const Sequence minute{Element::byte_range('0', '5'), digit()};
      const int32_t zone = b_.fresh_rule("time");
      b_.define(zone, {lit("Z"), cat({{b_.char_class({{'+', '+'}, {'-', '-'}}, false, "time")},
                                      {Element::ref(hour)},
                                      lit(":"),
                                      minute})});
      Sequence fraction{Element::byte('.')};
      const Sequence fd = b_.repeat(digit(), 1, 6, "time");
      fraction.insert(fraction.end(), fd.begin(), fd.end());
      return std::vector<Sequence>{cat({{Element::ref(hour)},
                                        lit(":"),
                                        minute,
                                        lit(":"),
                                        minute,
                                        b_.repeat(b_.as_element(fraction, "time"), 0, 1, "time"),
                                        {Element::ref(zone)}})};
    });
    Sequence body;
    if (f == "date") {
      body = {date};
    } else if (f == "time") {
      body = {time};
    } else if (f == "date-time") {
      body = cat({{date}, lit("T"), {time}});
    } else if (f == "uuid") {
      const Element h = hex();
      body = cat({b_.repeat(h, 8, 8, f), lit("-"), b_.repeat(h, 4, 4, f), lit("-"),
                  b_.repeat(h, 4, 4, f), lit("-"), b_.repeat(h, 4, 4, f), lit("-"),
                  b_.repeat(h, 12, 12, f)});
    } else if (f == "email") {
      const Element local = b_.char_class({{'a', 'z'},
                                           {'A', 'Z'},
                                           {'0', '9'},
                                           {'.', '.'},
                                           {'_', '_'},
                                           {'%', '%'},
                                           {'+', '+'},
                                           {'-', '-'}},
                                          false, f);
      const Element label =
          b_.char_class({{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'-', '-'}}, false, f);
      const Element dot_label = b_.as_element(cat({lit("."), b_.repeat(label, 1, 63, f)}), f);
      body = cat({b_.repeat(local, 1, 64, f), lit("@"), b_.repeat(label, 1, 63, f),
                  b_.repeat(dot_label, 1, 4, f)});
    } else {
      fail(where,
           "string format '" + f + "' is not supported (date, time, date-time, uuid, email are)");
    }
    Sequence quoted{Element::byte('"')};
    quoted.insert(quoted.end(), body.begin(), body.end());
    quoted.push_back(Element::byte('"'));
    return b_.as_element(std::move(quoted), f);
  }

  int count(const json& schema, const char* key, const std::string& where) {
    const json& v = schema[key];
    if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > kMaxRepetition) {
      fail(where + "/" + key, "must be an integer from 0 to " + std::to_string(kMaxRepetition));
    }
    return v.get<int>();
  }

  Element literal_value(const json& value) {
    return b_.as_element(GrammarBuilder::literal(value.dump()), "const");
  }

  Element reference(const std::string& ref, const std::string& where, int depth) {
    if (auto it = refs_.find(ref); it != refs_.end()) return Element::ref(it->second);
    if (ref.rfind("#", 0) != 0)
      fail(where + "/$ref", "only references within the schema (#/...) are supported");
    json::json_pointer pointer;
    try {
      pointer = json::json_pointer(ref.substr(1));
    } catch (const json::exception&) {
      fail(where + "/$ref", "'" + ref + "' is not a JSON pointer");
    }
    bool found = false;
    try {  // an array index past size_t's range throws rather than answering false
      found = root_.contains(pointer);
    } catch (const json::exception&) {
    }
    if (!found) fail(where + "/$ref", "'" + ref + "' points at nothing");
    const int32_t r = b_.fresh_rule("ref");
    refs_.emplace(ref, r);  // before compiling the target: it may refer back to itself
    const Element target = schema_element(root_.at(pointer), ref, depth + 1);
    b_.define(r, {{target}});
    return Element::ref(r);
  }

  Element schema_element(const json& schema, const std::string& where, int depth) {
    if (depth > kMaxDepth) fail(where, "the schema is nested too deep");
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(where, "the schema false accepts nothing");
      return any_value();
    }
    if (!schema.is_object()) fail(where, "a schema must be an object or a boolean");
    std::vector<Sequence> alternatives;
    for (const auto& [key, value] : schema.items()) {
      static const std::set<std::string> kKnown = {"type",      "properties",
                                                   "required",  "additionalProperties",
                                                   "items",     "prefixItems",
                                                   "minItems",  "maxItems",
                                                   "enum",      "const",
                                                   "anyOf",     "oneOf",
                                                   "allOf",     "$ref",
                                                   "$defs",     "definitions",
                                                   "minLength", "maxLength",
                                                   "format",    "pattern",
                                                   "minimum",   "exclusiveMinimum"};
      if (!kKnown.count(key) && !kAnnotations.count(key)) {
        fail(where, "the keyword '" + key + "' is not supported");
      }
    }
    if (schema.contains("$ref")) {
      if (!schema["$ref"].is_string()) fail(where + "/$ref", "must be a string");
      return reference(schema["$ref"].get<std::string>(), where, depth);
    }
    if (schema.contains("const")) return literal_value(schema["const"]);
    if (schema.contains("enum")) {
      const json& values = schema["enum"];
      if (!values.is_array() || values.empty()) fail(where + "/enum", "must be a non-empty array");
      std::vector<Sequence> alts;
      for (const json& v : values) alts.push_back(GrammarBuilder::literal(v.dump()));
      const int32_t r = b_.fresh_rule("enum");
      b_.define(r, std::move(alts));
      return Element::ref(r);
    }
    for (const char* key : {"anyOf", "oneOf", "allOf"}) {
      if (!schema.contains(key)) continue;
      const json& list = schema[key];
      if (!list.is_array() || list.empty()) fail(where + "/" + key, "must be a non-empty array");
      if (std::string(key) == "allOf" && list.size() != 1) {
        fail(where + "/allOf", "allOf of more than one schema is not supported");
      }
      std::vector<Sequence> alts;
      for (size_t i = 0; i < list.size(); ++i) {
        alts.push_back(
            {schema_element(list[i], where + "/" + key + "/" + std::to_string(i), depth + 1)});
      }
      const int32_t r = b_.fresh_rule(key);
      b_.define(r, std::move(alts));
      return Element::ref(r);
    }
    std::vector<std::string> types;
    if (schema.contains("type")) {
      const json& t = schema["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const json& one : t) {
          if (!one.is_string()) fail(where + "/type", "must be a string or a list of strings");
          types.push_back(one.get<std::string>());
        }
      } else {
        fail(where + "/type", "must be a string or a list of strings");
      }
    } else if (schema.contains("properties")) {
      types.push_back("object");
    } else if (schema.contains("items") || schema.contains("prefixItems")) {
      types.push_back("array");
    } else {
      return any_value();
    }
    for (const std::string& type : types) {
      alternatives.push_back({typed(schema, type, where, depth)});
    }
    if (alternatives.size() == 1) return alternatives[0][0];
    const int32_t r = b_.fresh_rule("type");
    b_.define(r, std::move(alternatives));
    return Element::ref(r);
  }

  Element typed(const json& schema, const std::string& type, const std::string& where, int depth) {
    if (type == "object") return object(schema, where, depth);
    if (type == "array") return array(schema, where, depth);
    if (type == "string") {
      if (schema.contains("format")) {
        if (!schema["format"].is_string()) fail(where + "/format", "must be a string");
        return format(where, schema["format"].get<std::string>());
      }
      if (schema.contains("pattern")) {
        if (!schema["pattern"].is_string()) fail(where + "/pattern", "must be a string");
        if (schema.contains("minLength") || schema.contains("maxLength")) {
          fail(where, "a pattern together with minLength or maxLength is not supported");
        }
        return pattern(where, schema["pattern"].get<std::string>());
      }
      const int min = schema.contains("minLength") ? count(schema, "minLength", where) : 0;
      const int max = schema.contains("maxLength") ? count(schema, "maxLength", where) : -1;
      if (max >= 0 && max < min) fail(where, "maxLength is below minLength");
      return string_rule(min, max);
    }
    if (type == "integer" || type == "number") {
      int min = -1;
      if (schema.contains("minimum")) {
        const json& m = schema["minimum"];
        if (!m.is_number() || (m.get<double>() != 0 && m.get<double>() != 1) ||
            (type == "number" && m.get<double>() != 0)) {
          fail(where + "/minimum", "only a minimum of 0 (or 1 for integers) is supported");
        }
        min = static_cast<int>(m.get<double>());
      }
      if (schema.contains("exclusiveMinimum")) {
        const json& m = schema["exclusiveMinimum"];
        if (type != "integer" || !m.is_number() || m.get<double>() != 0) {
          fail(where + "/exclusiveMinimum",
               "only an exclusive minimum of 0 for integers is supported");
        }
        min = 1;
      }
      return number(type == "integer", min);
    }
    return any_of_type(type);  // boolean, null; unknown types fail there
  }

  Element object(const json& schema, const std::string& where, int depth) {
    const json empty = json::object();
    const json& properties = schema.contains("properties") ? schema["properties"] : empty;
    if (!properties.is_object()) fail(where + "/properties", "must be an object");
    std::set<std::string> required;
    if (schema.contains("required")) {
      if (!schema["required"].is_array()) fail(where + "/required", "must be an array");
      for (const json& r : schema["required"]) {
        if (!r.is_string()) fail(where + "/required", "must be an array of strings");
        if (!properties.contains(r.get<std::string>())) {
          fail(where + "/required", "'" + r.get<std::string>() + "' is not among the properties");
        }
        required.insert(r.get<std::string>());
      }
    }
    // Each declared property: "key" ws ":" ws value ws.
    struct Member {
      Element element;
      bool required;
    };
    std::vector<Member> members;
    for (const auto& [key, value] : properties.items()) {
      const Element v = schema_element(value, where + "/properties/" + key, depth + 1);
      Sequence kv = GrammarBuilder::literal(json(key).dump());
      kv.insert(kv.end(), {ws(), Element::byte(':'), ws(), v, ws()});
      members.push_back({b_.as_element(std::move(kv), "member"), required.count(key) > 0});
    }
    // Extra properties: additionalProperties true or a schema (absent or false: none).
    std::optional<Element> extra;
    if (schema.contains("additionalProperties")) {
      const json& ap = schema["additionalProperties"];
      if (!(ap.is_boolean() && !ap.get<bool>())) {
        const Element v = ap.is_boolean()
                              ? any_value()
                              : schema_element(ap, where + "/additionalProperties", depth + 1);
        extra = b_.as_element({any_string(), ws(), Element::byte(':'), ws(), v, ws()}, "extra");
      }
    }
    // rest(i, after): members i.. in order, optional ones skippable, then any extras; `after`
    // when a member came before (the next one needs its comma). Only the pairs reachable from
    // (0, false), built from the last member back: a schema of many properties takes no
    // recursion (40,000 of them overflowed the stack).
    const size_t n = members.size();
    std::vector<std::array<bool, 2>> needed(n + 1, {false, false});
    needed[0][0] = true;
    for (size_t i = 0; i < n; ++i) {
      for (int after = 0; after < 2; ++after) {
        if (!needed[i][after]) continue;
        needed[i + 1][1] = true;
        if (!members[i].required) needed[i + 1][after] = true;
      }
    }
    const Element comma = b_.as_element({Element::byte(','), ws()}, "comma");
    std::vector<std::array<int32_t, 2>> rest(n + 1, {-1, -1});
    for (size_t i = n + 1; i-- > 0;) {
      for (int after = 0; after < 2; ++after) {
        if (!needed[i][after]) continue;
        std::vector<Sequence> alts;
        if (i == n) {
          alts.push_back({});
          if (extra) {
            const Element more = b_.as_element({comma, *extra}, "extra");
            Sequence first;
            if (after) first.push_back(comma);
            first.push_back(*extra);
            const Sequence tail = b_.repeat(more, 0, -1, "extra");
            first.insert(first.end(), tail.begin(), tail.end());
            alts.push_back(first);
          }
        } else {
          Sequence take;
          if (after) take.push_back(comma);
          take.push_back(members[i].element);
          take.push_back(Element::ref(rest[i + 1][1]));
          alts.push_back(take);
          if (!members[i].required) alts.push_back({Element::ref(rest[i + 1][after])});
        }
        rest[i][after] = b_.fresh_rule("members");
        b_.define(rest[i][after], std::move(alts));
      }
    }
    return b_.as_element({Element::byte('{'), ws(), Element::ref(rest[0][0]), Element::byte('}')},
                         "object");
  }

  Element array(const json& schema, const std::string& where, int depth) {
    const int min = schema.contains("minItems") ? count(schema, "minItems", where) : 0;
    const int max = schema.contains("maxItems") ? count(schema, "maxItems", where) : -1;
    if (max >= 0 && max < min) fail(where, "maxItems is below minItems");
    std::vector<Element> prefix;
    if (schema.contains("prefixItems")) {
      const json& p = schema["prefixItems"];
      if (!p.is_array()) fail(where + "/prefixItems", "must be an array");
      // Each count of items from minItems up is an alternative as long as itself: n^2 elements.
      if (p.size() > static_cast<size_t>(kMaxRepetition)) {
        fail(where + "/prefixItems", "at most " + std::to_string(kMaxRepetition) + " schemas");
      }
      for (size_t i = 0; i < p.size(); ++i) {
        prefix.push_back(b_.as_element(
            {schema_element(p[i], where + "/prefixItems/" + std::to_string(i), depth + 1), ws()},
            "item"));
      }
    }
    // items false: nothing past the prefix.
    const bool no_more =
        schema.contains("items") && schema["items"].is_boolean() && !schema["items"].get<bool>();
    const Element item = schema.contains("items") && !no_more
                             ? schema_element(schema["items"], where + "/items", depth + 1)
                             : any_value();
    const Element spaced = b_.as_element({item, ws()}, "item");
    const Element comma = b_.as_element({Element::byte(','), ws()}, "comma");
    // The items in order: the prefix's, then `spaced` ones; between min and max in all.
    std::vector<Sequence> alts;
    const int n_prefix = static_cast<int>(prefix.size());
    const int upper = no_more ? (max < 0 ? n_prefix : std::min(max, n_prefix)) : max;
    // Sequences with k items for k from min: up to n_prefix exactly, beyond that the tail repeats.
    for (int k = min; k <= std::min(n_prefix, upper < 0 ? n_prefix : upper); ++k) {
      Sequence s{Element::byte('['), ws()};
      for (int i = 0; i < k; ++i) {
        if (i > 0) s.push_back(comma);
        s.push_back(prefix[static_cast<size_t>(i)]);
      }
      s.push_back(Element::byte(']'));
      alts.push_back(s);
    }
    if (!no_more && (upper < 0 || upper > n_prefix)) {
      // All the prefix and at least one more: prefix, then items to reach [max(min, n+1), upper].
      const int at_least = std::max(min, n_prefix + 1) - n_prefix;
      const int at_most = upper < 0 ? -1 : upper - n_prefix;
      Sequence s{Element::byte('['), ws()};
      for (int i = 0; i < n_prefix; ++i) {
        if (i > 0) s.push_back(comma);
        s.push_back(prefix[static_cast<size_t>(i)]);
      }
      if (n_prefix > 0) s.push_back(comma);
      s.push_back(spaced);
      const Element more = b_.as_element({comma, spaced}, "items");
      const Sequence tail = b_.repeat(more, at_least - 1, at_most < 0 ? -1 : at_most - 1, "items");
      s.insert(s.end(), tail.begin(), tail.end());
      s.push_back(Element::byte(']'));
      alts.push_back(s);
    }
    if (alts.empty()) fail(where, "no array length satisfies minItems, maxItems and the items");
    const int32_t r = b_.fresh_rule("array");
    b_.define(r, std::move(alts));
    return Element::ref(r);
  }

  const json& root_;
  const JsonSpacing spacing_;
  GrammarBuilder b_;
  std::set<int32_t> defining_;
  std::map<std::string, int32_t> refs_;
};

}  // namespace

Result<grammar::Grammar> json_schema_grammar(const nlohmann::ordered_json& schema,
                                             JsonSpacing spacing) {
  return SchemaCompiler(schema, spacing).run();
}

grammar::Grammar json_object_grammar() {
  auto g = json_schema_grammar(json{{"type", "object"}, {"additionalProperties", true}});
  return std::move(*g);
}

}  // namespace troupe::api
