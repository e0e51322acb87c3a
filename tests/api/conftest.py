"""One real `troupe serve` on the default model for the API tests, started once per test file.

It requires API keys (from a keys file): `sk-test` (no limits) and `sk-limited` (2 requests per
minute), so the auth and rate-limit tests share it. Set TROUPE_BIN to the troupe binary.
Server(keys_yaml=...) writes another keys file instead, and Server(keys_yaml=False) runs with no
keys at all; Server(usage_db=...) keeps the ledger at a given path (which outlives the server)
instead of in the server's temporary directory.
"""
import os
import sys
import re
import signal
import subprocess
import tempfile
import threading

# tests/support/raw_http.py and its neighbours are shared by the suites.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

import openai
import pytest

KEYS_FILE = """\
sk-test: {name: test}
sk-limited: {name: limited, rpm: 2}
"""


class Server:
    def __init__(self, extra_args=(), keys_yaml=None, usage_db=None, host="127.0.0.1"):
        self.dir = tempfile.TemporaryDirectory(prefix="troupe-api-")
        keys = os.path.join(self.dir.name, "keys.yaml")
        with open(keys, "w") as f:
            f.write(KEYS_FILE if keys_yaml is None else keys_yaml or "")
        self.usage_db = usage_db or os.path.join(self.dir.name, "usage.db")
        self.log = []
        key_args = [] if keys_yaml is False else ["--api-keys-file", keys]
        cmd = [os.environ["TROUPE_BIN"], "serve", "--host", host, "--port", "0",
               "--kv-cache-memory", "256MiB", "--max-model-len", "2048",
               *key_args, "--usage-db", self.usage_db, *extra_args]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.port = self._wait_for_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_key = "sk-test"
        self.limited_key = "sk-limited"
        # Keep draining the output so the server never blocks on a full pipe.
        threading.Thread(target=self._drain_output, daemon=True).start()

    def _wait_for_port(self):
        timer = threading.Timer(120, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                self.log.append(line)
                match = re.search(r"on http://[^:]+:(\d+)", line)
                if match:
                    return int(match.group(1))
        finally:
            timer.cancel()
        raise RuntimeError("troupe serve did not start:\n" + "".join(self.log))

    def _drain_output(self):
        for line in self.process.stdout:
            self.log.append(line)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.dir.cleanup()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()
    assert s.process.returncode == 0, "troupe serve exited with %s:\n%s" % (
        s.process.returncode, "".join(s.log[-30:]))


@pytest.fixture(scope="module")
def client(server):
    """The official SDK on the server, retries off (a 429 or 5xx must show). A test file may
    define its own (test_openai_sdk counts the calls it makes)."""
    c = openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.api_key, max_retries=0,
                      timeout=300)
    yield c
    c.close()


@pytest.fixture(scope="module")
def model(client):
    return client.models.list().data[0].id
