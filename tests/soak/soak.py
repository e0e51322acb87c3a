"""A soak of `troupe serve`: mixed traffic for a while (default 30 minutes) — streams, plain
completions, clients that leave mid-stream, malformed requests, pipelined requests, and readers
that stop reading — with the server's resident memory and open descriptors sampled every few
seconds. Prints, and writes as JSON, the RSS growth per hour (a least-squares slope over the run
after its first fifth, when caches and arenas have warmed), the descriptors at start and end,
and the count of requests that went unanswered or got the wrong answer (must be 0).

Not part of `make test`: tests/soak/run.sh [--minutes N] [--json FILE]."""
import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from raw_http import Connection  # noqa: E402

KEY = "sk-soak"


def http_request(path, body, stream=False, key=KEY):
    payload = json.dumps(dict(body, stream=stream) if isinstance(body, dict) else body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload


def chat(max_tokens, **extra):
    return {"messages": [{"role": "user", "content": random.choice(
        ["Tell me about the sea.", "Write a haiku about rain.", "What is 12 times 7?",
         "Name three colours."])}], "max_tokens": max_tokens, **extra}


class Soak:
    def __init__(self, port):
        self.port = port
        self.counts = {}
        self.lost = []
        self.lock = threading.Lock()

    def connect(self, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(300)
        sock.connect(("127.0.0.1", self.port))
        return sock

    def note(self, kind, ok, detail=""):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if not ok:
                self.lost.append((kind, detail[:300]))

    # --- the scenarios -------------------------------------------------------------------

    def stream(self):
        with self.connect() as sock:
            sock.sendall(http_request("/v1/chat/completions", chat(random.randint(8, 48)), True))
            status, _, body = Connection(None, sock=sock).read_response()
        self.note("stream", status == 200 and body.rstrip().endswith(b"data: [DONE]"),
                  "%s %r" % (status, body[-200:]))

    def completion(self):
        with self.connect() as sock:
            sock.sendall(http_request("/v1/completions", {"prompt": "Once upon a time",
                                                          "max_tokens": random.randint(4, 32)}))
            status, _, body = Connection(None, sock=sock).read_response()
        ok = status == 200 and json.loads(body)["usage"]["completion_tokens"] > 0
        self.note("completion", ok, "%s %r" % (status, body[:200]))

    def abort(self):
        with self.connect() as sock:
            sock.sendall(http_request("/v1/chat/completions", chat(200, ignore_eos=True), True))
            status, _ = Connection(None, sock=sock).read_head()
            self.note("abort", status == 200, str(status))
        # closed after the head: the server must cancel and free the sequence

    MALFORMED = [
        (b"POST /v1/chat/completions HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer " +
         KEY.encode() + b"\r\nContent-Length: 5\r\n\r\n{bad}", 400),
        (http_request("/v1/chat/completions", '{"messages":' + "[" * 200000 + "]" * 200000 + "}"), 400),
        (b"POST /v1/completions HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        (http_request("/v1/chat/completions", chat(4), key="sk-wrong"), 401),
        (http_request("/v1/chat/completions", chat(4, tools=[{"type": "function"}])), 400),
        (b"GARBAGE\r\n\r\n", 400),
    ]

    def malformed(self):
        request, expected = random.choice(self.MALFORMED)
        with self.connect() as sock:
            sock.sendall(request)
            status, _, body = Connection(None, sock=sock).read_response()
        self.note("malformed", status == expected, "%s != %s %r" % (status, expected, body[:200]))

    def pipelined(self):
        with self.connect() as sock:
            sock.sendall(
                http_request("/v1/completions", {"prompt": "A", "max_tokens": 3, "ignore_eos": True}) +
                http_request("/v1/completions", {"prompt": "B", "max_tokens": 5, "ignore_eos": True}))
            reader = Connection(None, sock=sock)
            first, second = reader.read_response(), reader.read_response()
        ok = (first[0] == second[0] == 200 and
              json.loads(first[2])["usage"]["completion_tokens"] == 3 and
              json.loads(second[2])["usage"]["completion_tokens"] == 5)
        self.note("pipelined", ok, "%r %r" % (first[2][:100], second[2][:100]))

    def slow_reader(self):
        sock = self.connect(rcvbuf=4096)
        try:
            sock.sendall(http_request("/v1/chat/completions", chat(
                1500, ignore_eos=True, logprobs=True, top_logprobs=20), True))
            sock.recv(16)
            time.sleep(20)  # a client that stops reading; the server must cut it, not buffer
            total = 0
            while (chunk := sock.recv(65536)):
                total += len(chunk)
            self.note("slow_reader", total < 4 << 20, "read %d bytes after stalling" % total)
        except OSError as e:
            self.note("slow_reader", True, str(e))  # reset by the server: also a cut
        finally:
            sock.close()

    def run(self, deadline, seed):
        random.seed(seed)
        scenarios = [(self.stream, 30), (self.completion, 25), (self.abort, 15),
                     (self.malformed, 20), (self.pipelined, 8), (self.slow_reader, 2)]
        choices = [s for s, w in scenarios for _ in range(w)]
        while time.monotonic() < deadline:
            scenario = random.choice(choices)
            try:
                scenario()
            except Exception as e:  # noqa: BLE001 — any failure of a request is a lost request
                if scenario != self.slow_reader:
                    self.note(scenario.__name__, False, repr(e))


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss_kb * 1024, len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_hour(points):
    """Least-squares slope of (seconds, bytes) points, in bytes per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return 3600 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var if var else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--troupe", required=True)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    work = tempfile.TemporaryDirectory(prefix="troupe-soak-")
    keys = os.path.join(work.name, "keys.yaml")
    with open(keys, "w") as f:
        f.write(f"{KEY}: {{name: soak}}\n")
    server = subprocess.Popen(
        [args.troupe, "serve", "--host", "127.0.0.1", "--port", "0", "--api-keys-file", keys,
         "--usage-db", os.path.join(work.name, "usage.db"), "--max-send-buffer", "256KiB",
         "--header-timeout", "5", "--kv-cache-memory", "256MiB", "--max-model-len", "2048"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    for line in server.stdout:
        if (match := re.search(r"on http://[^:]+:(\d+)", line)):
            port = int(match.group(1))
            break
    if port is None:
        sys.exit("troupe serve did not start")
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()

    soak = Soak(port)
    started = time.monotonic()
    deadline = started + args.minutes * 60
    clients = [threading.Thread(target=soak.run, args=(deadline, i), daemon=True)
               for i in range(args.clients)]
    for c in clients:
        c.start()
    samples = []
    while time.monotonic() < deadline:
        rss, fds = sample(server.pid)
        samples.append((time.monotonic() - started, rss, fds))
        time.sleep(5)
    for c in clients:
        c.join(timeout=120)
    rss, fds = sample(server.pid)
    samples.append((time.monotonic() - started, rss, fds))
    server.terminate()
    exit_code = server.wait(timeout=120)

    warm = [(t, r) for t, r, _ in samples if t >= samples[-1][0] / 5]
    result = {
        "minutes": args.minutes, "clients": args.clients, "requests": soak.counts,
        "lost": len(soak.lost), "lost_examples": soak.lost[:10],
        "rss_start_mib": round(samples[0][1] / 2**20, 1),
        "rss_after_warmup_mib": round(warm[0][1] / 2**20, 1),
        "rss_end_mib": round(samples[-1][1] / 2**20, 1),
        "rss_growth_mib_per_hour": round(slope_per_hour(warm) / 2**20, 2),
        "fds_start": samples[0][2], "fds_end": samples[-1][2],
        "fds_max": max(f for _, _, f in samples), "exit_code": exit_code,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    sys.exit(0 if result["lost"] == 0 and exit_code == 0 else 1)


if __name__ == "__main__":
    main()
