"""Closed-loop streaming users against a troupe front: `level` of them each stream one
completion after another (the next when the last ends); the others wait, woken when the level
changes. Every request's outcome is kept: when it started, its time to first token, the HTTP
status, completion tokens (from the usage chunk), finish reason and any error. Used by the
autoscaler's end-to-end test and its benchmark."""
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Outcome:
    start: float
    ttft: float | None
    status: int
    tokens: int
    finish: str | None
    error: str


class StreamingUsers:
    def __init__(self, base_url, users, max_tokens, prompt="User {i} writes a story:"):
        self.base_url, self.max_tokens, self.prompt = base_url, max_tokens, prompt
        self.level, self.stopping = 0, False
        self.outcomes = []
        self.changed = threading.Condition()
        self.threads = [threading.Thread(target=self.user, args=(i,), daemon=True)
                        for i in range(users)]
        for t in self.threads:
            t.start()

    def set_level(self, level):
        with self.changed:
            self.level = level
            self.changed.notify_all()

    def wait_for_outcomes(self, count, timeout=300):
        """Waits until `count` requests have ended in all."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.outcomes) >= count, timeout):
                raise AssertionError(f"only {len(self.outcomes)} of {count} requests ended")

    def finish(self):
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        for t in self.threads:
            t.join(timeout=600)

    def user(self, i):
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.stopping or i < self.level)
                if self.stopping:
                    return
            self.stream_once(i)

    def stream_once(self, i):
        body = {"prompt": self.prompt.format(i=i), "max_tokens": self.max_tokens,
                "temperature": 0, "ignore_eos": True, "stream": True,
                "stream_options": {"include_usage": True}}
        request = urllib.request.Request(self.base_url + "/v1/completions",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        start, ttft, status, tokens, finish, error = time.monotonic(), None, 0, 0, None, ""
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                status = response.status
                for raw in response:
                    line = raw.decode().strip()
                    if not line.startswith("data: {"):
                        continue
                    if ttft is None:
                        ttft = time.monotonic() - start
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        error = json.dumps(chunk["error"])
                    if chunk.get("usage"):
                        tokens = chunk["usage"]["completion_tokens"]
                    for choice in chunk.get("choices", []):
                        finish = choice.get("finish_reason") or finish
        except urllib.error.HTTPError as e:
            status, error = e.code, e.read().decode()
        except Exception as e:  # a dropped connection is a lost request
            error = repr(e)
        with self.changed:
            self.outcomes.append(Outcome(start, ttft, status, tokens, finish, error))
            self.changed.notify_all()
