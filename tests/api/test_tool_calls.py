"""Function calling (issue 21) through the official `openai` SDK against `troupe serve`, on the
default model, whose chat template knows no tools: the generic form (tools in the system prompt,
the answer constrained to their calls). With tool_choice required or a named function every
answer is a well-formed call whose arguments validate against the function's schema; streamed
tool-call deltas assemble into the same call; tool results go back as role "tool" messages.
"""
import json

import openai
import pytest

from tool_fixtures import ASK, TOOLS, WEATHER, check_call


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_required_always_gives_well_formed_calls(client, model, temperature):
    for seed in range(4):
        r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS,
                                           tool_choice="required", temperature=temperature,
                                           seed=seed, max_tokens=200)
        choice = r.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        assert 1 <= len(choice.message.tool_calls) <= 4
        for call in choice.message.tool_calls:
            check_call(call)


def test_a_named_function_is_the_one_called_once(client, model):
    r = client.chat.completions.create(
        model=model, messages=ASK, tools=TOOLS, temperature=1.0, seed=3, max_tokens=200,
        tool_choice={"type": "function", "function": {"name": "get_time"}})
    calls = r.choices[0].message.tool_calls
    assert len(calls) == 1 and calls[0].function.name == "get_time"
    check_call(calls[0])


def test_no_parallel_calls_means_one(client, model):
    for seed in range(3):
        r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, seed=seed,
                                           tool_choice="required", parallel_tool_calls=False,
                                           temperature=1.0, max_tokens=200)
        assert len(r.choices[0].message.tool_calls) == 1


def test_auto_answers_with_calls_or_words_and_none_with_words(client, model):
    for seed in range(3):
        r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, seed=seed,
                                           tool_choice="auto", temperature=1.0, max_tokens=200)
        m = r.choices[0].message
        if m.tool_calls:
            assert r.choices[0].finish_reason == "tool_calls" and m.content is None
            for call in m.tool_calls:
                check_call(call)
        else:
            assert isinstance(m.content, str)
    r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, tool_choice="none",
                                       temperature=0, max_tokens=10)
    assert r.choices[0].message.tool_calls is None and r.choices[0].message.content


def test_streamed_deltas_assemble_into_the_same_call(client, model):
    kwargs = dict(model=model, messages=ASK, tools=TOOLS, tool_choice="required", temperature=0,
                  max_tokens=200)
    whole = client.chat.completions.create(**kwargs).choices[0].message.tool_calls
    calls, finish = {}, None
    for chunk in client.chat.completions.create(stream=True, **kwargs):
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                call["name"] += (delta.function.name or "") if delta.function else ""
                call["arguments"] += (delta.function.arguments or "") if delta.function else ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())] == \
        [(c.function.name, json.loads(c.function.arguments)) for c in whole]
    assert all(c["id"].startswith("call_") for c in calls.values())


def test_tool_results_go_back_as_tool_messages(client, model):
    first = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS,
                                           tool_choice="required", temperature=0, max_tokens=200)
    call = first.choices[0].message.tool_calls[0]
    messages = ASK + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21, "sky": "clear"}'},
    ]
    r = client.chat.completions.create(model=model, messages=messages, tools=TOOLS,
                                       temperature=0, max_tokens=100)
    m = r.choices[0].message
    assert m.content or m.tool_calls


@pytest.mark.parametrize("extra, param, says", [
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice",
     "not among the tools"),
    ({"response_format": {"type": "json_object"}}, "tools", "give one of them"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "integer", "maximum": 3}}}}}]},
     "tools", "the parameters of tool 'f'"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
     "tools[0].function.name", "letters, digits"),
    ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name", "two tools are named"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0]", "must be {\"type\": \"function\""),
])
def test_bad_tools_are_400s_naming_the_field(client, model, extra, param, says):
    body = {"tools": TOOLS} | extra
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, messages=ASK, max_tokens=4, extra_body=body)
    assert e.value.body["param"] == param
    assert says in e.value.body["message"]
