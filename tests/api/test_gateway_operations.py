"""The gateway's operational flags, against the real `troupe serve`: --max-connections,
--max-waiting (queue full), the graceful drain on SIGTERM, --protect-metrics,
--allowed-origins (CORS), --log-format json, a tokens-per-minute key limit, and the usage ledger
across a restart. Each test starts its own server(s) with the flags it needs."""
import http.client
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import KEYS_FILE, Server
from helpers import (CHAT, call, chat, connect, openai_error, poll, read_raw_answer,
                     retry_after, serving, split_response, start_stream, wait_until_ready)


# --- 1. --max-connections ---------------------------------------------------------------------

def served_connection(server, deadline_s=5):
    """A new kept-alive connection that has been served a GET /health. Retried for a moment:
    the server may not have counted the close of an earlier connection yet."""
    def attempt():
        conn = connect(server, timeout=5)
        try:
            status, headers, body = call(server, "GET", "/health", key=None, conn=conn)
            if status == 200:
                assert headers.get("connection", "").lower() != "close", headers
                return conn
        except (ConnectionError, http.client.HTTPException):
            pass
        conn.close()
        return None
    return poll("a connection to be served", attempt, deadline_s=deadline_s)


def test_max_connections_refuses_the_extra_connection_until_one_closes():
    with serving("--max-connections", "2") as server:
        first = served_connection(server)
        second = served_connection(server)
        try:
            # A third connection is answered 503 at once (it need not send anything) and closed.
            raw = read_raw_answer(server.port)
            assert raw, "the third connection was closed without an answer"
            status, headers, body = split_response(raw)
            assert status == 503, raw
            retry_after(headers)
            error = openai_error(body)
            assert "max-connections" in error["message"], error
            assert error["type"] == "service_unavailable_error", error

            # The two kept-alive connections still work.
            assert call(server, "GET", "/health", key=None, conn=first)[0] == 200
            assert call(server, "GET", "/health", key=None, conn=second)[0] == 200

            # After one closes, a new connection is served (once the server noticed the close).
            first.close()
            served_connection(server).close()
        finally:
            first.close()
            second.close()


# --- 2. --max-waiting: queue full ---------------------------------------------------------------

def test_a_full_waiting_queue_answers_503_overloaded():
    with serving("--max-waiting", "1", "--max-num-seqs", "1") as server:
        count = 6
        barrier = threading.Barrier(count)
        results = [None] * count

        def one(i):
            conn = connect(server, timeout=60)
            try:
                conn.connect()  # connected before the barrier: the requests leave together
                barrier.wait(timeout=10)
                results[i] = call(server, "POST", CHAT, chat(32), conn=conn)
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e
            finally:
                conn.close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=80)
        assert all(isinstance(r, tuple) for r in results), results

        ok = [r for r in results if r[0] == 200]
        refused = [r for r in results if r[0] == 503]
        assert len(ok) + len(refused) == count, [(r[0], r[2][:200]) for r in results]
        assert refused, "no request was refused with a waiting queue of 1: %s" % [
            r[0] for r in results]
        assert ok, "every request was refused"
        for status, headers, body in refused:
            retry_after(headers)
            error = openai_error(body)
            assert error["code"] == "overloaded", error
            assert error["type"] == "service_unavailable_error", error
        for status, headers, body in ok:
            answer = json.loads(body)
            assert answer["usage"]["completion_tokens"] == 32, answer
            assert answer["choices"][0]["finish_reason"] == "length", answer
        # A refused request computed nothing and is charged nothing (it was charged its prompt).
        lines = poll("a log line for each refused request", lambda: (lambda found: found if len(
            found) == len(refused) else None)([line for line in list(server.log)
                                               if "status=503" in line]))
        for line in lines:
            assert "prompt_tokens=0 " in line, line


# --- 3. graceful drain on SIGTERM ---------------------------------------------------------------

def test_sigterm_drains_in_flight_requests_and_refuses_new_ones():
    drain_timeout = 30
    server = Server(["--drain-timeout", str(drain_timeout)])
    stream_conn = connect(server, timeout=60)
    try:
        wait_until_ready(server)
        response = start_stream(stream_conn, CHAT, chat(100, stream=True))
        events = []

        def next_event():
            while True:
                line = response.readline()
                assert line, "the stream ended without [DONE] after %d events" % len(events)
                line = line.strip()
                if line.startswith(b"data: "):
                    events.append(line[6:])
                    return line[6:]

        first = json.loads(next_event())
        assert first["choices"], first

        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()

        def draining_health():
            try:
                status, _, body = call(server, "GET", "/health", key=None, timeout=5)
            except (ConnectionError, http.client.HTTPException) as e:
                pytest.fail("the server stopped answering during the drain "
                            "(listener closed?): %r" % e)
            return status == 503 and json.loads(body)
        health = poll("/health to report draining", draining_health, deadline_s=5)
        assert health["status"] == "draining", health
        assert health["draining"] is True and health["ready"] is False, health
        # Liveness stays 200 while draining: a drain is not a hang to restart.
        status, _, body = call(server, "GET", "/live", key=None, timeout=5)
        assert status == 200 and json.loads(body) == {"status": "alive"}, (status, body)

        # A new generation is refused while the stream is still running.
        status, headers, body = call(server, "POST", CHAT, chat(4), timeout=10)
        assert status == 503, body
        retry_after(headers)
        error = openai_error(body)
        assert error["code"] == "draining", error
        assert server.process.poll() is None, "the server exited with a stream in flight"

        # The stream in flight runs to its end: every token, its finish_reason, then [DONE].
        finish, done, tail, broken = None, False, [], None
        while not done:
            try:
                data = next_event()
            except (AssertionError, ConnectionError, http.client.HTTPException) as e:
                broken = e
                break
            tail = (tail + [data])[-3:]
            if data == b"[DONE]":
                done = True
                break
            chunk = json.loads(data)
            for choice in chunk.get("choices", []):
                finish = choice.get("finish_reason") or finish

        remaining = drain_timeout - (time.monotonic() - signalled)
        try:
            code = server.process.wait(timeout=max(1, remaining))
        except subprocess.TimeoutExpired:
            code = "still running after --drain-timeout"
        story = "stream: %d events, finish_reason %r, [DONE] %s, %s; last events %r; exit %s" % (
            len(events), finish, done, broken or "no read error", tail, code)
        assert done and finish == "length", "the drained stream did not complete: " + story
        assert code == 0, "troupe serve did not exit 0 after the drain: %s\n%s" % (
            story, "".join(server.log[-30:]))
    finally:
        stream_conn.close()
        server.stop()


def test_a_drain_cut_short_by_its_timeout_says_how_many_and_exits_1():
    server = Server(["--drain-timeout", "1"])
    conn = connect(server, timeout=60)
    try:
        wait_until_ready(server)
        response = start_stream(conn, CHAT, chat(1000, stream=True))
        while not response.readline().startswith(b"data: "):
            pass
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        assert code == 1, "".join(server.log[-20:])
        poll("the drain's last log line", lambda: any(
            "drain: --drain-timeout passed with 1 request(s) still running" in line
            for line in server.log), deadline_s=5)
    finally:
        conn.close()
        server.stop()


# --- 4. --protect-metrics -----------------------------------------------------------------------

def test_protect_metrics_requires_a_key_for_metrics_only():
    with serving("--protect-metrics") as server:
        status, _, body = call(server, "GET", "/metrics", key=None)
        assert status == 401, body
        assert openai_error(body)["code"] == "invalid_api_key"
        status, _, body = call(server, "GET", "/metrics", key="sk-wrong")
        assert status == 401, body
        status, headers, body = call(server, "GET", "/metrics", key="sk-test")
        assert status == 200, body
        assert headers["content-type"].startswith("text/plain"), headers
        assert b"# TYPE" in body
        status, _, body = call(server, "GET", "/health", key=None)
        assert status == 200, body
        assert json.loads(body)["status"] == "ok"


def test_metrics_are_open_without_protect_metrics():
    with serving() as server:
        status, _, body = call(server, "GET", "/metrics", key=None)
        assert status == 200, body


# --- 5. CORS --------------------------------------------------------------------------------------

def test_cors_allows_only_the_configured_origin():
    allowed, other = "http://example.com", "http://evil.example.org"
    with serving("--allowed-origins", allowed) as server:
        preflight = {"Origin": allowed, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization, content-type"}
        status, headers, body = call(server, "OPTIONS", CHAT, key=None, headers=preflight)
        assert status == 204, body
        assert body == b""
        assert headers.get("access-control-allow-origin") == allowed, headers
        methods = {m.strip().upper() for m in headers["access-control-allow-methods"].split(",")}
        assert {"POST", "OPTIONS"} <= methods, headers
        allowed_headers = {h.strip().lower()
                           for h in headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed_headers, headers

        status, headers, _ = call(server, "OPTIONS", CHAT, key=None,
                                  headers={**preflight, "Origin": other})
        assert "access-control-allow-origin" not in headers, headers

        status, headers, body = call(server, "POST", CHAT, chat(2), headers={"Origin": other})
        assert status == 200, body
        assert "access-control-allow-origin" not in headers, headers

        status, headers, body = call(server, "POST", CHAT, chat(2), headers={"Origin": allowed})
        assert status == 200, body
        assert headers.get("access-control-allow-origin") == allowed, headers
        assert "origin" in headers.get("vary", "").lower(), headers

        # An error answer carries it too, so that the page can read the error.
        status, headers, body = call(server, "POST", CHAT, chat(2), key="sk-wrong",
                                     headers={"Origin": allowed})
        assert status == 401, body
        assert headers.get("access-control-allow-origin") == allowed, headers


# --- 6. --log-format json -------------------------------------------------------------------------

def request_log_lines(server):
    """The JSON request records in the server's output."""
    records = []
    for line in list(server.log):
        start = line.find("{")
        if start < 0 or '"event"' not in line:
            continue
        record = json.loads(line[start:])
        if record.get("event") == "request":
            records.append(record)
    return records


def test_json_log_has_one_line_per_request():
    with serving("--log-format", "json") as server:
        answers = []
        for max_tokens in (3, 5):
            status, _, body = call(server, "POST", CHAT, chat(max_tokens))
            assert status == 200, body
            answers.append(json.loads(body))

        def both_logged():
            ids = {a["id"] for a in answers}
            records = [r for r in request_log_lines(server) if r.get("id") in ids]
            return records if len(records) >= len(answers) else None
        poll("the request log lines", both_logged, deadline_s=5)
        # A barrier instead of a wait: a later request's line comes after any duplicate of the
        # earlier ones (each is written when its exchange ends).
        status, _, body = call(server, "POST", CHAT, chat(2))
        barrier = json.loads(body)["id"]
        poll("the barrier's log line",
             lambda: any(r.get("id") == barrier for r in request_log_lines(server)), deadline_s=5)
        records = request_log_lines(server)
        for answer in answers:
            mine = [r for r in records if r.get("id") == answer["id"]]
            assert len(mine) == 1, "log lines for %s: %s" % (answer["id"], mine)
            record = mine[0]
            assert record["key"] == "test", record
            assert record["route"] == CHAT, record
            assert record["status"] == 200, record
            assert record["prompt_tokens"] == answer["usage"]["prompt_tokens"], record
            assert record["completion_tokens"] == answer["usage"]["completion_tokens"], record
            assert isinstance(record["ttft_ms"], (int, float)) and record["ttft_ms"] > 0, record
            assert record["latency_ms"] >= record["ttft_ms"], record


# --- 7. tokens per minute -------------------------------------------------------------------------

def test_tokens_per_minute_limit_refuses_with_429():
    tpm = 30
    keys = KEYS_FILE + "sk-tpm: {name: tpm, tpm: %d}\n" % tpm
    with serving(keys_yaml=keys) as server:
        status, _, body = call(server, "POST", CHAT, chat(12), key="sk-tpm")
        assert status == 200, body
        usage = json.loads(body)["usage"]
        assert usage["total_tokens"] > tpm, usage  # the key is now over its minute's budget

        status, headers, body = call(server, "POST", CHAT, chat(4), key="sk-tpm")
        assert status == 429, body
        error = openai_error(body)
        assert error["code"] == "rate_limit_exceeded", error
        assert "tokens per minute" in error["message"], error
        # Refilled at 30/60 tokens a second from below zero: many seconds, within a minute or so.
        assert 2 <= retry_after(headers) <= 120, headers

        # Other keys are not charged for it.
        status, _, body = call(server, "POST", CHAT, chat(2), key="sk-test")
        assert status == 200, body


# --- 8. the usage ledger across a restart -------------------------------------------------------

def usage_rows(db):
    result = subprocess.run([os.environ["TROUPE_BIN"], "usage", "--db", db, "--json"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return {row["key"]: row for row in json.loads(result.stdout)}


def test_usage_ledger_survives_a_restart(tmp_path):
    db = str(tmp_path / "usage.db")
    prompt = completion = 0
    for requests in (2, 1):
        with serving(usage_db=db) as server:
            for _ in range(requests):
                status, _, body = call(server, "POST", CHAT, chat(2))
                assert status == 200, body
                usage = json.loads(body)["usage"]
                prompt += usage["prompt_tokens"]
                completion += usage["completion_tokens"]
    rows = usage_rows(db)
    assert "test" in rows, rows
    assert rows["test"]["requests"] == 3, rows
    assert rows["test"]["prompt_tokens"] == prompt, rows
    assert rows["test"]["completion_tokens"] == completion, rows
