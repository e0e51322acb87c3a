"""One connection, many requests, against the real `troupe serve`: pipelined requests (HTTP/1.1
lets a client send the next before the answer to the last) are answered in order, and bytes that
arrive while a generation runs (the next request, or a stray CRLF after a body) never cost the
answer in progress."""
import json
import socket

import pytest

from conftest import Server
from helpers import poll
from raw_http import Connection

KEY = "sk-test"


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()
    assert s.process.returncode == 0, "".join(s.log[-30:])


def request(path, body, stream=False):
    payload = json.dumps(dict(body, stream=stream)).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload


def completion(prompt, max_tokens, stream=False):
    return request("/v1/completions", {"prompt": prompt, "max_tokens": max_tokens,
                                       "ignore_eos": True, "temperature": 0}, stream)


def usage(body):
    return json.loads(body)["usage"]["completion_tokens"]


def test_pipelined_requests_are_answered_in_order(server):
    conn = Connection(server.port)
    try:
        conn.send(completion("Once upon a time", 12) + completion("The sky is", 3) +
                  request("/tokenize", {"prompt": "Hello"}))
        status, _, first = conn.read_response()
        assert status == 200 and usage(first) == 12, first
        status, _, second = conn.read_response()
        assert status == 200 and usage(second) == 3, second
        status, _, third = conn.read_response()
        assert status == 200 and json.loads(third)["count"] >= 1, third
    finally:
        conn.close()


def sse_until_done(conn):
    """Reads a stream's events to its end: their text, and whether [DONE] came."""
    text, done = "", False
    while chunk := conn.read_chunk():
        for line in chunk.decode().splitlines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                choices = json.loads(line[6:]).get("choices") or [{}]
                text += choices[0].get("text") or ""
    return text, done


def test_a_stray_crlf_during_a_stream_costs_nothing(server):
    conn = Connection(server.port)
    try:
        conn.send(completion("Once upon a time", 24, stream=True))
        status, headers = conn.read_head()
        assert status == 200 and headers["content-type"].startswith("text/event-stream")
        first = conn.read_chunk()  # the generation is running
        assert first.startswith(b"data: ")
        conn.send(b"\r\n")
        _, done = sse_until_done(conn)
        assert done, "the stream did not end with [DONE]"
        # The connection is still good for the next request.
        conn.send(completion("The sky is", 2))
        status, _, body = conn.read_response()
        assert status == 200 and usage(body) == 2, body
    finally:
        conn.close()


def test_a_request_pipelined_behind_a_running_stream_is_answered_after_it(server):
    conn = Connection(server.port)
    try:
        conn.send(completion("Once upon a time", 24, stream=True))
        status, _ = conn.read_head()
        assert status == 200
        conn.read_chunk()
        conn.send(completion("The sky is", 3))
        _, done = sse_until_done(conn)
        assert done, "the stream did not end with [DONE]"
        status, _, body = conn.read_response()
        assert status == 200 and usage(body) == 3, body
    finally:
        conn.close()


def test_a_stream_nobody_reads_is_aborted_at_the_send_buffer_bound():
    """A client that stops reading its stream: past --max-send-buffer unread bytes the server
    aborts the request (logged with its reason, 499 in the request log) and closes the
    connection, rather than piling tokens up in memory until --request-timeout."""
    slow = Server(["--max-send-buffer", "64KiB"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window fills fast
        sock.settimeout(60)
        sock.connect(("127.0.0.1", slow.port))
        body = {"messages": [{"role": "user", "content": "Tell me a long story."}],
                "max_tokens": 1500, "ignore_eos": True, "logprobs": True, "top_logprobs": 20}
        sock.sendall(request("/v1/chat/completions", body, stream=True))
        assert sock.recv(12).startswith(b"HTTP/1.1 200"), "no stream began"
        # ... and nothing more is read until the server has given up on this client.
        for line in ("of its stream unread", "status=499"):
            poll("the log line " + repr(line),
                 lambda: any(line in logged for logged in slow.log), deadline_s=60)
        # The connection was closed: what the kernels held drains, then the end.
        while sock.recv(65536):
            pass
        # And the server goes on serving.
        conn = Connection(slow.port)
        conn.send(completion("The sky is", 2))
        status, _, answer = conn.read_response()
        conn.close()
        assert status == 200 and usage(answer) == 2, answer
    finally:
        sock.close()
        slow.stop()
    assert slow.process.returncode == 0, "".join(slow.log[-30:])
