"""GET /metrics (Prometheus text, checked by the real `promtool`) and GET /health, against
`troupe serve`, after a few requests through the official `openai` SDK."""
import http.client
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import openai
import pytest

from conftest import Server

HELLO = [{"role": "user", "content": "Say hello in a few words."}]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def get(server, path, key=None):
    headers = {"Authorization": "Bearer " + key} if key else {}
    request = urllib.request.Request(server.base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def parse(text):
    """Samples as {(name, frozenset of (label, value))}: value."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, "not a Prometheus sample line: %r" % line
        name, labels, value = match.groups()
        samples[(name, frozenset(LABEL.findall(labels or "")))] = float(value)
    return samples


def value(samples, name, **labels):
    """The sum over the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    found = [v for (n, l), v in samples.items() if n == name and want <= set(l)]
    assert found, "no sample %s%s" % (name, labels or "")
    return sum(found)


@pytest.fixture(scope="module")
def traffic(server):
    """A few requests of each kind, then the scrape: (requests that generated, usage sums)."""
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.api_key,
                           max_retries=0, timeout=120)
    model = client.models.list().data[0].id
    usages = [client.chat.completions.create(model=model, messages=HELLO, max_tokens=4).usage,
              client.completions.create(model=model, prompt="The sky is", max_tokens=4).usage]
    chunks = list(client.chat.completions.create(model=model, messages=HELLO, max_tokens=4,
                                                 stream=True,
                                                 stream_options={"include_usage": True}))
    usages.append(chunks[-1].usage)
    bad = openai.OpenAI(base_url=server.base_url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=model, messages=HELLO, max_tokens=2)
    bad.close()
    client.close()
    return len(usages), usages


def scrape(server):
    status, headers, text = get(server, "/metrics")
    assert status == 200, text
    return headers, text


def test_metrics_pass_promtool(server, traffic):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool is missing: run scripts/setup-deps "
                    "(or apt-get install -y --no-install-recommends prometheus)")
    headers, text = scrape(server)
    assert headers["Content-Type"].startswith("text/plain")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_metrics_count_the_requests(server, traffic):
    requests, usages = traffic
    samples = parse(scrape(server)[1])
    assert value(samples, "troupe_time_to_first_token_seconds_count") >= requests
    assert value(samples, "troupe_e2e_request_latency_seconds_count") >= requests
    assert value(samples, "troupe_prompt_tokens_total") >= sum(u.prompt_tokens for u in usages)
    assert value(samples, "troupe_prompt_tokens_total") > 0
    assert value(samples, "troupe_generation_tokens_total") >= sum(
        u.completion_tokens for u in usages)
    finished = (value(samples, "troupe_request_success_total", finished_reason="stop") +
                value(samples, "troupe_request_success_total", finished_reason="length"))
    assert finished >= requests
    assert value(samples, "troupe_http_requests_total", route="/v1/chat/completions",
                 status="200") >= 2
    assert value(samples, "troupe_http_requests_total", route="/v1/completions",
                 status="200") >= 1
    assert value(samples, "troupe_http_requests_total", route="/v1/chat/completions",
                 status="401") >= 1


def test_histograms_are_consistent(server, traffic):
    samples = parse(scrape(server)[1])
    for histogram in ("troupe_time_to_first_token_seconds", "troupe_inter_token_latency_seconds",
                      "troupe_e2e_request_latency_seconds"):
        buckets = sorted(
            (float(dict(labels)["le"]), v) for (name, labels), v in samples.items()
            if name == histogram + "_bucket")
        assert buckets and buckets[-1][0] == float("inf")
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), "%s buckets must be cumulative" % histogram
        assert buckets[-1][1] == value(samples, histogram + "_count")
        assert value(samples, histogram + "_sum") >= 0
    assert value(samples, "troupe_time_to_first_token_seconds_count") > 0
    assert value(samples, "troupe_inter_token_latency_seconds_count") > 0


def test_a_stream_the_client_leaves_is_aborted_and_counted(server, traffic):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = json.dumps({"messages": HELLO, "max_tokens": 400, "stream": True,
                       "ignore_eos": True})
    connection.request("POST", "/v1/chat/completions", body=body,
                       headers={"Authorization": "Bearer " + server.api_key,
                                "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.readline().startswith(b"data: ")
    connection.close()  # the client goes away mid-stream
    # The server notices on its next write; wait for the abort to show (a deadline, not a nap).
    deadline = time.monotonic() + 10
    while True:
        samples = parse(scrape(server)[1])
        aborted = value(samples, "troupe_request_success_total", finished_reason="abort")
        running = value(samples, "troupe_num_requests_running")
        if (aborted >= 1 and running == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert aborted >= 1, "a stream its client left must be recorded as aborted"
    assert running == 0, "the aborted request must stop running"
    # ... and the HTTP status it was left with is 499, as in the request log.
    assert value(samples, "troupe_http_requests_total", route="/v1/chat/completions",
                 status="499") >= 1
    assert value(samples, "troupe_key_requests_total", key="test", status="499") >= 1


def raw_exchange(port, data):
    """Sends raw bytes on a new connection and reads until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_transport_rejections_are_counted(server, traffic):
    before = parse(scrape(server)[1])
    bad_line = raw_exchange(server.port, b"HELLO THERE\r\n\r\n")
    too_big = raw_exchange(server.port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                                        b"Content-Length: 9999999\r\n\r\n")
    huge_head = raw_exchange(server.port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                             b"a" * 20000 + b"\r\n\r\n")
    gzip = raw_exchange(server.port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                                     b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    for answer, status in ((bad_line, b" 400 "), (too_big, b" 413 "), (huge_head, b" 431 "),
                           (gzip, b" 501 ")):
        assert answer.split(b"\r\n")[0].find(status) > 0, answer[:200]
    after = parse(scrape(server)[1])
    for status in ("400", "413", "431", "501"):
        grew = (value(after, "troupe_http_requests_total", route="transport", status=status) -
                sum(v for (n, l), v in before.items() if n == "troupe_http_requests_total" and
                    ("route", "transport") in l and ("status", status) in l))
        assert grew == 1, "transport %s counted %s times" % (status, grew)


def test_refusals_are_not_counted_as_failed_requests(server, traffic):
    before = parse(scrape(server)[1])
    status, _, _ = post_chat(server, {"messages": [{"role": "user", "content": "hi " * 3000}]})
    assert status == 400
    after = parse(scrape(server)[1])
    assert value(after, "troupe_request_success_total", finished_reason="error") == value(
        before, "troupe_request_success_total", finished_reason="error")
    assert value(after, "troupe_request_rejected_total", reason="context_length_exceeded") >= 1
    assert value(after, "troupe_http_requests_total", route="/v1/chat/completions",
                 status="400") >= 1


def post_chat(server, body):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", "/v1/chat/completions", body=json.dumps(body),
                           headers={"Authorization": "Bearer " + server.api_key,
                                    "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response, connection
    finally:
        if not body.get("stream"):
            connection.close()


def test_the_running_gauge_follows_a_request_without_lag(server, traffic):
    """Scraped right after the first token, the request is running; scraped right after its
    [DONE], it is not (the gauge is asked of the node at scrape time, not polled)."""
    status, response, connection = post_chat(
        server, {"messages": HELLO, "max_tokens": 12, "ignore_eos": True, "stream": True})
    try:
        assert status == 200
        assert response.readline().startswith(b"data: ")
        assert value(parse(scrape(server)[1]), "troupe_num_requests_running") == 1
        while response.readline().strip() != b"data: [DONE]":
            pass
        assert value(parse(scrape(server)[1]), "troupe_num_requests_running") == 0
    finally:
        connection.close()


def test_new_series_queue_time_preemptions_keys_connections_process(server, traffic):
    samples = parse(scrape(server)[1])
    assert value(samples, "troupe_request_queue_time_seconds_count") >= traffic[0]
    assert value(samples, "troupe_num_preemptions_total") >= 0
    assert value(samples, "troupe_key_requests_total", key="test", status="200") >= traffic[0]
    assert value(samples, "troupe_key_prompt_tokens_total", key="test") >= sum(
        u.prompt_tokens for u in traffic[1])
    assert value(samples, "troupe_key_requests_total", key="anonymous", status="401") >= 1
    assert value(samples, "troupe_http_open_connections") >= 1  # the scrape's own
    assert value(samples, "process_resident_memory_bytes") > 50e6  # the model is mapped in
    assert value(samples, "process_open_fds") > 3


def test_health_needs_no_key(server):
    status, _, text = get(server, "/health")
    assert status == 200
    assert json.loads(text)["status"] == "ok"


def test_metrics_need_no_key_by_default(server):
    status, _, text = get(server, "/metrics")
    assert status == 200
    assert "troupe_http_requests_total" in text
    # A wrong key is not refused either: /metrics is open.
    assert get(server, "/metrics", key="sk-wrong")[0] == 200


def test_the_connection_limit_and_the_header_timeout_are_counted():
    """--max-connections' 503 and --header-timeout's 408 come from the transport, before any
    route: they are counted under route="transport"."""
    limited = Server(["--max-connections", "2", "--header-timeout", "1"])
    try:
        idle = socket.create_connection(("127.0.0.1", limited.port), timeout=30)
        slow = socket.create_connection(("127.0.0.1", limited.port), timeout=30)
        slow.sendall(b"GET /v1/models HTTP/1.1\r\n")  # and never the rest
        refused = raw_exchange(limited.port, b"")
        assert b" 503 " in refused.split(b"\r\n")[0], refused[:200]
        timed_out = b""
        while chunk := slow.recv(65536):
            timed_out += chunk
        assert b" 408 " in timed_out.split(b"\r\n")[0], timed_out[:200]
        idle.close()
        slow.close()

        def scraped():  # the closes may not be counted yet: the limit still refuses then
            try:
                status, _, text = get(limited, "/metrics")
            except (urllib.error.URLError, ConnectionError):
                return None
            return parse(text) if status == 200 else None
        deadline = time.monotonic() + 10
        while not (samples := scraped()):
            assert time.monotonic() < deadline, "no scrape got through"
            time.sleep(0.05)
        assert value(samples, "troupe_http_requests_total", route="transport", status="503") >= 1
        assert value(samples, "troupe_http_requests_total", route="transport", status="408") == 1
    finally:
        limited.stop()
