"""What a key is charged, against the real `troupe serve`: a client that leaves after its first
token still pays for the prompt the server computed (in the usage ledger and against its
tokens-per-minute limit), a burst of concurrent requests cannot overshoot that limit, since
each reserves its prompt and max_tokens when it is admitted, and a call answered with one
prompt's error does not run (and bill) its other prompts."""
import concurrent.futures
import json
import os
import subprocess

from conftest import KEYS_FILE
from helpers import CHAT, call, connect, poll, serving, start_stream

LONG_PROMPT = "The quick brown fox jumps over the lazy dog. " * 40  # about 400 tokens


def usage_rows(db):
    result = subprocess.run([os.environ["TROUPE_BIN"], "usage", "--db", db, "--json"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return {row["key"]: row for row in json.loads(result.stdout)}


def logged(server, needle):
    return [line for line in list(server.log) if needle in line]


def leave_after_first_token(server, key, path, body):
    """Streams `body`, reads the first event with text in it, and hangs up."""
    conn = connect(server, timeout=60)
    response = start_stream(conn, path, body, key)
    while True:
        line = response.readline()
        assert line, "the stream ended before its first token"
        if line.startswith(b"data:") and b'"text":"' in line.replace(b" ", b""):
            break
    conn.close()


def test_a_client_leaving_after_its_first_token_pays_for_its_prompt(tmp_path):
    keys = KEYS_FILE + "sk-leaver: {name: leaver}\nsk-tgi: {name: tgi-leaver}\n"
    db = str(tmp_path / "usage.db")
    with serving(keys_yaml=keys, usage_db=db) as server:
        leave_after_first_token(server, "sk-leaver", "/v1/completions",
                                {"prompt": LONG_PROMPT, "max_tokens": 500, "ignore_eos": True,
                                 "stream": True})
        leave_after_first_token(server, "sk-tgi", "/generate_stream",
                                {"inputs": LONG_PROMPT, "parameters": {"max_new_tokens": 500}})
        for name in ("leaver", "tgi-leaver"):
            line = poll("the aborted request's log line",
                        lambda: logged(server, "key=%s " % name), deadline_s=30)[0]
            assert "status=499" in line, line
            prompt_tokens = int(line.split("prompt_tokens=")[1].split()[0])
            assert prompt_tokens > 300, line
    rows = usage_rows(db)
    assert rows["leaver"]["prompt_tokens"] > 300, rows
    assert rows["tgi-leaver"]["prompt_tokens"] > 300, rows


def test_a_burst_cannot_overshoot_tokens_per_minute():
    tpm = 300
    keys = KEYS_FILE + "sk-burst: {name: burst, tpm: %d}\n" % tpm
    body = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 100,
            "ignore_eos": True}
    with serving(keys_yaml=keys) as server:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: call(server, "POST", CHAT, body, key="sk-burst"),
                                    range(8)))
        served = [json.loads(b)["usage"]["total_tokens"] for status, _, b in answers
                  if status == 200]
        refused = [status for status, _, _ in answers if status == 429]
        assert len(served) + len(refused) == len(answers), [a[0] for a in answers]
        assert refused, "all 8 were admitted: %s tokens" % sum(served)
        # The last one admitted may take the bucket into debt, by at most its own use.
        assert sum(served) <= tpm + max(served), (served, tpm)


def test_a_call_failing_on_one_prompt_is_answered_at_once_and_bills_none_of_the_others():
    """Not streamed, a completions call whose one prompt is too long is that prompt's 400: the
    other prompt is cancelled, not run to its max_tokens and billed for it."""
    keys = KEYS_FILE + "sk-mixed: {name: mixed}\n"
    with serving(keys_yaml=keys) as server:
        status, _, answer = call(server, "POST", "/v1/completions", {
            "prompt": ["Count to ten.", "word " * 3000], "max_tokens": 400, "ignore_eos": True},
            key="sk-mixed")
        assert status == 400, answer
        assert json.loads(answer)["error"]["code"] == "context_length_exceeded", answer
        line = poll("the call's log line", lambda: logged(server, "key=mixed "), deadline_s=30)[0]
        completion_tokens = int(line.split("completion_tokens=")[1].split()[0])
        assert completion_tokens < 400, line
