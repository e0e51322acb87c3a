"""TGI's routes with plain HTTP and SSE parsing: /generate, /generate_stream, /info."""
import http.client
import json
import re

AUTH = {"Authorization": "Bearer sk-test", "Content-Type": "application/json"}


def post(server, path, body, headers=AUTH):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request("POST", path, json.dumps(body), headers)
    response = conn.getresponse()
    return response, response.read()


def sse_events(raw):
    """TGI frames events as 'data:<json>' separated by blank lines."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data:"), block
        events.append(json.loads(block[len("data:"):]))
    return events


def test_generate_greedy_with_details(server):
    body = {"inputs": "The capital of France is", "parameters": {"max_new_tokens": 6, "details": True}}
    response, raw = post(server, "/generate", body)
    assert response.status == 200
    answer = json.loads(raw)
    details = answer["details"]
    assert details["generated_tokens"] == len(details["tokens"]) <= 6
    assert details["finish_reason"] in ("length", "eos_token", "stop_sequence")
    assert all(t["logprob"] <= 0 for t in details["tokens"])
    assert "".join(t["text"] for t in details["tokens"]) == answer["generated_text"]
    # greedy by default: the same answer again
    assert json.loads(post(server, "/generate", body)[1])["generated_text"] == answer["generated_text"]


def test_generate_stream_matches_generate(server):
    params = {"max_new_tokens": 6}
    _, raw = post(server, "/generate", {"inputs": "Once upon a time", "parameters": params})
    whole = json.loads(raw)["generated_text"]
    response, raw = post(server, "/generate_stream", {"inputs": "Once upon a time", "parameters": params})
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    events = sse_events(raw)
    assert [e["index"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["generated_text"] is None for e in events[:-1])
    assert events[-1]["generated_text"] == whole
    assert "".join(e["token"]["text"] for e in events) == whole
    assert events[-1]["details"]["generated_tokens"] == len(events)


def test_stop_sequence(server):
    body = {"inputs": "Count: one, two, three,", "parameters": {"max_new_tokens": 20, "stop": [","],
                                                                 "details": True}}
    answer = json.loads(post(server, "/generate", body)[1])
    assert "," not in answer["generated_text"]
    assert answer["details"]["finish_reason"] == "stop_sequence"


def test_validation_error_is_422_in_tgi_shape(server):
    response, raw = post(server, "/generate", {"inputs": "x", "parameters": {"max_new_tokens": 0}})
    assert response.status == 422
    error = json.loads(raw)
    assert error["error_type"] == "validation" and "max_new_tokens" in error["error"]
    response, raw = post(server, "/generate", {"parameters": {}})
    assert response.status == 422 and "inputs" in json.loads(raw)["error"]


def test_grammar_json_constrains_the_answer(server):
    """TGI's grammar parameter: {"type": "json", "value": schema}: the answer parses and has
    the schema's keys in its order; {"type": "regex", "value": pattern}: it matches whole."""
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                                               "sunny": {"type": "boolean"}},
              "required": ["city", "sunny"], "additionalProperties": False}
    body = {"inputs": "The weather in Rome, as JSON:", "parameters": {
        "max_new_tokens": 60, "grammar": {"type": "json", "value": schema}}}
    response, raw = post(server, "/generate", body)
    assert response.status == 200
    answer = json.loads(json.loads(raw)["generated_text"])
    assert list(answer) == ["city", "sunny"] and isinstance(answer["sunny"], bool)
    response, raw = post(server, "/generate", {"inputs": "Today's date:", "parameters": {
        "max_new_tokens": 20, "grammar": {"type": "regex", "value": r" \d{4}-\d{2}-\d{2}"}}})
    assert response.status == 200
    assert re.fullmatch(r" \d{4}-\d{2}-\d{2}", json.loads(raw)["generated_text"])
    response, raw = post(server, "/generate", {"inputs": "x", "parameters": {
        "grammar": {"type": "regex", "value": "(a"}}})
    assert response.status == 422 and "expected ')'" in json.loads(raw)["error"]


def test_info(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/info", headers=AUTH)
    response = conn.getresponse()
    info = json.loads(response.read())
    assert response.status == 200
    assert info["max_total_tokens"] == 2048
    assert info["model_id"]
