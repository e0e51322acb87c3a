"""Tool calling through a chat template that knows tools (issue 21): `troupe serve
--chat-template` with Qwen2.5's template on the default model (both speak ChatML). The tools are
rendered by the template, the model's answer is constrained to Qwen's own syntax
(<tool_call>{"name": ..., "arguments": ...}</tool_call>) and read back into OpenAI's tool_calls;
earlier calls and their results go back through the template natively.
"""
import json
import os

import jsonschema
import pytest

from conftest import Server
from tool_fixtures import ASK, SCHEMAS, TOOLS, WEATHER, check_call

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "chat",
                        "templates", "qwen25_instruct.jinja")


@pytest.fixture(scope="module")
def server():
    s = Server(extra_args=["--chat-template", TEMPLATE])
    yield s
    s.stop()
    assert s.process.returncode == 0


def test_the_server_names_the_syntax_it_found(server):
    assert any("tool calls in the hermes" in line for line in server.log)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_required_gives_well_formed_calls_in_the_models_syntax(client, model, temperature):
    for seed in range(3):
        r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS,
                                           tool_choice="required", temperature=temperature,
                                           seed=seed, max_tokens=200)
        choice = r.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        assert 1 <= len(choice.message.tool_calls) <= 4
        for call in choice.message.tool_calls:
            check_call(call)


def test_named_function_and_no_parallel_calls(client, model):
    r = client.chat.completions.create(
        model=model, messages=ASK, tools=TOOLS, temperature=1.0, seed=1, max_tokens=200,
        parallel_tool_calls=False, tool_choice={"type": "function", "function": {"name": "get_time"}})
    calls = r.choices[0].message.tool_calls
    assert len(calls) == 1 and calls[0].function.name == "get_time"
    check_call(calls[0])


def test_streamed_calls_assemble_into_the_same_calls(client, model):
    ask = dict(model=model, messages=ASK, tools=TOOLS, tool_choice="required", temperature=0,
               max_tokens=200)
    whole = client.chat.completions.create(**ask).choices[0].message.tool_calls
    calls = {}
    for chunk in client.chat.completions.create(stream=True, **ask):
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            entry = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            entry["name"] += delta.function.name or ""
            entry["arguments"] += delta.function.arguments or ""
    assert [(c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())] == \
        [(c.function.name, json.loads(c.function.arguments)) for c in whole]


def test_auto_answers_with_calls_or_words_never_raw_markup(client, model):
    for seed in range(3):
        r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, seed=seed,
                                           tool_choice="auto", temperature=1.0, max_tokens=120)
        m = r.choices[0].message
        if m.tool_calls:
            for call in m.tool_calls:
                assert call.function.name in SCHEMAS
            assert "<tool_call>" not in (m.content or "")
        else:
            assert isinstance(m.content, str)


def test_calls_and_results_go_back_through_the_template(client, model):
    r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS,
                                       tool_choice="required", temperature=0, max_tokens=200)
    call = r.choices[0].message.tool_calls[0]
    history = ASK + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": call.id, "type": "function",
         "function": {"name": call.function.name, "arguments": call.function.arguments}}]}]
    sizes = []
    for result in ["Sunny.", "Sunny, 24 degrees, a light wind from the west, no rain today."]:
        answer = client.chat.completions.create(
            model=model, tools=TOOLS, temperature=0, max_tokens=20,
            messages=history + [{"role": "tool", "tool_call_id": call.id, "content": result}])
        assert answer.choices[0].finish_reason in ("stop", "length", "tool_calls")
        sizes.append(answer.usage.prompt_tokens)
    assert sizes[1] > sizes[0] > r.usage.prompt_tokens


def test_responses_api_uses_the_same_syntax(client, model):
    tool = {"type": "function", **WEATHER["function"]}
    r = client.responses.create(model=model, input="Weather in Rome?", tools=[tool],
                                tool_choice="required", temperature=0, max_output_tokens=200)
    assert r.output and all(item.type == "function_call" for item in r.output)
    jsonschema.validate(json.loads(r.output[0].arguments), SCHEMAS["get_weather"])
