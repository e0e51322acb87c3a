#!/usr/bin/env python3
"""Renders chat-template fixtures with jinja2, the way HuggingFace transformers does it.

Writes tests/fixtures/chat/expected.json: every template in tests/fixtures/chat/templates/
rendered against a fixed set of conversations (with and without add_generation_prompt), each
case holding either the exact expected string or the error jinja2 raised. troupe's C++
renderer (engine/chat/) must reproduce every string byte for byte and fail where jinja2 fails.

    python3 -m venv /tmp/chatvenv && /tmp/chatvenv/bin/pip install jinja2 transformers gguf
    /tmp/chatvenv/bin/python bench/reference/make_chat_fixtures.py \
        [--smollm2-gguf PATH]   # re-extract templates/smollm2.jinja from the model file

Rendering goes through transformers' own render_jinja_template when transformers is installed
(ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True), loopcontrols, its tojson,
raise_exception, strftime_now, namespace and dict); without it, an equivalent environment is
built here. Either way: messages, tools (None unless a case gives tools), documents (None),
add_generation_prompt, bos_token and eos_token, plus a case's extra variables.

Template sources (the published chat_template strings):
  smollm2               HuggingFaceTB/SmolLM2-135M-Instruct (tokenizer.chat_template in the GGUF)
  llama3_instruct       meta-llama/Meta-Llama-3-8B-Instruct
  llama31_instruct      meta-llama/Llama-3.1-8B-Instruct
  llama32_instruct      meta-llama/Llama-3.2-3B-Instruct (strftime_now; cases pass date_string)
  llama2_chat           meta-llama/Llama-2-7b-chat-hf
  mistral_instruct_v02  mistralai/Mistral-7B-Instruct-v0.2 (the v0.1-style [INST] template)
  mistral_instruct_v03  mistralai/Mistral-7B-Instruct-v0.3 (tool calling)
  qwen2_instruct        Qwen/Qwen2-7B-Instruct
  qwen25_instruct       Qwen/Qwen2.5-7B-Instruct (tool calling)
  gemma2_it             google/gemma-2-2b-it
  phi35_mini_instruct   microsoft/Phi-3.5-mini-instruct
  deepseek_r1_distill_qwen  deepseek-ai/DeepSeek-R1-Distill-Qwen-32B
  hermes2_pro_tool_use  NousResearch/Hermes-2-Pro-Llama-3-8B (tool_use: macros, recursion)

Output is byte-deterministic: change a template or a conversation, rerun, commit both.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "chat"

# name -> (bos_token, eos_token) from each model's tokenizer_config.json
TOKENS = {
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "llama3_instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama31_instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama32_instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama2_chat": ("<s>", "</s>"),
    "mistral_instruct_v02": ("<s>", "</s>"),
    "mistral_instruct_v03": ("<s>", "</s>"),
    "qwen2_instruct": ("", "<|im_end|>"),
    "qwen25_instruct": ("", "<|im_end|>"),
    "gemma2_it": ("<bos>", "<eos>"),
    "phi35_mini_instruct": ("<s>", "<|endoftext|>"),
    "deepseek_r1_distill_qwen": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "hermes2_pro_tool_use": ("<|begin_of_text|>", "<|im_end|>"),
}


def msg(role, content):
    return {"role": role, "content": content}


TRICKY = (
    "Line one\nLine two\r\n\n\tTabbed and   spaced  \n"
    "{{ messages }} {% if true %}not a tag{% endif %} {# not a comment #} {%- raw -%}"
)
UNICODE = "Héllo wörld — 你好, мир! 🚀 👩‍💻 e\u0301 \u200b zero-width, \u00a0nbsp, ＡＢＣ, ǅ ß ﬁ"

# Conversations every template is rendered with (plain role/content messages).
CONVERSATIONS = {
    "single_user": [msg("user", "Hello!")],
    "system_user": [msg("system", "You are a helpful assistant."), msg("user", "What is 2+2?")],
    "multi_turn": [
        msg("user", "Hi there"),
        msg("assistant", "Hello! How can I help?"),
        msg("user", "Tell me a joke."),
        msg("assistant", "Why did the chicken cross the road?"),
        msg("user", "Why?"),
    ],
    "system_multi_turn": [
        msg("system", "Be brief."),
        msg("user", "Hi"),
        msg("assistant", "Hello."),
        msg("user", "Bye"),
    ],
    "ends_with_assistant": [msg("user", "Count to three."), msg("assistant", "One, two, three.")],
    "newlines_and_lookalikes": [msg("user", TRICKY), msg("assistant", "\n\nOK\n\n"), msg("user", "x")],
    "unicode": [msg("system", UNICODE), msg("user", UNICODE), msg("assistant", "Ünïcödé ✓")],
    "surrounding_spaces": [
        msg("user", "   leading and trailing   "),
        msg("assistant", "  \t reply \n "),
        msg("user", " \n"),
    ],
    "quotes_and_backslashes": [msg("user", "He said \"hi\" and 'bye' \\n \\\\ \\x41 </s> <|im_end|>")],
    "empty_content": [msg("user", "")],
    "system_only": [msg("system", "Only a system prompt.")],
    "empty_conversation": [],
    # Rejected by templates that require alternating user/assistant turns.
    "non_alternating": [msg("user", "First"), msg("user", "Second")],
    "assistant_first": [msg("assistant", "I speak first"), msg("user", "Hi")],
    "unknown_role": [msg("user", "Hi"), msg("narrator", "Meanwhile...")],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Unit"},
                "days": {"type": "integer", "description": "  Forecast days  "},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"},
                "flexible": {"type": ["string", "number"], "description": "Either"},
                "extras": {"type": "object", "additionalProperties": {"type": "number"},
                           "description": "Extras"},
            },
            "required": ["city"],
        },
    },
}
TOOL_CALL = {"id": "call12345", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
TOOL_CONVERSATION = [
    msg("system", "You can check the weather."),
    msg("user", "Weather in Paris? Answer with ünïcode."),
    {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
    {"role": "tool", "name": "get_weather", "content": "22.5 °C, sunny", "tool_call_id": "call12345"},
    msg("assistant", "It is 22.5 °C and sunny in Paris."),
    msg("user", "Thanks!"),
]

# Extra cases for templates with tool calling or extra variables:
# (template, case name, messages, extra variables including tools).
EXTRA_CASES = [
    ("qwen25_instruct", "tools", [msg("user", "Weather in Paris?")], {"tools": [WEATHER_TOOL]}),
    ("qwen25_instruct", "tool_conversation", TOOL_CONVERSATION, {"tools": [WEATHER_TOOL]}),
    ("llama31_instruct", "tools_in_user_message", [msg("user", "Weather in Paris?")],
     {"tools": [WEATHER_TOOL]}),
    ("llama31_instruct", "tools_in_system", [msg("system", "Sys"), msg("user", "Weather?")],
     {"tools": [WEATHER_TOOL], "tools_in_user_message": False}),
    ("llama31_instruct", "tool_conversation", TOOL_CONVERSATION, {}),
    ("llama31_instruct", "builtin_tools",
     [msg("user", "Search it"),
      {"role": "assistant", "content": None, "tool_calls": [
          {"function": {"name": "brave_search", "arguments": {"query": "weather"}}}]},
      {"role": "ipython", "content": {"result": "sunny"}}],
     {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}),
    ("llama31_instruct", "custom_date", [msg("user", "Hi")], {"date_string": "01 Jan 2025"}),
    ("llama31_instruct", "tools_without_user", [], {"tools": [WEATHER_TOOL]}),
    ("llama32_instruct", "date_string", [msg("system", "Sys"), msg("user", "Hi")],
     {"date_string": "26 Jul 2024"}),
    ("llama32_instruct", "tools", [msg("user", "Weather?")],
     {"tools": [WEATHER_TOOL], "date_string": "26 Jul 2024"}),
    ("mistral_instruct_v03", "tools", [msg("system", "Sys"), msg("user", "Weather in Paris?")],
     {"tools": [WEATHER_TOOL]}),
    ("mistral_instruct_v03", "tool_conversation",
     [msg("user", "Weather?"),
      {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
      {"role": "tool", "content": "22 C", "tool_call_id": "call12345"},
      msg("assistant", "22 C."), msg("user", "Thanks")],
     {"tools": [WEATHER_TOOL]}),
    ("mistral_instruct_v03", "bad_tool_call_id",
     [msg("user", "Weather?"),
      {"role": "assistant", "content": None, "tool_calls": [dict(TOOL_CALL, id="short")]}],
     {}),
    ("hermes2_pro_tool_use", "tools", [msg("user", "Weather in Paris?")], {"tools": [WEATHER_TOOL]}),
    ("hermes2_pro_tool_use", "tool_conversation", TOOL_CONVERSATION, {"tools": [WEATHER_TOOL]}),
    ("hermes2_pro_tool_use", "no_tools", [msg("user", "Hi")], {}),
    ("deepseek_r1_distill_qwen", "thinking",
     [msg("user", "2+2?"), msg("assistant", "<think>\nsimple\n</think>\n\n4"), msg("user", "3+3?")], {}),
    ("deepseek_r1_distill_qwen", "tool_conversation",
     [msg("system", "Sys"), msg("user", "Weather?"),
      {"role": "assistant", "content": None, "tool_calls": [
          {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
          {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
      {"role": "tool", "content": "sunny"}, {"role": "tool", "content": "rainy"},
      msg("assistant", "Sunny and rainy.")], {}),
    ("phi35_mini_instruct", "empty_system", [msg("system", ""), msg("user", "Hi")], {}),
    ("qwen2_instruct", "numbers_as_content", [{"role": "user", "content": 42}], {}),
    ("gemma2_it", "content_needs_trim", [msg("user", "\n  padded  \n")], {}),
]


def compile_template(source):
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template
        return _compile_jinja_template(source)
    except ImportError:
        pass
    # Equivalent of transformers' environment (4.4x-5.x) for machines without transformers.
    import json as _json
    from datetime import datetime

    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return _json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                           sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(source)


def render(source, messages, add_generation_prompt, bos, eos, extra):
    variables = {"tools": None, "documents": None, "bos_token": bos, "eos_token": eos}
    variables.update(extra)
    try:
        template = compile_template(source)
        text = template.render(messages=json.loads(json.dumps(messages)),
                               add_generation_prompt=add_generation_prompt, **variables)
        return {"expected": text}
    except Exception as e:  # noqa: BLE001 - every jinja2 failure is a fixture
        return {"expected_error": str(e), "error_type": type(e).__name__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smollm2-gguf", help="re-extract templates/smollm2.jinja from this GGUF")
    parser.add_argument("--out", default=str(FIXTURES / "expected.json"))
    args = parser.parse_args()

    if args.smollm2_gguf:
        import gguf
        reader = gguf.GGUFReader(args.smollm2_gguf)
        field = reader.fields["tokenizer.chat_template"]
        text = bytes(field.parts[field.data[0]]).decode("utf-8")
        (FIXTURES / "templates" / "smollm2.jinja").write_text(text, encoding="utf-8")

    templates = {}
    for name in TOKENS:
        path = FIXTURES / "templates" / f"{name}.jinja"
        templates[name] = path.read_text(encoding="utf-8")

    cases = []
    for name, source in templates.items():
        bos, eos = TOKENS[name]
        for conv_name, messages in CONVERSATIONS.items():
            for agp in (True, False):
                extra = {"date_string": "26 Jul 2024"} if name == "llama32_instruct" else {}
                case = {"name": f"{name}/{conv_name}/{'gen' if agp else 'nogen'}",
                        "template": name, "messages": messages, "add_generation_prompt": agp,
                        "bos_token": bos, "eos_token": eos}
                if extra:
                    case["extra"] = extra
                case.update(render(source, messages, agp, bos, eos, extra))
                cases.append(case)
    for name, case_name, messages, extra in EXTRA_CASES:
        bos, eos = TOKENS[name]
        for agp in (True, False):
            case = {"name": f"{name}/{case_name}/{'gen' if agp else 'nogen'}", "template": name,
                    "messages": messages, "add_generation_prompt": agp, "bos_token": bos,
                    "eos_token": eos, "extra": extra}
            case.update(render(templates[name], messages, agp, bos, eos, extra))
            cases.append(case)

    try:
        import jinja2
        jinja_version = jinja2.__version__
    except ImportError:
        jinja_version = "unknown"
    try:
        import transformers
        renderer = f"transformers {transformers.__version__}"
    except ImportError:
        renderer = "standalone environment"
    out = {
        "generator": "bench/reference/make_chat_fixtures.py",
        "jinja2": jinja_version,
        "renderer": renderer,
        "templates": {name: f"templates/{name}.jinja" for name in templates},
        "cases": cases,
    }
    pathlib.Path(args.out).write_text(
        json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    errors = sum(1 for c in cases if "expected_error" in c)
    print(f"wrote {len(cases)} cases ({errors} expected errors) to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
