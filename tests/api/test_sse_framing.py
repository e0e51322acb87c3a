"""Server-sent events on the wire: what `curl -sN` receives from a streamed chat completion is
exactly `data: <json>\\n\\n` events ending with `data: [DONE]\\n\\n`, over chunked transfer
encoding; and a client that hangs up mid-stream makes the server abort its request."""
import json
import re
import socket
import subprocess
import time

CHAT = "/v1/chat/completions"
EVENT = re.compile(rb"data: ([^\n]*)\n\n")


def curl(server, body, *flags):
    """POSTs `body` as JSON with curl; (response head as text, body bytes)."""
    result = subprocess.run(
        ["curl", "-sN", "-D", "/dev/stderr", *flags,
         "-H", "Authorization: Bearer " + server.api_key,
         "-H", "Content-Type: application/json",
         "--data-binary", json.dumps(body), server.base_url + CHAT],
        capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stderr.decode("latin-1"), result.stdout


def head_fields(head):
    """The header fields of the last response head (curl prints every one it gets)."""
    last = head.strip().split("\r\n\r\n")[-1]
    status_line, *lines = last.split("\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return status_line, fields


def split_events(body):
    """The payloads of `data: ...\\n\\n` events; fails unless the body is exactly those."""
    events, at = [], 0
    while at < len(body):
        match = EVENT.match(body, at)
        assert match, "not an SSE event at byte %d: %r" % (at, body[at:at + 120])
        events.append(match.group(1))
        at = match.end()
    return events


def dechunk(raw):
    """Decodes a chunked transfer-coded body, checking its framing; returns the payload."""
    out, at = b"", 0
    while True:
        line_end = raw.index(b"\r\n", at)
        size = int(raw[at:line_end].split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            assert raw[at:] == b"\r\n", "bytes after the last chunk: %r" % raw[at:at + 80]
            return out
        out += raw[at:at + size]
        assert raw[at + size:at + size + 2] == b"\r\n", "a chunk does not end with CRLF"
        at += size + 2


STREAM = {"messages": [{"role": "user", "content": "Count to three."}], "max_tokens": 8,
          "temperature": 0, "stream": True}


def test_stream_is_exactly_sse_events_ending_with_done(server):
    head, body = curl(server, STREAM)
    status_line, fields = head_fields(head)
    assert status_line.split(" ")[1] == "200", head
    assert fields["content-type"][0].split(";")[0] == "text/event-stream", head
    assert [v.lower() for v in fields.get("transfer-encoding", [])] == ["chunked"], head
    assert "content-length" not in fields, head

    events = split_events(body)
    assert len(events) >= 2, body
    assert events[-1] == b"[DONE]" and body.endswith(b"data: [DONE]\n\n"), body[-200:]
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk", chunk
        assert len(chunk["choices"]) == 1 and chunk["choices"][0]["index"] == 0, chunk
    assert len({c["id"] for c in chunks}) == 1, "chunks of one completion carry different ids"
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant", chunks[0]
    reasons = [c["choices"][0]["finish_reason"] for c in chunks]
    assert reasons[-1] in ("stop", "length") and not any(reasons[:-1]), reasons
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text, "the stream carried no text"


def test_chunked_framing_on_the_wire(server):
    """The same stream undecoded (`curl --raw`): well-formed chunks whose payload is again
    exactly the SSE events."""
    head, raw = curl(server, STREAM, "--raw")
    assert "transfer-encoding: chunked" in head.lower(), head
    events = split_events(dechunk(raw))
    assert events[-1] == b"[DONE]"
    assert all(json.loads(e)["object"] == "chat.completion.chunk" for e in events[:-1])


def running_requests(server):
    """troupe_num_requests_running from /metrics (no key needed)."""
    result = subprocess.run(["curl", "-sf", server.base_url + "/metrics"], capture_output=True,
                            text=True, timeout=10)
    assert result.returncode == 0, "GET /metrics failed: %s" % result.stderr
    values = re.findall(r"^troupe_num_requests_running(?:\{[^}]*\})? (\S+)$", result.stdout,
                        re.MULTILINE)
    assert values, "no troupe_num_requests_running in /metrics"
    return sum(float(v) for v in values)


def finished_requests(server):
    """The troupe_request_success_total lines of /metrics."""
    result = subprocess.run(["curl", "-sf", server.base_url + "/metrics"], capture_output=True,
                            text=True, timeout=10)
    return "\n".join(line for line in result.stdout.splitlines()
                     if line.startswith("troupe_request_success_total"))


def aborted_requests(server):
    values = re.findall(r'^troupe_request_success_total\{[^}]*finished_reason="abort"[^}]*\} (\S+)$',
                        finished_requests(server), re.MULTILINE)
    return sum(float(v) for v in values)


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("waited %s s for %s" % (timeout_s, what))
        time.sleep(0.1)


def test_client_leaving_mid_stream_aborts_the_request(server):
    """A client that reads the first event of a 2000-token stream and hangs up: the request
    stops running within seconds (it would run for minutes on 2 cores), and the server
    keeps serving."""
    assert wait_for(lambda: running_requests(server) == 0, 10, "an idle server")
    aborted_before = aborted_requests(server)
    body = json.dumps({"messages": [{"role": "user", "content": "Tell me a long story."}],
                       "max_tokens": 2000, "ignore_eos": True, "stream": True}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + server.api_key.encode() + b"\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                     + body)
        received = b""
        while b"data: " not in received.partition(b"\r\n\r\n")[2]:
            data = sock.recv(65536)
            assert data, "closed before the first event: %r" % received
            received += data
        assert received.startswith(b"HTTP/1.1 200"), received[:300]
        # Running now (the gauge is refreshed twice a second).
        wait_for(lambda: running_requests(server) >= 1, 5, "the stream to count as running")
    finally:
        sock.close()
    left = time.monotonic()
    wait_for(lambda: running_requests(server) == 0, 5,
             "troupe_num_requests_running to drop to 0 after the client left")
    assert time.monotonic() - left < 5

    # The server keeps serving, and the call was recorded as aborted.
    head, body = curl(server, {**STREAM, "max_tokens": 4})
    assert head_fields(head)[0].split(" ")[1] == "200", head
    assert split_events(body)[-1] == b"[DONE]"
    assert server.process.poll() is None
    try:
        wait_for(lambda: aborted_requests(server) >= aborted_before + 1, 5,
                 'troupe_request_success_total{finished_reason="abort"} to count the call')
    except AssertionError as e:
        raise AssertionError("%s; /metrics has:\n%s" % (e, finished_requests(server))) from None
