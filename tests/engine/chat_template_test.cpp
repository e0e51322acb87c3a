// Chat templates: byte-exact agreement with jinja2 on published model templates
// (tests/fixtures/chat/expected.json, made by bench/reference/make_chat_fixtures.py), plus unit
// tests of the Jinja subset: whitespace control, loops, filters, errors and resource limits.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "engine/chat/chat_template.hpp"
#include "tests/support/text_file.hpp"

using troupe::chat::ChatMessage;
using troupe::chat::ChatTemplate;
using troupe::chat::ChatTemplateOptions;
using troupe::chat::ObjectEntries;
using troupe::chat::RenderLimits;
using troupe::chat::Value;
using Json = nlohmann::ordered_json;  // keeps key order: Python dicts iterate in insertion order

namespace {

Value to_value(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return Value::none();
    case Json::value_t::boolean:
      return Value(j.get<bool>());
    case Json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case Json::value_t::number_unsigned:
      return Value(static_cast<int64_t>(j.get<uint64_t>()));
    case Json::value_t::number_float:
      return Value(j.get<double>());
    case Json::value_t::string:
      return Value(j.get<std::string>());
    case Json::value_t::array: {
      std::vector<Value> items;
      for (const Json& item : j) items.push_back(to_value(item));
      return Value::array(std::move(items));
    }
    case Json::value_t::object: {
      ObjectEntries entries;
      for (const auto& [key, item] : j.items()) entries.emplace_back(key, to_value(item));
      return Value::object(std::move(entries));
    }
    default:
      return Value();
  }
}

// Renders `source` with `context` given as JSON; returns the text or "ERROR: message".
std::string render(const std::string& source, const Json& context = Json::object()) {
  auto tpl = ChatTemplate::parse(source);
  if (!tpl.ok()) return "ERROR: " + tpl.message();
  auto out = tpl->render(to_value(context));
  return out.ok() ? out.value() : "ERROR: " + out.message();
}

std::string error_of(const std::string& source, const Json& context = Json::object()) {
  const std::string out = render(source, context);
  return out.rfind("ERROR: ", 0) == 0 ? out.substr(7) : "(no error; rendered '" + out + "')";
}

bool plain_messages(const Json& messages) {
  for (const Json& m : messages) {
    if (m.size() != 2 || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
        !m["content"].is_string())
      return false;
  }
  return true;
}

}  // namespace

TEST_CASE("chat templates render exactly what jinja2 renders", "[chat]") {
  const std::string dir = std::string(TROUPE_FIXTURES_DIR) + "/chat/";
  const Json fixtures = Json::parse(troupe::test::read_text_file(dir + "expected.json"));
  std::map<std::string, ChatTemplate> templates;
  for (const auto& [name, path] : fixtures["templates"].items()) {
    auto tpl = ChatTemplate::parse(troupe::test::read_text_file(dir + path.get<std::string>()));
    INFO("template " << name << ": " << (tpl.ok() ? "" : tpl.message()));
    REQUIRE(tpl.ok());
    templates.emplace(name, std::move(tpl.value()));
  }
  REQUIRE(templates.size() >= 9);

  size_t checked = 0, errors = 0;
  for (const Json& c : fixtures["cases"]) {
    const std::string name = c["name"].get<std::string>();
    INFO("case " << name);
    const ChatTemplate& tpl = templates.at(c["template"].get<std::string>());
    Json context = Json::object();
    context["messages"] = c["messages"];
    context["tools"] = nullptr;
    context["documents"] = nullptr;
    context["add_generation_prompt"] = c["add_generation_prompt"];
    context["bos_token"] = c["bos_token"];
    context["eos_token"] = c["eos_token"];
    if (c.contains("extra"))
      for (const auto& [key, value] : c["extra"].items()) context[key] = value;
    auto out = tpl.render(to_value(context));

    if (c.contains("expected")) {
      INFO("error: " << (out.ok() ? "" : out.message()));
      REQUIRE(out.ok());
      CHECK(out.value() == c["expected"].get<std::string>());
    } else {
      const std::string expected = c["expected_error"].get<std::string>();
      INFO("expected error: " << expected);
      REQUIRE_FALSE(out.ok());
      CHECK_THAT(out.message(), Catch::Contains(expected));
      CHECK_THAT(out.message(), Catch::StartsWith("chat template error at line "));
      ++errors;
    }

    // The facade builds the same context from plain messages.
    if (!c.contains("extra") && plain_messages(c["messages"])) {
      std::vector<ChatMessage> messages;
      for (const Json& m : c["messages"])
        messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
      ChatTemplateOptions options;
      options.add_generation_prompt = c["add_generation_prompt"].get<bool>();
      options.bos_token = c["bos_token"].get<std::string>();
      options.eos_token = c["eos_token"].get<std::string>();
      auto applied = tpl.apply(messages, options);
      REQUIRE(applied.ok() == out.ok());
      if (applied.ok()) CHECK(applied.value() == out.value());
    }
    ++checked;
  }
  CHECK(checked == fixtures["cases"].size());
  CHECK(errors > 0);
}

TEST_CASE("SmolLM2's template renders ChatML", "[chat]") {
  const std::string source = troupe::test::read_text_file(std::string(TROUPE_FIXTURES_DIR) +
                                                          "/chat/templates/smollm2.jinja");
  auto tpl = ChatTemplate::parse(source);
  REQUIRE(tpl.ok());
  ChatTemplateOptions options;
  auto out = tpl->apply({{"user", "Hi"}}, options);
  REQUIRE(out.ok());
  CHECK(out.value() ==
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  options.add_generation_prompt = false;
  out = tpl->apply({{"system", "S"}, {"user", "Hi"}}, options);
  REQUIRE(out.ok());
  CHECK(out.value() == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST_CASE("whitespace control: trim_blocks, lstrip_blocks and modifiers", "[chat]") {
  // trim_blocks drops the newline after a block tag; variables keep theirs.
  CHECK(render("{% if true %}\nx\n{% endif %}\ny") == "x\ny");
  CHECK(render("{{ 'a' }}\n{{ 'b' }}") == "a\nb");
  // lstrip_blocks removes indentation before block tags and comments, not before {{.
  CHECK(render("  {% if true %}\n  x\n  {% endif %}\n  {{ 'y' }}") == "  x\n  y");
  CHECK(render("x\n  {# c #}\ny") == "x\ny");
  // '-' strips all whitespace on its side, newlines included.
  CHECK(render("a   {{- 'b' -}}   c") == "abc");
  CHECK(render("a\n  {%- if true -%}\n  b\n{%- endif %}") == "ab");
  CHECK(render("{{ 'a' }}  {#- c -#}  b") == "ab");
  // '+' disables lstrip (before) and trim (after).
  CHECK(render("  {%+ if true %}x{% endif +%}\ny") == "  x\ny");
  // One trailing newline of the template is dropped; \r\n becomes \n.
  CHECK(render("a\r\nb\rc\n") == "a\nb\nc");
  CHECK(render("a\n\n") == "a\n");
  // trim_blocks removes only a newline directly after the tag.
  CHECK(render("{% if true %}  \n  a{% endif %}") == "  \n  a");
  CHECK(render("{% raw %}{{ x }}{% endraw %}") == "{{ x }}");
  CHECK(render("{% raw -%}  x  {%- endraw %}|") == "x|");
}

TEST_CASE("for loops: loop variables, else, filters, unpacking, break", "[chat]") {
  CHECK(
      render("{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
             "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}") ==
      "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
  CHECK(render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty");
  CHECK(render("{% for x in [1,2,3,4] if x % 2 == 0 %}{{ loop.index }}/{{ loop.length }}:{{ x }} "
               "{% endfor %}") == "1/2:2 2/2:4 ");
  CHECK(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}") ==
        "a=1;b=2;");
  CHECK(render("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}"
               "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}") == "13");
  CHECK(render("{% for x in 'héllo' %}[{{ x }}]{% endfor %}") == "[h][é][l][l][o]");
  CHECK(render("{% for a in [1,2] %}{{ loop.cycle('x', 'y') }}{{ loop.previtem is defined }}"
               "{% endfor %}") == "xFalseyTrue");
  // Sets inside a loop body stay in that iteration.
  CHECK(
      render(
          "{% set x = 1 %}{% for i in [1,2] %}{{ x }}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}") ==
      "12121");
  CHECK(error_of("{% for a, b in [[1,2],[3]] %}{% endfor %}") ==
        "chat template error at line 1, column 4: not enough values to unpack (expected 2, got 1)");
}

TEST_CASE("set, namespace, macros and scoping", "[chat]") {
  CHECK(render("{% set ns = namespace(total=0) %}{% for x in [1,2,3] %}"
               "{% set ns.total = ns.total + x %}{% endfor %}{{ ns.total }}") == "6");
  CHECK(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}") == "12");
  CHECK(render("{% set x %}hello {{ 1 }}{% endset %}{{ x }}|{% set y | upper %}abc{% endset %}"
               "{{ y }}") == "hello 1|ABC");
  CHECK(render("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, b=3) }}") ==
        "1-2 1-3");
  CHECK(render("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}"
               "{% endmacro %}{{ fact(5) }}") == "120");
  CHECK(render("{% with a = 1 %}{{ a }}{% endwith %}[{{ a }}]") == "1[]");
  CHECK(render("{% filter upper %}ab{{ 'c' }}{% endfilter %}") == "ABC");
  CHECK(render("{% generation %}x{% endgeneration %}") == "x");
  CHECK(
      error_of("{% set d = {} %}{% set d.a = 1 %}") ==
      "chat template error at line 1, column 20: cannot assign attribute on non-namespace object");
}

TEST_CASE("expressions follow Python semantics", "[chat]") {
  CHECK(render("{{ 7 // -2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ -2 ** 2 }}") ==
        "-4 2 3.5 1024 4");
  CHECK(render("{{ (1 + 2) ~ 'x' }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ (1,) }}") ==
        "3x abab [1, 2] (1,)");
  CHECK(render("{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.0 }} {{ 1e-5 }} {{ 2.5|round }}") ==
        "0.30000000000000004 1e+16 1.0 1e-05 2.0");
  CHECK(render("{{ true }} {{ none }} {{ True and 0 }} {{ '' or 'd' }} {{ not [] }}") ==
        "True None 0 d True");
  CHECK(render("{{ 1 < 2 < 3 }} {{ 'b' in 'abc' }} {{ 2 not in [1] }} {{ 'k' in {'k': 1} }}") ==
        "True True True True");
  CHECK(render("{{ 'yes' if 0 else 'no' }}|{{ 'a' if false }}|") == "no||");
  CHECK(render("{{ 'hello'[1:3] }} {{ [1,2,3][::-1] }} {{ 'abc'[-1] }} {{ 'héllo'[1] }}") ==
        "el [3, 2, 1] c é");
  CHECK(render("{{ {'a': [1, 'x', none, true, 1.5]} }}") == "{'a': [1, 'x', None, True, 1.5]}");
  CHECK(render("{{ \"it's\" }} {{ ['it\\'s', 'q\"', 'a\\nb'] }}") ==
        "it's [\"it's\", 'q\"', 'a\\nb']");
  CHECK(render("{{ '\\u00e9\\x41\\101\\t' }}") == "éAA\t");
  CHECK(render("{{ x.a }}|{{ x['b'] }}|{{ x.c }}|{{ x.get('c', 'dflt') }}",
               {{"x", {{"a", 1}, {"b", 2}}}}) == "1|2||dflt");
  CHECK(render("{{ u }}|{{ u is defined }}|{{ u|length }}|{{ u ~ 'x' }}") == "|False|0|x");
}

TEST_CASE("tests and string methods", "[chat]") {
  CHECK(render("{{ 3 is odd }} {{ 2 is even }} {{ 9 is divisibleby 3 }} {{ none is none }} "
               "{{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 1 is number }} "
               "{{ true is integer }} {{ x is not defined }} {{ 1 is equalto 1.0 }}") ==
        "True True True True True True True True False True True");
  CHECK(render("{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ ' a'.lstrip() }}|"
               "{{ 'a '.rstrip() }}") == "x|a|a|a");
  CHECK(render("{{ 'a b  c'.split() }} {{ 'a,b'.split(',') }} {{ 'a-b-c'.rsplit('-', 1) }}") ==
        "['a', 'b', 'c'] ['a', 'b'] ['a-b', 'c']");
  CHECK(render("{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} "
               "{{ 'a-b'.replace('-', '+') }} {{ 'aBc'.upper() }} {{ 'ABC'.lower() }} "
               "{{ \"they're\".title() }}") == "True True a+b ABC abc They'Re");
  CHECK(render("{{ {'a': 1}.keys()|list }} {{ {'a': 1}.values()|list }} "
               "{{ {'a': 1}.items()|list }}") == "['a'] [1] [('a', 1)]");
}

TEST_CASE("filters", "[chat]") {
  CHECK(render("{{ '  x  '|trim }}|{{ 'abc'|length }}|{{ [1,2]|count }}|{{ 'ab'|upper }}|"
               "{{ 'AB'|lower }}|{{ 'hello world-foo(bar'|title }}|{{ 'aBC'|capitalize }}") ==
        "x|3|2|AB|ab|Hello World-Foo(Bar|Abc");
  CHECK(render("{{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }} "
               "{{ [1,2,3]|join(', ') }} {{ [3,1,2]|first }} {{ [3,1,2]|last }}") ==
        "a+b+c bba 1, 2, 3 3 2");
  CHECK(render("{{ x|default('d') }} {{ none|default('d') }} {{ ''|d('e', true) }}") == "d None e");
  CHECK(render("{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int(7) }} {{ 3|float }} {{ -3|abs }} "
               "{{ 2.675|round(2) }} {{ 5|string ~ 'x' }}") == "42 4 7 3.0 3 2.67 5x");
  CHECK(render("{{ {'b': 1, 'a': 2}|dictsort }} {{ ['b', 'A', 'a']|sort }} "
               "{{ ['b', 'A', 'a']|unique|list }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }}") ==
        "[('a', 2), ('b', 1)] ['A', 'a', 'b'] ['b', 'A'] [2, 1] cba");
  CHECK(render("{{ ms|selectattr('role', 'equalto', 'user')|map(attribute='c')|list }} "
               "{{ ms|rejectattr('role', 'equalto', 'user')|list|length }} "
               "{{ [1,2,3]|select('odd')|list }} {{ ['a','b']|map('upper')|join }}",
               {{"ms", Json::parse(R"([{"role":"user","c":1},{"role":"bot","c":2},
                                       {"role":"user","c":3}])")}}) == "[1, 3] 1 [1, 3] AB");
  CHECK(render("{{ {'a': 1}|items|list }} {{ [1,2,3]|sum }} {{ [3,1]|min }} {{ [3,1]|max }}") ==
        "[('a', 1)] 6 1 3");
  CHECK(render("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'x'|indent(2, true) }}|"
               "{{ 'a\n\nb'|indent(1, blank=true) }}") == "a\n  b\n\n  c|  x|a\n \n b");
  CHECK(render("{{ 'a<b>'|e }} {{ ('<a>'|safe) + '<b>' }} {{ 'x'|safe is escaped }}") ==
        "a&lt;b&gt; <a>&lt;b&gt; True");
  // transformers' tojson: no HTML escaping, ensure_ascii=False, Python separators.
  CHECK(
      render("{{ x|tojson }}", {{"x", Json::parse(R"({"k":"é\"<>\n","n":[1,2.5,null,true]})")}}) ==
      "{\"k\": \"é\\\"<>\\n\", \"n\": [1, 2.5, null, true]}");
  CHECK(render("{{ {'b': [1], 'a': {}}|tojson(indent=2, sort_keys=true) }}") ==
        "{\n  \"a\": {},\n  \"b\": [\n    1\n  ]\n}");
  CHECK(
      render("{{ 'é'|tojson(ensure_ascii=true) }} {{ {'a': 1}|tojson(separators=(',', ':')) }}") ==
      "\"\\u00e9\" {\"a\":1}");
}

TEST_CASE("filter results that are generators in jinja2 behave like generators", "[chat]") {
  // One pass: a second iteration sees nothing left, and `in` consumes up to the match.
  CHECK(render("{% set g = [1,2,3]|select('odd') %}{{ g|list }}{{ g|list }}") == "[1, 3][]");
  CHECK(render("{% set g = [1,2,3,4]|reject('odd') %}{{ 2 in g }}{{ g|list }}") == "True[4]");
  CHECK(render("{% set g = [1,2,3]|map('string') %}{{ g|first }}{{ g|list }}") == "1['2', '3']");
  // Always truthy, no len(), and errors surface only when iterated.
  CHECK(render("{% if []|select %}yes{% endif %}") == "yes");
  CHECK(error_of("{{ [1]|select|length }}") ==
        "chat template error at line 1, column 15: object of type 'generator' has no len()");
  CHECK(render("{{ (5|select('odd')) is iterable }}") == "True");
  CHECK(error_of("{{ 5|select('odd')|list }}") ==
        "chat template error at line 1, column 20: 'int' object is not iterable");
  // dict views print, compare and index like Python's.
  CHECK(render("{{ d.items() }} {{ d.keys() }} {{ d.values()|list }} {{ d.keys()[0] }}|",
               {{"d", {{"a", 1}}}}) == "dict_items([('a', 1)]) dict_keys(['a']) [1] |");
}

TEST_CASE("quirks of jinja2's compiler are reproduced", "[chat]") {
  // Constant expressions are folded at compile time, where a failed slice is Undefined...
  CHECK(render("{{ 1e15[::-1] }}|{{ (false[1:] or 2) }}") == "|2");
  // ...while the same slice evaluated at render time raises.
  CHECK(error_of("{% set v = (1.5)[1:] %}") ==
        "chat template error at line 1, column 18: 'float' object is not subscriptable");
  // A folded negative constant is written into Python unparenthesized: -2 ** x is -(2 ** x).
  CHECK(render("{{ -2 ** x }} {{ -2 ** 2 }} {{ -x ** 2 }}", {{"x", 2}}) == "-4 4 4");
  // Macro parameters shadow outer names even in defaults.
  CHECK(render(
            "{% set b = 5 %}{% macro m(a, b=b) %}[{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 2) }}") ==
        "[][2]");
  // str % x runs even for Undefined and lists (they look like mappings to CPython).
  CHECK(render("{{ 'x%s' % u }}|{{ 'x' % [1] }}") == "x|x");
}

TEST_CASE("syntax errors name line and column", "[chat]") {
  CHECK(error_of("\n\n  {{ 1 + }}") ==
        "chat template syntax error at line 3, column 10: unexpected 'end of print statement'");
  CHECK(error_of("{% for x in y %}") ==
        "chat template syntax error at line 1, column 17: Unexpected end of template. Jinja was "
        "looking for the following tags: 'endfor' or 'else'. The innermost block that needs to be "
        "closed is 'for'.");
  CHECK(error_of("{% if x %}{% endfor %}") ==
        "chat template syntax error at line 1, column 14: Encountered unknown tag 'endfor'. Jinja "
        "was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block "
        "that needs to be closed is 'if'.");
  CHECK(error_of("{{ 'abc }}") ==
        "chat template syntax error at line 1, column 4: unexpected char \"'\" at 3");
  CHECK(error_of("{{ [1, 2) }}") ==
        "chat template syntax error at line 1, column 9: unexpected ')', expected ']'");
  CHECK(error_of("{# open") ==
        "chat template syntax error at line 1, column 1: Missing end of comment tag");
  CHECK(error_of("{% break %}") ==
        "chat template syntax error at line 1, column 4: 'break' outside loop");
  CHECK(
      error_of("{% extends 'x' %}") ==
      "chat template syntax error at line 1, column 4: the 'extends' tag is not supported in chat "
      "templates");
}

TEST_CASE("runtime errors are values with positions", "[chat]") {
  CHECK(error_of("a\n{{ raise_exception('Roles must alternate') }}") ==
        "chat template error at line 2, column 19: Roles must alternate");
  CHECK(error_of("{{ 'a' + 1 }}") ==
        "chat template error at line 1, column 8: can only concatenate str (not \"int\") to str");
  CHECK(error_of("{{ x.y.z }}", {{"x", Json::object()}}) ==
        "chat template error at line 1, column 7: 'dict object' has no attribute 'y'");
  CHECK(error_of("{{ missing() }}") ==
        "chat template error at line 1, column 11: 'missing' is undefined");
  CHECK(error_of("{{ 1 // 0 }}") ==
        "chat template error at line 1, column 6: integer division or modulo by zero");
  CHECK(error_of("{{ x|nope }}") ==
        "chat template error at line 1, column 6: No filter named 'nope'.");
  CHECK(error_of("{{ {'a': u}|tojson }}") ==
        "chat template error at line 1, column 13: Object of type Undefined is not JSON "
        "serializable");
  // An unknown filter in a branch that never runs is not an error (as in jinja2).
  CHECK(render("{% if false %}{{ x|nope }}{% endif %}ok") == "ok");
}

TEST_CASE("resource limits turn runaway templates into errors", "[chat]") {
  CHECK_THAT(error_of("{% for i in range(100001) %}{% endfor %}"),
             Catch::Contains("Range too big"));
  CHECK_THAT(error_of("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}"
                      "{% set ns.s = ns.s + ns.s %}{% endfor %}"),
             Catch::Contains("string larger than"));
  CHECK_THAT(error_of("{{ 'x' * 1000000000 }}"), Catch::Contains("string larger than"));
  // Each %(a)9999s adds 10 KB: 1.5 million of them were formatted whole (10 GB) before the
  // string's size was checked.
  CHECK_THAT(error_of("{% set f = '%(a)9999s' * 1500000 %}{{ (f % {'a': 1}) | length }}"),
             Catch::Contains("string larger than"));
  // '' repeated 10^12 times is '' at once (the loop ran 10^12 times, at parse time too).
  CHECK(render("{% set n = 10**12 %}[{{ '' * n }}{{ ([] * n) | length }}]") == "[0]");
  CHECK_THAT(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
             Catch::Contains("macros recurse deeper than"));
  CHECK_THAT(
      error_of("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
               "{% endfor %}{% endfor %}{% endfor %}"),
      Catch::Contains("loop iterations"));
  CHECK_THAT(error_of("{% set ns = namespace(v=[]) %}{% for i in range(1000) %}"
                      "{% set ns.v = [ns.v] %}{% endfor %}"),
             Catch::Contains("nests deeper than"));
  CHECK_THAT(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
             Catch::Contains("too deeply"));
  CHECK_THAT(error_of("{% set ns = namespace() %}{% set ns.self = ns %}"),
             Catch::Contains("cannot hold another namespace"));

  RenderLimits limits;
  limits.max_output_bytes = 100;
  auto tpl = ChatTemplate::parse("{% for i in range(1000) %}0123456789{% endfor %}");
  REQUIRE(tpl.ok());
  tpl->set_limits(limits);
  auto out = tpl->render(Value::object({}));
  REQUIRE_FALSE(out.ok());
  CHECK_THAT(out.message(), Catch::Contains("exceeds 100 bytes"));
}

TEST_CASE("the render context must be an object", "[chat]") {
  auto tpl = ChatTemplate::parse("x");
  REQUIRE(tpl.ok());
  CHECK_FALSE(tpl->render(Value(1)).ok());
  CHECK(tpl->render(Value::object({})).value() == "x");
}
