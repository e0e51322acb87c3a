"""OpenAI's Responses API (POST /v1/responses, issue 21) through the official `openai` SDK, as a
new user tries it: plain text, streamed events, a JSON Schema text format, a function tool and
its result sent back, and the refusals of what a stateless server cannot do.
"""
import json

import jsonschema
import openai
import pydantic
import pytest

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string", "maxLength": 30}},
               "required": ["city"], "additionalProperties": False}}
PERSON = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
    "required": ["name", "age"], "additionalProperties": False}


def test_plain_text_answers_like_chat(client, model):
    r = client.responses.create(model=model, input="Name a primary colour.", temperature=0,
                                max_output_tokens=12)
    assert r.object == "response" and r.id.startswith("resp")
    assert r.status in ("completed", "incomplete")
    assert r.output[0].type == "message" and r.output[0].role == "assistant"
    assert r.output_text and r.output_text == r.output[0].content[0].text
    assert 0 < r.usage.output_tokens <= 12
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    # The same conversation through chat completions gives the same greedy text.
    c = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Name a primary colour."}],
        temperature=0, max_tokens=12)
    assert c.choices[0].message.content == r.output_text
    assert c.usage.prompt_tokens == r.usage.input_tokens


def test_instructions_and_messages_reach_the_prompt(client, model):
    kwargs = dict(model=model, temperature=0, max_output_tokens=8)
    plain = client.responses.create(input="Say hello.", **kwargs)
    told = client.responses.create(instructions="You only ever answer in French.",
                                   input=[{"role": "user", "content": "Say hello."}], **kwargs)
    chat = client.chat.completions.create(
        model=model, temperature=0, max_tokens=8,
        messages=[{"role": "system", "content": "You only ever answer in French."},
                  {"role": "user", "content": "Say hello."}])
    assert told.usage.input_tokens == chat.usage.prompt_tokens != plain.usage.input_tokens
    assert told.output_text == chat.choices[0].message.content
    parts = client.responses.create(
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Say hello."}]}],
        **kwargs)
    assert parts.output_text == plain.output_text


def test_max_output_tokens_makes_it_incomplete(client, model):
    r = client.responses.create(model=model, input="Write a long story about a ship.",
                                temperature=0, max_output_tokens=5)
    assert r.status == "incomplete"
    assert r.incomplete_details.reason == "max_output_tokens"
    assert r.usage.output_tokens == 5


def test_streamed_events_assemble_into_the_same_text(client, model):
    ask = dict(model=model, input="Count from one to five.", temperature=0, max_output_tokens=20)
    whole = client.responses.create(**ask)
    events = list(client.responses.create(stream=True, **ask))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", types[-1]]
    assert types[-1] in ("response.completed", "response.incomplete")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == whole.output_text
    assert events[-1].response.output_text == whole.output_text
    assert events[-1].response.usage.output_tokens == whole.usage.output_tokens


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_json_schema_format_validates(client, model, temperature):
    for seed in range(3):
        r = client.responses.create(
            model=model, input="Describe a person as JSON.", temperature=temperature,
            extra_body={"seed": seed}, max_output_tokens=200,
            text={"format": {"type": "json_schema", "name": "person", "schema": PERSON,
                             "strict": True}})
        jsonschema.validate(json.loads(r.output_text), PERSON)
        assert r.text.format.type == "json_schema"


def test_parse_helper_with_a_pydantic_model(client, model):
    class Person(pydantic.BaseModel):
        name: str
        age: int

    r = client.responses.parse(model=model, input="Describe a person.", text_format=Person,
                               temperature=0, max_output_tokens=200)
    assert isinstance(r.output_parsed, Person)


def test_a_function_tool_is_called_and_its_result_answered(client, model):
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = client.responses.create(model=model, input=ask, tools=[WEATHER], tool_choice="required",
                                temperature=0, max_output_tokens=200)
    calls = [item for item in r.output if item.type == "function_call"]
    assert calls and len(calls) == len(r.output)
    for call in calls:
        assert call.name == "get_weather" and call.call_id.startswith("call_")
        jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])
    # The call and its output go back as input items; the model then answers in words.
    follow = ask + [{"type": "function_call", "call_id": calls[0].call_id, "name": calls[0].name,
                     "arguments": calls[0].arguments},
                    {"type": "function_call_output", "call_id": calls[0].call_id,
                     "output": "Sunny, 24 degrees."}]
    answer = client.responses.create(model=model, input=follow, tools=[WEATHER],
                                     tool_choice="none", temperature=0, max_output_tokens=30)
    assert answer.output[0].type == "message" and answer.output_text
    follow[-1]["output"] += " Light wind from the west, no rain expected before the evening."
    longer = client.responses.create(model=model, input=follow, tools=[WEATHER],
                                     tool_choice="none", temperature=0, max_output_tokens=1)
    assert longer.usage.input_tokens > answer.usage.input_tokens


def test_streamed_function_call_events(client, model):
    ask = dict(model=model, input="What is the weather in Rome?", tools=[WEATHER],
               tool_choice="required", temperature=0, max_output_tokens=200)
    whole = client.responses.create(**ask)
    events = list(client.responses.create(stream=True, **ask))
    added = [e.item for e in events if e.type == "response.output_item.added"]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert added and all(item.type == "function_call" for item in added)
    assert [e.arguments for e in done] == [c.arguments for c in whole.output]
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert deltas == "".join(c.arguments for c in whole.output)
    assert events[-1].type == "response.completed"
    assert [c.name for c in events[-1].response.output] == [c.name for c in whole.output]


@pytest.mark.parametrize("extra,param", [
    ({"previous_response_id": "resp_123"}, "previous_response_id"),
    ({"background": True}, "background"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"max_output_tokens": 0}, "max_output_tokens"),
    ({"text": {"format": {"type": "json_schema", "name": "x",
                          "schema": {"type": "object", "patternProperties": {}}}}}, "text.format"),
    ({"input": [{"type": "image_generation_call"}]}, "input[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
     "input[0].content[0]"),
    ({"input": []}, "input"),
])
def test_bad_requests_are_400_naming_the_field(client, model, extra, param):
    body = {"model": model, "input": "hi", **extra}
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/responses", body=body, cast_to=object)
    assert err.value.status_code == 400
    assert err.value.body["param"].startswith(param), err.value.body
    assert err.value.body["message"]
