"""Malformed requests over raw sockets: each one gets its HTTP status and an error body in
OpenAI's shape, {"error": {"message", "type", "param", "code"}} (TGI's routes: TGI's shape), with
`param` naming the field at fault; none of them may take the server down, and a client that
trickles its request gets 408 while other connections are served. The table is the hostile-
client probe's case list (issue 15): JSON nested past its bound, every parameter's types and
ranges, unsupported OpenAI features, RFC 9112 framing, keys, routes and methods.

The server runs with --header-timeout 2 (a request must arrive in full within 2 s) and
--max-body-bytes 1MiB; conftest starts it with --max-model-len 2048. When a request kills the
server, that case fails, the crash is recorded and a fresh server takes the rest of the table,
so one crash fails its own case and the survival check at the end, not every case after it.
"""
import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from conftest import Server
from helpers import poll

FLAGS = ["--header-timeout", "2", "--max-body-bytes", "1MiB"]
KEY = "sk-test"
ANY = object()  # the field may hold anything of the right type


# --- HTTP over a plain socket ------------------------------------------------------------------

def http_request(method, path, body=None, key=KEY, headers=None, content_type="application/json"):
    """One HTTP/1.1 request as bytes; `body` is str, bytes, or a dict/list sent as JSON."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    if body is not None:
        lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class NoResponse(Exception):
    """The connection closed before a complete response arrived."""


def read_response(sock, deadline):
    """Reads one response: (status, {lowercase header: value}, body bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = recv_until(sock, deadline)
        if not chunk:
            raise NoResponse("connection closed after %r" % data[:200])
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        chunk = recv_until(sock, deadline)
        if not chunk:
            if length < 0:
                break
            raise NoResponse("body cut short: %r" % body[:200])
        body += chunk
    return status, headers, body


def recv_until(sock, deadline):
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def exchange(port, request, timeout=30):
    """Sends `request` (from a second thread, so a server that answers before reading a large
    body in full does not deadlock us) and reads the response."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        def send():
            try:
                sock.sendall(request)
            except OSError:
                pass  # the server answered early and closed; the answer is still read

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        response = read_response(sock, time.monotonic() + timeout)
        sender.join(timeout)
        return response
    finally:
        sock.close()


def chat(content="Say hi.", **fields):
    return {"messages": [{"role": "user", "content": content}], "max_tokens": 4, **fields}


def chat_json(extra):
    """A valid chat body with `extra` (raw JSON text of members) appended: for numbers and
    literals Python's json module would not write."""
    return '{"messages":[{"role":"user","content":"Say hi."}],"max_tokens":4,' + extra + "}"


def completion(**fields):
    return {"prompt": "Once upon a time", "max_tokens": 4, **fields}


CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
LONG_TEXT = "hello world " * 2000  # about 4000 tokens, twice --max-model-len


# --- the table ---------------------------------------------------------------------------------

@dataclass
class Case:
    request: bytes
    status: int
    param: object = None  # the expected `param`: a value, a tuple of allowed values, or ANY
    code: object = ANY  # the expected `code`, or ANY
    headers: dict = field(default_factory=dict)  # response headers that must be there
    says: str = ""  # words the error message must hold
    tgi: bool = False  # TGI's error shape, {"error", "error_type"}, not OpenAI's


def case(name, request, status, param=None, code=ANY, headers=None, says="", tgi=False):
    return pytest.param(Case(request, status, param, code, headers or {}, says, tgi), id=name)


def nested(depth, inner="1"):
    """`depth` arrays, one inside the other, as JSON text."""
    return "[" * depth + inner + "]" * depth


def raw_head(request_line, *header_lines, body=b""):
    """A request written line by line, for heads Python's clients would not send."""
    return (request_line + "\r\n" + "".join(h + "\r\n" for h in header_lines) + "\r\n").encode() + body


AUTH_LINE = "Authorization: Bearer " + KEY
SMALL_CHAT = json.dumps(chat()).encode()


def post(path, body, **kwargs):
    return http_request("POST", path, body, **kwargs)


def tgi(path, body, **kwargs):
    return post(path, body, **kwargs)


TGI = "/generate"
ADMIN_DRAIN = "/cluster/drain"

# The rest of the probe's cases: every sampling parameter's types and bounds on both OpenAI
# endpoints, TGI's parameters, vLLM's tokenizer routes, methods and routes, keys, and HTTP/1.1
# framing that Beast and the head checks refuse.
MORE_CASES = [
    # Chat: each parameter's wrong type and out-of-range values.
    *(case(f"chat-{name}-{label}", post(CHAT, chat(**{name: value})), 400, name)
      for name, cases in {
          "presence_penalty": [("string", "1"), ("3", 3), ("minus-3", -3), ("bool", True)],
          "frequency_penalty": [("string", "x"), ("2.5", 2.5), ("list", [1])],
          "top_k": [("float", 1.5), ("minus-2", -2), ("string", "5")],
          "min_p": [("1.5", 1.5), ("negative", -0.1), ("string", "0.1")],
          "repetition_penalty": [("zero", 0), ("negative", -1), ("101", 101)],
          "n": [("17", 17), ("string", "2"), ("huge", 10**12)],
          "max_completion_tokens": [("zero", 0), ("string", "5"), ("above-context", 4096)],
          "ignore_eos": [("string", "yes"), ("number", 1)],
          "user": [("number", 5), ("object", {"id": 1})],
          "top_logprobs": [("21", 21), ("negative", -1)],
          "stop_token_ids": [("string", "1"), ("negative", [-1]), ("outside", [10**9]),
                             ("nested", [[1]])],
          "logprobs": [("number", 1), ("null-string", "null")],
          "seed": [("bool", True), ("list", [1])],
          "temperature": [("2.5", 2.5), ("list", [1]), ("object", {"v": 1})],
          "top_p": [("negative", -0.5), ("bool", False)],
          "stream": [("number", 1), ("list", [True])],
          "model": [("list", ["m"]), ("bool", True)],
      }.items() for label, value in cases),
    case("chat-logit-bias-negative-key", post(CHAT, chat(logit_bias={"-1": 1})), 400,
         "logit_bias"),
    case("chat-logit-bias-float-key", post(CHAT, chat(logit_bias={"1.5": 1})), 400, "logit_bias"),
    case("chat-logit-bias-value-null", post(CHAT, chat(logit_bias={"5": None})), 400,
         "logit_bias"),
    case("chat-stop-with-null", post(CHAT, chat(stop=["a", None])), 400, "stop"),
    case("chat-stop-object", post(CHAT, chat(stop={"a": 1})), 400, "stop"),
    case("chat-stream-options-include-usage-string",
         post(CHAT, chat(stream=True, stream_options={"include_usage": "yes"})), 400,
         "stream_options"),
    case("chat-messages-null-entry", post(CHAT, {"messages": [None]}), 400, "messages[0]"),
    case("chat-second-message-bad-role",
         post(CHAT, {"messages": [{"role": "user", "content": "a"},
                                  {"role": "robot", "content": "b"}]}), 400, "messages[1].role"),
    case("chat-role-number", post(CHAT, {"messages": [{"role": 1, "content": "a"}]}), 400,
         "messages[0].role"),
    case("chat-content-object", post(CHAT, {"messages": [{"role": "user", "content": {"t": 1}}]}),
         400, "messages[0].content"),
    case("chat-content-part-without-type",
         post(CHAT, {"messages": [{"role": "user", "content": [{"text": "a"}]}]}), 400,
         "messages[0].content"),
    case("chat-content-part-text-number",
         post(CHAT, {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}),
         400, "messages[0].content"),
    case("chat-content-part-audio",
         post(CHAT, {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}), 400,
         "messages[0].content"),
    case("chat-content-parts-not-objects",
         post(CHAT, {"messages": [{"role": "user", "content": ["a", "b"]}]}), 400,
         "messages[0].content"),
    case("chat-body-null", post(CHAT, "null"), 400),
    case("chat-body-number", post(CHAT, "42"), 400),
    case("chat-body-true", post(CHAT, "true"), 400),
    case("chat-body-two-objects", post(CHAT, json.dumps(chat()) + json.dumps(chat())), 400),
    case("chat-nan-literal", post(CHAT, chat_json('"temperature": NaN')), 400),
    case("chat-single-quotes", post(CHAT, "{'messages': []}"), 400),
    case("chat-comment", post(CHAT, '{"messages": [] /* hi */}'), 400),
    case("chat-trailing-comma", post(CHAT, '{"messages": [{"role":"user","content":"a"},]}'),
         400),
    # Completions.
    *(case(f"completions-{name}-{label}", post(COMPLETIONS, completion(**{name: value})), 400,
           name)
      for name, cases in {
          "logprobs": [("21", 21), ("negative", -1), ("string", "1")],
          "max_tokens": [("zero", 0), ("float", 2.5), ("above-context", 5000)],
          "best_of": [("zero", 0), ("string", "1")],
          "echo": [("string", "yes")],
          "n": [("zero", 0), ("17", 17)],
          "temperature": [("3", 3)],
      }.items() for label, value in cases),
    case("completions-prompt-nested-token-lists-mixed",
         post(COMPLETIONS, completion(prompt=[[1, 2], 5])), 400, "prompt"),
    case("completions-prompt-list-with-null", post(COMPLETIONS, completion(prompt=["a", None])),
         400, "prompt"),
    case("completions-prompt-list-with-empty-string",
         post(COMPLETIONS, completion(prompt=["a", ""])), 400, "prompt"),
    case("completions-prompt-65-prompts", post(COMPLETIONS, completion(prompt=["a"] * 65)), 400,
         "prompt"),
    case("completions-prompt-float-token", post(COMPLETIONS, completion(prompt=[1.5])), 400,
         "prompt"),
    case("completions-prompt-object", post(COMPLETIONS, completion(prompt={"a": 1})), 400,
         "prompt"),
    case("completions-prompt-missing", post(COMPLETIONS, {"max_tokens": 4}), 400, "prompt"),
    case("completions-tools-are-ignored-fields", post(COMPLETIONS, completion(suffix="x")), 400,
         "suffix"),
    # TGI's parameters (its error shape, 422 for validation).
    *(case(f"tgi-{label}", tgi(TGI, body), 422, tgi=True, says=says)
      for label, body, says in [
          ("inputs-missing", {"parameters": {}}, "inputs"),
          ("inputs-number", {"inputs": 5}, "inputs"),
          ("inputs-empty", {"inputs": ""}, "inputs"),
          ("parameters-list", {"inputs": "a", "parameters": [1]}, "parameters"),
          ("max-new-tokens-zero", {"inputs": "a", "parameters": {"max_new_tokens": 0}},
           "max_new_tokens"),
          ("max-new-tokens-string", {"inputs": "a", "parameters": {"max_new_tokens": "5"}},
           "max_new_tokens"),
          ("temperature-zero", {"inputs": "a", "parameters": {"temperature": 0}}, "temperature"),
          ("top-p-1.5", {"inputs": "a", "parameters": {"top_p": 1.5}}, "top_p"),
          ("top-k-zero", {"inputs": "a", "parameters": {"top_k": 0}}, "top_k"),
          ("stop-string", {"inputs": "a", "parameters": {"stop": "x"}}, "stop"),
          ("stop-empty-string", {"inputs": "a", "parameters": {"stop": [""]}}, "stop"),
          ("seed-negative", {"inputs": "a", "parameters": {"seed": -1}}, "seed"),
          ("best-of-2", {"inputs": "a", "parameters": {"best_of": 2}}, "best_of"),
          ("repetition-penalty-zero", {"inputs": "a", "parameters": {"repetition_penalty": 0}},
           "repetition_penalty"),
          ("details-string", {"inputs": "a", "parameters": {"details": "yes"}}, "details"),
          ("do-sample-number", {"inputs": "a", "parameters": {"do_sample": 1}}, "do_sample"),
          ("body-broken", "{", "JSON"),
      ]),
    # vLLM's tokenizer routes.
    case("tokenize-prompt-missing", post("/tokenize", {}), 400, "prompt"),
    case("tokenize-prompt-number", post("/tokenize", {"prompt": 5}), 400, "prompt"),
    case("tokenize-add-special-tokens-string",
         post("/tokenize", {"prompt": "a", "add_special_tokens": "yes"}), 400,
         "add_special_tokens"),
    case("detokenize-tokens-missing", post("/detokenize", {}), 400, "tokens"),
    case("detokenize-tokens-string", post("/detokenize", {"tokens": "1 2"}), 400, "tokens"),
    case("detokenize-token-negative", post("/detokenize", {"tokens": [-1]}), 400, "tokens"),
    case("detokenize-token-outside-vocabulary", post("/detokenize", {"tokens": [10**9]}), 400,
         "tokens"),
    case("detokenize-token-float", post("/detokenize", {"tokens": [1.5]}), 400, "tokens"),
    # Admin routes: a tenant key is not enough.
    case("drain-with-a-tenant-key", post(ADMIN_DRAIN, {"node": "front"}), 403, None, "admin_only"),
    case("undrain-with-a-tenant-key", post("/cluster/undrain", {"node": "front"}), 403, None,
         "admin_only"),
    case("cluster-status-with-a-tenant-key", http_request("GET", "/cluster"), 403, None,
         "admin_only"),
    case("drain-without-a-key", post(ADMIN_DRAIN, {"node": "front"}, key=None), 401),
    # Methods and routes.
    case("put-completions", http_request("PUT", COMPLETIONS, completion()), 405,
         headers={"allow": "POST"}),
    case("get-generate", http_request("GET", TGI), 405, headers={"allow": "POST"}),
    case("post-models", post("/v1/models", {}), 405, headers={"allow": "GET"}),
    case("post-health", post("/health", {}), 405, headers={"allow": "GET"}),
    case("delete-drain", http_request("DELETE", ADMIN_DRAIN), 405, headers={"allow": "POST"}),
    case("unknown-route", post("/v1/audio/speech", {"input": "a"}), 404),
    case("get-embeddings", http_request("GET", "/v1/embeddings"), 405, headers={"allow": "POST"}),
    case("embeddings-number-input", post("/v1/embeddings", {"input": 5}), 400, "input"),
    case("embeddings-nested-strings", post("/v1/embeddings", {"input": [["a"]]}), 400, "input[0]"),
    case("responses-no-input", post("/v1/responses", {"model": "m"}), 400, "input"),
    case("responses-stored", post("/v1/responses", {"input": "a", "previous_response_id": "r"}),
         400, "previous_response_id", "unsupported_parameter"),
    case("dot-dot-path", http_request("GET", "/v1/../etc/passwd"), 404),
    case("encoded-path", http_request("GET", "/v1/%6dodels"), 404),
    case("trailing-slash", post(CHAT + "/", chat()), 404),
    case("uppercase-path", post("/V1/CHAT/COMPLETIONS", chat()), 404),
    # Keys.
    case("basic-auth-scheme", post(CHAT, chat(), key=None,
                                   headers={"Authorization": "Basic c2stdGVzdDo="}), 401, None,
         "invalid_api_key"),
    case("bearer-without-key", post(CHAT, chat(), key=None, headers={"Authorization": "Bearer "}),
         401, None, "invalid_api_key"),
    case("key-with-suffix", post(CHAT, chat(), key=KEY + "x"), 401, None, "invalid_api_key"),
    case("key-prefix-only", post(CHAT, chat(), key=KEY[:-1]), 401, None, "invalid_api_key"),
    case("two-keys-in-one-header", post(CHAT, chat(), key=None,
                                        headers={"Authorization": f"Bearer {KEY} {KEY}"}),
         401, None, "invalid_api_key"),
    # HTTP/1.1 framing.
    case("content-length-negative",
         raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE, "Content-Length: -1"),
         400),
    case("content-length-two-values",
         raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE, "Content-Length: 2, 3",
                  body=b"{}"), 400),
    case("content-length-hex", raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE,
                                        "Content-Length: 0x2", body=b"{}"), 400),
    case("content-length-twice-different",
         raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE, "Content-Length: 2",
                  "Content-Length: 3", body=b"{}"), 400),
    case("chunk-size-not-hex",
         raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked", body=b"zz\r\n{}\r\n0\r\n\r\n"), 400),
    case("chunk-size-overflow",
         raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked", body=b"ffffffffffffffffff\r\n{}\r\n"), (400, 413)),
    # A chunk's extension and the trailer are held whole before Beast parses them, and count
    # against neither the header nor the body limit: the read buffer's bound answers (it grew
    # at line rate until --header-timeout).
    case("chunk-extension-endless",
         raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked", body=b"1;a=" + b"a" * 200_000), 400),
    case("chunk-trailer-endless",
         raw_head("POST /v1/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked", body=b"0\r\nX-T: " + b"a" * 200_000), 400),
    case("header-without-colon",
         raw_head("GET /v1/models HTTP/1.1", "Host: x", AUTH_LINE, "NoColonHere"), 400),
    case("header-name-with-space",
         raw_head("GET /v1/models HTTP/1.1", "Host: x", AUTH_LINE, "Bad Name: v"), 400),
    case("header-nul-byte",
         raw_head("GET /v1/models HTTP/1.1", "Host: x", AUTH_LINE, "X-A: a\x00b"), 400),
    case("request-line-lowercase-method", raw_head("get /v1/models HTTP/1.1", "Host: x",
                                                   AUTH_LINE), (400, 404, 405)),
    case("request-line-extra-space", raw_head("GET  /v1/models HTTP/1.1", "Host: x", AUTH_LINE),
         400),
    case("request-line-no-version", raw_head("GET /v1/models", "Host: x", AUTH_LINE), 400),
    case("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    case("url-over-16KB", raw_head("GET /v1/models?" + "a" * (17 << 10) + " HTTP/1.1", "Host: x"),
         431),
]


CASES = [
    # The body is not a JSON object.
    case("broken-json", post(CHAT, '{"messages": [{"role": "user", "content": "hi"}'), 400),
    case("trailing-garbage", post(CHAT, chat_json('"n": 1') + " trailing"), 400),
    case("empty-body", post(CHAT, b""), 400),
    case("json-array", post(CHAT, '[{"role": "user", "content": "hi"}]'), 400),
    case("json-string", post(CHAT, '"hello"'), 400),
    case("invalid-utf8-in-string",
         post(CHAT, b'{"messages":[{"role":"user","content":"hi \xff\xfe \xc3\x28"}],"max_tokens":4}'),
         400, (None, "messages[0].content", "messages")),
    case("lone-surrogate-escape", post(CHAT, chat_json('"user": "\\ud800"')), 400, (None, "user")),
    # Wrong types.
    case("temperature-string", post(CHAT, chat(temperature="hot")), 400, "temperature"),
    case("temperature-nan-string", post(CHAT, chat(temperature="NaN")), 400, "temperature"),
    case("temperature-infinity-literal", post(CHAT, chat_json('"temperature": Infinity')), 400,
         (None, "temperature")),
    case("top-p-string", post(CHAT, chat(top_p="0.9")), 400, "top_p"),
    case("n-float", post(CHAT, chat(n=1.5)), 400, "n"),
    case("max-tokens-string", post(CHAT, chat(max_tokens="4")), 400, "max_tokens"),
    case("max-tokens-float", post(CHAT, chat_json('"max_tokens": 4.5')), 400, "max_tokens"),
    case("stop-number", post(CHAT, chat(stop=5)), 400, "stop"),
    case("stop-array-of-numbers", post(CHAT, chat(stop=[1, 2])), 400, "stop"),
    case("stop-empty-string", post(CHAT, chat(stop="")), 400, "stop"),
    case("seed-string", post(CHAT, chat(seed="42")), 400, "seed"),
    case("seed-float", post(CHAT, chat(seed=1.5)), 400, "seed"),
    case("stream-string", post(CHAT, chat(stream="yes")), 400, "stream"),
    case("messages-string", post(CHAT, {"messages": "hi", "max_tokens": 4}), 400, "messages"),
    case("messages-object", post(CHAT, {"messages": {"role": "user", "content": "hi"}}), 400,
         "messages"),
    case("messages-missing", post(CHAT, {"max_tokens": 4}), 400, "messages"),
    case("logit-bias-array", post(CHAT, chat(logit_bias=[1, 2])), 400, "logit_bias"),
    case("logit-bias-key-not-a-token", post(CHAT, chat(logit_bias={"hello": 1})), 400,
         "logit_bias"),
    case("logit-bias-value-string", post(CHAT, chat(logit_bias={"5": "up"})), 400, "logit_bias"),
    case("logprobs-string", post(CHAT, chat(logprobs="yes")), 400, "logprobs"),
    case("top-logprobs-string", post(CHAT, chat(logprobs=True, top_logprobs="3")), 400,
         "top_logprobs"),
    case("model-number", post(CHAT, chat(model=5)), 400, "model"),
    # Numbers out of range.
    case("temperature-1e400", post(CHAT, chat_json('"temperature": 1e400')), 400,
         ("temperature", None)),
    case("top-p-minus-1e400", post(CHAT, chat_json('"top_p": -1e400')), 400, ("top_p", None)),
    case("temperature-1e20", post(CHAT, chat(temperature=1e20)), 400, "temperature"),
    case("temperature-negative", post(CHAT, chat(temperature=-0.5)), 400, "temperature"),
    case("top-p-zero", post(CHAT, chat(top_p=0)), 400, "top_p"),
    case("top-p-above-one", post(CHAT, chat(top_p=1.5)), 400, "top_p"),
    case("max-tokens-1e20", post(CHAT, chat_json('"max_tokens": 1e20')), 400, "max_tokens"),
    case("max-tokens-huge-integer", post(CHAT, chat_json('"max_tokens": 99999999999999999999999')),
         400, "max_tokens"),
    case("max-tokens-negative", post(CHAT, chat(max_tokens=-5)), 400, "max_tokens"),
    case("max-tokens-zero", post(CHAT, chat(max_tokens=0)), 400, "max_tokens"),
    case("max-tokens-above-context", post(CHAT, chat(max_tokens=5000)), 400, "max_tokens"),
    case("n-zero", post(CHAT, chat(n=0)), 400, "n"),
    case("n-negative", post(CHAT, chat(n=-1)), 400, "n"),
    case("seed-above-uint64", post(CHAT, chat_json('"seed": 18446744073709551616')), 400, "seed"),
    case("logit-bias-value-500", post(CHAT, chat(logit_bias={"5": 500})), 400, "logit_bias"),
    case("logit-bias-token-outside-vocabulary", post(CHAT, chat(logit_bias={"99999999": 1})), 400,
         "logit_bias"),
    case("top-logprobs-50", post(CHAT, chat(logprobs=True, top_logprobs=50)), 400, "top_logprobs"),
    # Messages.
    case("messages-empty", post(CHAT, {"messages": [], "max_tokens": 4}), 400, "messages"),
    case("message-not-an-object", post(CHAT, {"messages": ["hi"], "max_tokens": 4}), 400,
         "messages[0]"),
    case("message-without-role", post(CHAT, {"messages": [{"content": "hi"}], "max_tokens": 4}),
         400, "messages[0].role"),
    case("message-unknown-role",
         post(CHAT, {"messages": [{"role": "wizard", "content": "hi"}], "max_tokens": 4}), 400,
         "messages[0].role"),
    case("content-number", post(CHAT, {"messages": [{"role": "user", "content": 5}]}), 400,
         "messages[0].content"),
    case("content-image-url",
         post(CHAT, {"messages": [{"role": "user", "content": [
             {"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}],
             "max_tokens": 4}),
         400, "messages[0].content"),
    case("prompt-longer-than-context-chat", post(CHAT, chat(LONG_TEXT)), 400, "messages",
         "context_length_exceeded"),
    # Parameters that only make sense together.
    case("stream-options-without-stream",
         post(CHAT, chat(stream_options={"include_usage": True})), 400, "stream_options"),
    case("stream-options-not-an-object", post(CHAT, chat(stream=True, stream_options=5)), 400,
         "stream_options"),
    case("top-logprobs-without-logprobs", post(CHAT, chat(top_logprobs=3)), 400, "top_logprobs"),
    # Completions.
    case("completions-echo", post(COMPLETIONS, completion(echo=True)), 400, "echo"),
    case("completions-best-of-2", post(COMPLETIONS, completion(best_of=2)), 400, "best_of"),
    case("completions-empty-prompt", post(COMPLETIONS, completion(prompt="")), 400, "prompt"),
    case("completions-empty-token-list", post(COMPLETIONS, completion(prompt=[])), 400, "prompt"),
    case("completions-negative-token-id", post(COMPLETIONS, completion(prompt=[1, -5, 3])), 400,
         "prompt"),
    case("completions-token-id-outside-vocabulary",
         post(COMPLETIONS, completion(prompt=[1, 99999999])), 400, "prompt"),
    case("completions-prompt-number", post(COMPLETIONS, completion(prompt=5)), 400, "prompt"),
    case("completions-logprobs-boolean", post(COMPLETIONS, completion(logprobs=True)), 400,
         "logprobs"),
    case("completions-prompt-longer-than-context", post(COMPLETIONS, completion(prompt=LONG_TEXT)),
         400, "prompt", "context_length_exceeded"),
    # Model, route, method, key.
    case("unknown-model", post(CHAT, chat(model="gpt-9")), 404, "model", "model_not_found"),
    case("unknown-route", post("/v1/nope", chat()), 404),
    case("wrong-method", http_request("GET", CHAT), 405, headers={"allow": "POST"}),
    case("wrong-method-models", http_request("DELETE", "/v1/models"), 405,
         headers={"allow": "GET"}),
    case("missing-api-key", post(CHAT, chat(), key=None), 401, None, "invalid_api_key"),
    case("wrong-api-key", post(CHAT, chat(), key="sk-wrong"), 401, None, "invalid_api_key"),
    case("api-key-without-bearer",
         post(CHAT, chat(), key=None, headers={"Authorization": KEY}), 401, None,
         "invalid_api_key"),
    # The transport's own limits and HTTP errors.
    case("body-10MB",
         post(CHAT, '{"messages":[{"role":"user","content":"' + "a" * (10 << 20) + '"}]}'), 413),
    case("body-10MB-chunked",
         b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
         + KEY.encode() + b"\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n"
         + b"".join(b"10000\r\n" + b" " * 0x10000 + b"\r\n" for _ in range(160)) + b"0\r\n\r\n",
         413),
    case("header-over-16KB", post(CHAT, chat(), headers={"X-Padding": "a" * (17 << 10)}), 431),
    case("bad-request-line", b"HELLO THERE\r\n\r\n", 400),
    case("bad-http-version", b"GET /v1/models HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 400),
    case("bad-content-length",
         b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: many\r\n\r\n",
         400),
    case("tls-hello-on-plain-port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(64),
         400),
    # JSON nested past the parser's bound (128 levels): refused before anything walks it. Deep
    # enough values overflowed the stack of whichever thread copied them.
    case("content-nested-300000-deep",
         post(CHAT, '{"messages":[{"role":"user","content":' + nested(300000, "") + '}]}'), 400,
         None, says="128 levels"),
    # The body's object, messages' array and the message's object are 3 levels of the 128.
    case("body-nested-129-deep",
         post(CHAT, '{"messages":[{"role":"user","content":' + nested(126) + '}]}'), 400, None,
         says="128 levels"),
    case("body-nested-128-deep-is-parsed",
         post(CHAT, '{"messages":[{"role":"user","content":' + nested(125) + '}]}'), 400,
         "messages[0].content"),
    case("stop-nested-300000-deep",
         post(CHAT, chat_json('"stop": ' + nested(300000))), 400, None, says="128 levels"),
    case("logit-bias-nested-deep", post(CHAT, chat_json('"logit_bias": {"a":' + nested(5000) + "}")),
         400, None, says="128 levels"),
    case("prompt-nested-300000-deep", post(COMPLETIONS, '{"prompt":' + nested(300000) + "}"), 400,
         None, says="128 levels"),
    case("objects-nested-100000-deep", post(COMPLETIONS, '{"a":' * 100000 + "1" + "}" * 100000),
         400, None, says="128 levels"),
    case("brackets-in-strings-do-not-count",
         post(CHAT, chat(stop="[" * 1000, logit_bias=5)), 400, "logit_bias"),
    case("tokenize-nested-deep", post("/tokenize", '{"prompt":' + nested(300000) + "}"), 400, None,
         says="128 levels"),
    case("detokenize-nested-deep", post("/detokenize", '{"tokens":' + nested(300000) + "}"), 400,
         None, says="128 levels"),
    case("tgi-parameters-stop-nested-deep",
         post("/generate", '{"inputs":"hi","parameters":{"stop":' + nested(300000) + "}}"), 422,
         tgi=True, says="128 levels"),
    case("tgi-stream-inputs-nested-deep", post("/generate_stream", '{"inputs":' + nested(300000) + "}"),
         422, tgi=True, says="128 levels"),
    # Tools that cannot be used, and OpenAI's deprecated function fields: named, not ignored.
    case("tools-not-a-list", post(CHAT, chat(tools="f")), 400, "tools"),
    # A number where a string belongs, in fields once read with nlohmann's value(): it threw out
    # of the decoder and the HTTP thread, and the process ended.
    case("tool-type-number", post(CHAT, chat(tools=[{"type": 1, "function": {"name": "f"}}])),
         400, "tools[0]"),
    case("responses-content-part-type-number", post("/v1/responses", {"input": [
        {"role": "user", "content": [{"type": 1, "text": "x"}]}]}), 400, "input[0].content[0]"),
    case("tool-choice-without-tools", post(CHAT, chat(tool_choice="auto")), 400, "tool_choice"),
    case("tool-choice-required-without-tools", post(CHAT, chat(tool_choice="required")), 400,
         "tool_choice"),
    case("tool-choice-unknown", post(CHAT, chat(tools=[{"type": "function", "function": {
        "name": "f"}}], tool_choice="sometimes")), 400, "tool_choice"),
    case("functions", post(CHAT, chat(functions=[{"name": "f", "parameters": {}}])), 400,
         "functions", "unsupported_parameter"),
    case("function-call", post(CHAT, chat(function_call="auto")), 400, "function_call",
         "unsupported_parameter"),
    # Structured output that cannot be had: named, never ignored (tests/api/test_structured_output.py
    # has the rest).
    case("response-format-string", post(CHAT, chat(response_format="json")), 400,
         "response_format"),
    case("response-format-unknown-type", post(CHAT, chat(response_format={"type": "xml"})), 400,
         "response_format"),
    case("response-format-unsupported-keyword",
         post(CHAT, chat(response_format={"type": "json_schema", "json_schema": {
             "name": "x", "schema": {"type": "integer", "maximum": 5}}})), 400, "response_format",
         says="'maximum' is not supported"),
    case("completions-guided-regex-unclosed", post(COMPLETIONS, completion(guided_regex="(a")),
         400, "guided_regex", says="expected ')'"),
    case("guided-grammar-not-a-string", post(CHAT, chat(guided_grammar=5)), 400, "guided_grammar"),
    # A 540-byte pattern asking for 60,000 rules, and a schema for ~58,000 (each bound of a
    # repetition is a rule; strings of one length share theirs): refused, not built to gigabytes.
    case("guided-regex-too-large", post(CHAT, chat(guided_regex="a{0,1000}" * 60)), 400,
         "guided_regex", says="too large"),
    case("response-format-schema-too-large", post(CHAT, chat(response_format={
        "type": "json_schema", "json_schema": {"name": "x", "schema": {
            "type": "object", "properties": {
                f"p{i}": {"type": "string", "maxLength": 1000 - i} for i in range(60)}}}})),
         400, "response_format", says="too large"),
    case("completions-suffix", post(COMPLETIONS, completion(suffix="!")), 400, "suffix"),
    # OpenAI: only an assistant's turn may go without content.
    case("user-content-null", post(CHAT, {"messages": [{"role": "user", "content": None}]}), 400,
         "messages[0].content"),
    case("user-content-missing", post(CHAT, {"messages": [{"role": "user"}]}), 400,
         "messages[0].content"),
    case("system-content-null",
         post(CHAT, {"messages": [{"role": "system", "content": None},
                                  {"role": "user", "content": "hi"}]}), 400, "messages[0].content"),
    case("developer-content-null",
         post(CHAT, {"messages": [{"role": "developer", "content": None},
                                  {"role": "user", "content": "hi"}]}), 400, "messages[0].content"),
    # RFC 9112 framing: a Transfer-Encoding must end in chunked, the only coding understood, and
    # never comes with a Content-Length (the ambiguity request smuggling lives on).
    case("te-gzip-with-content-length",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: gzip", "Content-Length: %d" % len(SMALL_CHAT),
                  body=SMALL_CHAT), 400, says="Transfer-Encoding"),
    case("te-identity-with-content-length",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: identity", "Content-Length: %d" % len(SMALL_CHAT),
                  body=SMALL_CHAT), 400, says="Transfer-Encoding"),
    case("te-identity-alone",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: identity", body=SMALL_CHAT), 400, says="chunked"),
    case("te-gzip-before-chunked",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n"), 501, says="gzip"),
    case("te-gzip-line-then-chunked-line",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: gzip", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
         501, says="gzip"),
    case("te-chunked-twice",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked, chunked", body=b"0\r\n\r\n"), 400),
    case("te-chunked-with-content-length",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked", "Content-Length: 5", body=b"0\r\n\r\n"), 400),
    case("te-chunked-then-gzip",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked, gzip", body=b"0\r\n\r\n"), 400, says="chunked"),
    case("te-in-http-1.0",
         raw_head("POST /v1/chat/completions HTTP/1.0", "Host: x", AUTH_LINE,
                  "Transfer-Encoding: chunked", body=b"0\r\n\r\n"), 400),
    case("two-authorization-headers",
         raw_head("GET /v1/models HTTP/1.1", "Host: x", "Authorization: Bearer sk-wrong",
                  AUTH_LINE), 400, says="authorization"),
    case("two-host-headers",
         raw_head("GET /v1/models HTTP/1.1", "Host: x", "Host: y", AUTH_LINE), 400, says="host"),
    case("two-content-type-headers",
         raw_head("POST /v1/chat/completions HTTP/1.1", "Host: x", AUTH_LINE,
                  "Content-Type: application/json", "Content-Type: text/plain",
                  "Content-Length: %d" % len(SMALL_CHAT), body=SMALL_CHAT), 400,
         says="content-type"),
    case("http-1.1-without-host", raw_head("GET /v1/models HTTP/1.1", AUTH_LINE), 400,
         says="Host"),
    case("asterisk-target-on-get", raw_head("GET * HTTP/1.1", "Host: x", AUTH_LINE), 400),
    case("authority-form-target", raw_head("GET 127.0.0.1:80 HTTP/1.1", "Host: x", AUTH_LINE),
         400, says="target"),
    case("ftp-absolute-target",
         raw_head("GET ftp://x/v1/models HTTP/1.1", "Host: x", AUTH_LINE), 400, says="target"),
    case("absolute-target-to-unknown-path",
         raw_head("GET http://127.0.0.1/v1/nope HTTP/1.1", "Host: x", AUTH_LINE), 404),
    *MORE_CASES,
]


# --- the server --------------------------------------------------------------------------------

class LiveServer:
    """The server under test, replaced by a fresh one when a request kills it."""

    def __init__(self):
        self.server = Server(FLAGS)
        self.crashes = []  # (case, exit status, last log lines)

    @property
    def port(self):
        return self.server.port

    def died(self, case_id, wait_s):
        """True (and a fresh server started) when the process has exited, waiting up to
        `wait_s` for it to."""
        deadline = time.monotonic() + wait_s
        while self.server.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.server.process.poll() is None:
            return False
        dead = self.server
        self.crashes.append((case_id, dead.process.returncode, "".join(dead.log[-5:])))
        dead.stop()
        self.server = Server(FLAGS)
        return True

    def stop(self):
        self.server.stop()


@pytest.fixture(scope="module")
def server():
    live = LiveServer()
    yield live
    live.stop()
    assert live.server.process.returncode == 0, "troupe serve exited with %s:\n%s" % (
        live.server.process.returncode, "".join(live.server.log[-30:]))


def check_error_body(body, param, code):
    data = json.loads(body)
    assert isinstance(data, dict) and list(data) == ["error"], data
    error = data["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str), error
    if param is not ANY:
        allowed = param if isinstance(param, tuple) else (param,)
        assert error["param"] in allowed, "param %r, expected %s: %s" % (
            error["param"], " or ".join(map(repr, allowed)), error["message"])
    if code is not ANY:
        assert error["code"] == code, "code %r, expected %r: %s" % (
            error["code"], code, error["message"])
    return error["message"]


@pytest.mark.parametrize("case", CASES)
def test_malformed_request(server, case, request):
    case_id = request.node.callspec.id
    try:
        status, headers, body = exchange(server.port, case.request)
    except (NoResponse, OSError) as e:
        crashed = server.died(case_id, wait_s=5)
        pytest.fail("no response (%s)%s" % (e, "; the server died:\n" + server.crashes[-1][2]
                                             if crashed else ""))
    if server.died(case_id, wait_s=0):
        pytest.fail("the server died after answering:\n" + server.crashes[-1][2])
    allowed = case.status if isinstance(case.status, tuple) else (case.status,)
    assert status in allowed, body[:500]
    assert headers.get("content-type", "").startswith("application/json"), headers
    if case.tgi:
        error = json.loads(body)
        assert set(error) == {"error", "error_type"}, error
        message = error["error"]
    else:
        message = check_error_body(body, case.param, case.code)
    assert case.says.lower() in message.lower(), message
    for name, value in case.headers.items():
        assert name in headers, "no %s header in %s" % (name, headers)
        assert value in [v.strip() for v in headers[name].split(",")], headers[name]


def answer_of(port, request):
    status, _, body = exchange(port, request)
    return status, json.loads(body)


def test_valid_requests_the_table_refuses_neighbours_of(server):
    """The accepted side of the table's lines: an absolute-form target (RFC 9112: a server
    must accept it), empty tool lists, response_format text, an assistant turn without content,
    and fields the server does not know (ignored as vLLM ignores them, and named in the log)."""
    body = json.dumps(chat()).encode()
    absolute = raw_head("POST http://127.0.0.1:%d/v1/chat/completions?x=1 HTTP/1.1" % server.port,
                        "Host: 127.0.0.1", AUTH_LINE, "Content-Type: application/json",
                        "Content-Length: %d" % len(body), body=body)
    status, answer = answer_of(server.port, absolute)
    assert status == 200 and answer["object"] == "chat.completion", answer
    for fields in ({"tools": [], "functions": []}, {"response_format": {"type": "text"}},
                   {"messages": [{"role": "user", "content": "Hi."},
                                 {"role": "assistant", "content": None},
                                 {"role": "user", "content": "Say hi."}]}):
        status, answer = answer_of(server.port, post(CHAT, chat(**fields)))
        assert status == 200, (fields, answer)
    status, answer = answer_of(server.port, post(CHAT, chat(store=True, zzz_unknown={"a": 1})))
    assert status == 200, answer
    warning = [line for line in server.server.log if answer["id"] in line and "ignored" in line]
    assert warning and "store" in warning[0] and "zzz_unknown" in warning[0], warning


def test_slow_client_gets_408_while_others_are_served(server):
    """One byte a second: the request cannot arrive within --header-timeout 2, so the server
    answers 408 and closes; a normal request on another connection is served meanwhile."""
    request = http_request("POST", CHAT, chat())
    normal = {}

    def normal_request():
        normal["response"] = exchange(server.port, http_request("POST", CHAT, chat()))
        normal["at"] = time.monotonic()

    slow = socket.create_connection(("127.0.0.1", server.port))
    started = time.monotonic()
    other = threading.Thread(target=normal_request, daemon=True)
    try:
        for i in range(len(request)):
            try:
                slow.sendall(request[i:i + 1])
            except OSError:
                break  # closed by the server: its answer is read below
            if i == 0:
                other.start()
            readable, _, _ = select.select([slow], [], [], 1.0)
            if readable:
                break
            assert time.monotonic() - started < 15, "no answer to a request trickling for 15 s"
        status, _, body = read_response(slow, time.monotonic() + 10)
        answered_at = time.monotonic()
    finally:
        slow.close()
    assert status == 408, body
    check_error_body(body, None, ANY)
    assert 1.5 <= answered_at - started < 6, "408 after %.1f s with --header-timeout 2" % (
        answered_at - started)
    other.join(30)
    assert "response" in normal, "the normal request got no answer"
    assert normal["response"][0] == 200, normal["response"][2][:500]
    assert normal["at"] < answered_at, "the normal request waited for the slow one"


def test_server_survived_the_table(server):
    assert not server.crashes, "requests killed the server:\n" + "\n".join(
        "  %s: exit %s\n%s" % crash for crash in server.crashes)
    status, _, body = exchange(server.port, http_request("POST", CHAT, chat()))
    assert status == 200, body[:500]
    answer = json.loads(body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert server.server.process.poll() is None


def test_a_client_that_stops_reading_its_answer_is_cut_off():
    """A client that takes none of a large answer (its receive window closed) is cut after
    --idle-timeout: its connection and its answer held in memory stayed until it read again,
    whenever that was. The server serves on."""
    live = Server(extra_args=["--idle-timeout", "2", "--max-send-buffer", "64KiB"])
    try:
        # 512 embeddings: megabytes of JSON, past both sockets' buffers.
        request = http_request("POST", "/v1/embeddings", {"input": ["hi"] * 512})
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", live.port))
        try:
            sock.sendall(request)
            # The server's log line that it cut the connection.
            poll("the cut-off", lambda: any("took none of its answer" in line
                                            for line in live.log), deadline_s=60)
        finally:
            sock.close()
        status, _, body = exchange(live.port, http_request("POST", CHAT, chat()))
        assert status == 200, body[:300]
    finally:
        live.stop()
    assert live.process.returncode == 0, "".join(live.log[-30:])


def test_a_head_request_gets_the_head_alone_and_the_next_answer_stays_in_step(server):
    """HEAD is GET without the body: the client reads no body after a HEAD's head, so body bytes
    there would be taken for the start of the next response on the connection."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(http_request("HEAD", "/v1/models") + http_request("GET", "/v1/models"))
        deadline = time.monotonic() + 30
        data = b""
        while data.count(b"\r\n\r\n") < 2 or not data.rstrip().endswith(b"}"):
            chunk = recv_until(sock, deadline)
            assert chunk, "connection closed after %r" % data[:300]
            data += chunk
    finally:
        sock.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"Content-Length: " in head and b"Content-Length: 0\r\n" not in head + b"\r\n", head
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:200]  # the GET's answer, right after
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["object"] == "list"
