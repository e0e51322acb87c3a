"""Helpers the API test files share: a server started for one test, HTTP calls on plain
connections, OpenAI error bodies, and polling a condition with a deadline."""
import contextlib
import http.client
import json
import socket
import time

from conftest import Server

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "Say hello."}]


@contextlib.contextmanager
def serving(*extra_args, **kwargs):
    """A Server with `extra_args`; stopped (SIGTERM) at the end, which must exit 0."""
    server = Server(extra_args, **kwargs)
    try:
        wait_until_ready(server)
        yield server
    finally:
        server.stop()
    assert server.process.returncode == 0, "troupe serve exited with %s:\n%s" % (
        server.process.returncode, "".join(server.log[-30:]))


def wait_until_ready(server, deadline_s=60):
    """Polls /health until it answers 200: the port is open while the model still loads."""
    def ready():
        try:
            return call(server, "GET", "/health", key=None, timeout=5)[0] == 200
        except (ConnectionError, http.client.HTTPException):
            return False
    poll("/health to answer 200", ready, deadline_s=deadline_s)


def connect(server, timeout=60, host="127.0.0.1"):
    return http.client.HTTPConnection(host, server.port, timeout=timeout)


def call(server, method, path, body=None, key="sk-test", headers=None, conn=None, timeout=60,
         host="127.0.0.1"):
    """One request (on `conn` when given, else on a fresh connection to `host`); (status,
    headers with lower-case names, body bytes)."""
    fields = dict(headers or {})
    if key:
        fields["Authorization"] = "Bearer " + key
    payload = None
    if body is not None:
        payload = json.dumps(body)
        fields["Content-Type"] = "application/json"
    own = conn is None
    conn = conn or connect(server, timeout, host)
    try:
        conn.request(method, path, body=payload, headers=fields)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        if own:
            conn.close()


def chat(max_tokens, stream=False, ignore_eos=True):
    return {"messages": HELLO, "max_tokens": max_tokens, "ignore_eos": ignore_eos,
            "stream": stream}


def openai_error(body):
    """The error object of an OpenAI-shaped error body; fails unless it is one."""
    parsed = json.loads(body)
    assert set(parsed) == {"error"}, parsed
    error = parsed["error"]
    assert isinstance(error.get("message"), str) and error["message"], parsed
    assert isinstance(error.get("type"), str) and error["type"], parsed
    assert "param" in error and "code" in error, parsed
    return error


def retry_after(headers):
    assert "retry-after" in headers, headers
    seconds = int(headers["retry-after"])
    assert seconds >= 1, headers
    return seconds


def poll(what, check, deadline_s=10, every_s=0.05):
    """Calls check() until it returns a true value, for at most deadline_s; returns that value."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(every_s)


def read_raw_answer(port, send=b"", timeout=10):
    """Connects, sends `send`, reads until the server closes; the bytes received."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        if send:
            sock.sendall(send)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def start_stream(conn, path, body, key="sk-test"):
    """POSTs `body` (a streaming request) on `conn` and returns the response, once its head
    says 200; its events are then read line by line."""
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200, response.read()[:500]
    return response
