"""Structured output (issue 21) through the official `openai` SDK against `troupe serve`: every
JSON Schema of a suite of 32 (nested objects, arrays, enums, anyOf, refs, formats) gives output
that validates against it, at temperature 0 and 1; JSON mode parses whenever it ends; the SDK's
`parse` helper fills a pydantic model; vLLM's guided_choice and guided_grammar hold; bad schemas
and grammars are 400s naming the problem; a grammar that cannot finish within max_tokens says
"length". Validation is by `jsonschema` (Draft 2020-12), not by troupe itself.

The suite's schemas are finite (strings and arrays bounded): the default model is small, and
given an unbounded string, a recursive schema or open-ended extra properties it can go on past
any max_tokens (seen: kids nested in kids, a hundred extra keys), which the grammar allows and
"length" reports. Recursion and extra properties are checked on fixed documents in
tests/net/json_schema_grammar_test.cpp.
"""
import concurrent.futures
import enum
import json
import re
import typing

import jsonschema
import openai
import pydantic
import pytest

ASK = [{"role": "system", "content": "You answer with JSON only."},
       {"role": "user", "content": "Make up an example that fits the format."}]


def obj(properties, required=None, **extra):
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False, **extra}


S = {"type": "string", "maxLength": 24}  # bounded, so a rambling string still ends in time
SCHEMAS = {
    "string": S,
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "null": {"type": "null"},
    "flat-object": obj({"name": S, "age": {"type": "integer"}}),
    "optional-property": obj({"name": S, "nick": S}, required=["name"]),
    "no-required": obj({"a": {"type": "boolean"}, "b": {"type": "null"}}, required=[]),
    "nested-object": obj({"person": obj({"name": S, "address": obj({"city": S, "zip": S})})}),
    "array-of-strings": {"type": "array", "items": S, "maxItems": 3},
    "array-min-max": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
    "array-of-objects": {"type": "array", "items": obj({"id": {"type": "integer"}, "ok": {"type": "boolean"}}),
                         "minItems": 1, "maxItems": 2},
    "tuple": {"type": "array", "prefixItems": [{"type": "integer"}, S], "items": False,
              "minItems": 2},
    "enum-strings": {"enum": ["red", "green", "blue"]},
    "enum-mixed": {"enum": ["a", 1, None, True]},
    "const": obj({"kind": {"const": "point"}, "x": {"type": "number"}}),
    "anyOf-scalar": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "anyOf-objects": {"anyOf": [obj({"cat": S}), obj({"dog": {"type": "integer"}})]},
    "oneOf": {"oneOf": [{"type": "boolean"}, obj({"v": {"type": "integer"}})]},
    "type-list": {"type": ["string", "integer"], "maxLength": 10},
    "pattern-anchored": {"type": "string", "pattern": "^[A-Z][a-z]{2,8} [0-9]{1,3}$"},
    "pattern-in-object": obj({"code": {"type": "string", "pattern": "^[0-9]{4}-[A-Z]{2}$"}}),
    "ref": {"$defs": {"pt": obj({"x": {"type": "integer"}, "y": {"type": "integer"}})},
            **obj({"from": {"$ref": "#/$defs/pt"}, "to": {"$ref": "#/$defs/pt"}})},
    "nullable-enum": {"anyOf": [{"enum": ["x", "y"]}, {"type": "null"}]},
    "string-lengths": obj({"code": {"type": "string", "minLength": 3, "maxLength": 5}}),
    "date": obj({"day": {"type": "string", "format": "date"}}),
    "date-time": obj({"at": {"type": "string", "format": "date-time"}}),
    "uuid": obj({"id": {"type": "string", "format": "uuid"}}),
    "email": obj({"to": {"type": "string", "format": "email"}}),
    "non-negative": obj({"count": {"type": "integer", "minimum": 0}}),
    "positive": obj({"count": {"type": "integer", "exclusiveMinimum": 0}}),
    "array-of-enums": obj({"tags": {"type": "array", "items": {"enum": ["a", "b"]},
                                    "maxItems": 3}}),
    "annotations": {"title": "T", "description": "d", **obj({"q": {"type": "integer", "title": "Q",
                                                                  "default": 1}})},
    "deep": obj({"a": obj({"b": obj({"c": obj({"d": {"type": "array", "items": {"enum": [1, 2]},
                                                     "maxItems": 2}})})})}),
}
assert len(SCHEMAS) >= 30


def generate(client, model, schema, temperature, seed):
    response = client.chat.completions.create(
        model=model, messages=ASK, temperature=temperature, seed=seed, max_tokens=300,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "answer", "schema": schema, "strict": True}})
    return response.choices[0]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_every_schema_of_the_suite_validates(client, model, temperature):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = {name: pool.submit(generate, client, model, schema, temperature, i)
                   for i, (name, schema) in enumerate(SCHEMAS.items())}
    failures = []
    for name, future in futures.items():
        choice = future.result()
        try:
            assert choice.finish_reason == "stop", f"finish_reason {choice.finish_reason}"
            value = json.loads(choice.message.content)
            jsonschema.validate(value, SCHEMAS[name],
                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        except Exception as e:  # collect them all, then fail once with every case named
            failures.append(f"{name}: {e!r:.300} in {choice.message.content!r:.300}")
    assert not failures, "\n".join(failures)


def test_json_mode_parses_whenever_it_ends(client, model):
    # On the small model some answers run to max_tokens ("length", as OpenAI documents for JSON
    # mode: the text is then cut); every one that ends is a JSON object.
    ended = 0
    for temperature, seed in [(0.0, 0)] + [(1.0, seed) for seed in range(6)]:
        response = client.chat.completions.create(
            model=model, temperature=temperature, seed=seed, max_tokens=400,
            messages=[{"role": "user", "content": "Describe a cat in JSON."}],
            response_format={"type": "json_object"})
        choice = response.choices[0]
        assert choice.finish_reason in ("stop", "length")
        if choice.finish_reason == "stop":
            ended += 1
            assert isinstance(json.loads(choice.message.content), dict)
        else:
            assert choice.message.content.lstrip().startswith("{")
    assert ended >= 1


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Pet(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=20)
    legs: int
    colour: Colour
    vaccinated: bool
    nickname: typing.Optional[str] = pydantic.Field(max_length=20)


class Household(pydantic.BaseModel):
    pets: typing.List[Pet] = pydantic.Field(max_length=2)
    city: str = pydantic.Field(max_length=20)


def test_the_sdks_parse_helper_fills_a_pydantic_model(client, model):
    completion = client.chat.completions.parse(
        model=model, temperature=0, max_tokens=300, response_format=Household,
        messages=[{"role": "user", "content": "A household with one dog, as JSON."}])
    household = completion.choices[0].message.parsed
    assert isinstance(household, Household)
    assert all(isinstance(p.colour, Colour) for p in household.pets)


def test_vllm_guided_choice_and_grammar(client, model):
    for temperature in (0.0, 1.0):
        r = client.chat.completions.create(
            model=model, temperature=temperature, max_tokens=10,
            messages=[{"role": "user", "content": "Is the sky blue?"}],
            extra_body={"guided_choice": ["yes", "no", "maybe not"]})
        assert r.choices[0].message.content in ("yes", "no", "maybe not")
        r = client.completions.create(
            model=model, temperature=temperature, max_tokens=20, prompt="Digits:",
            extra_body={"guided_grammar": 'root ::= " " [0-9]{3} ("-" [0-9]{2})?'})
        text = r.choices[0].text
        assert text[0] == " " and text[1:4].isdigit() and (len(text) == 4 or text[4] == "-")
        r = client.completions.create(
            model=model, temperature=temperature, max_tokens=20, prompt="Call me at",
            extra_body={"guided_regex": r" \(\d{3}\) \d{3}-\d{4}"})
        assert re.fullmatch(r" \(\d{3}\) \d{3}-\d{4}", r.choices[0].text)


def test_a_grammar_that_cannot_finish_says_length(client, model):
    r = client.completions.create(model=model, max_tokens=6, prompt="x", temperature=0,
                                  extra_body={"guided_grammar": 'root ::= "ab" root'})
    assert r.choices[0].finish_reason == "length"
    text = r.choices[0].text
    assert text.startswith("ab") and text.replace("ab", "") in ("", "a")


@pytest.mark.parametrize("body, param, says", [
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "patternProperties": {"a": {}}}}}},
     "response_format", "the keyword 'patternProperties' is not supported"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "string", "pattern": "(?=a)"}}}},
     "response_format", "pattern"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"$ref": "#/$defs/nope"}}}}, "response_format", "points at nothing"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format", "needs 'json_schema.schema'"),
    ({"response_format": {"type": "yaml"}}, "response_format", "must be text, json_object or json_schema"),
    ({"guided_grammar": "root ::= nothing"}, "guided_grammar", "'nothing' is not defined"),
    ({"guided_grammar": "root ::= root \"a\""}, "guided_grammar", "left-recursive"),
    ({"guided_grammar": "root ::= \"a"}, "guided_grammar", "line 1, column 12"),
    ({"guided_choice": []}, "guided_choice", "non-empty array of strings"),
    ({"guided_json": "{not json"}, "guided_json", "not valid JSON"),
    ({"guided_choice": ["a"], "guided_grammar": "root ::= \"a\""}, "guided_grammar", "give one of them"),
])
def test_bad_schemas_and_grammars_are_400s_naming_the_problem(client, model, body, param, says):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, max_tokens=4,
                                       messages=[{"role": "user", "content": "x"}],
                                       extra_body=body)
    error = e.value.body
    assert error["param"] == param
    assert says in error["message"]
