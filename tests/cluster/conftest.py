"""A real cluster on loopback for the cluster tests: one `troupe serve --cluster-port 0` front
(which also runs a replica of its own, named "front") and `troupe worker --join` replica nodes,
each a separate process on the default model with one compute thread. Set TROUPE_BIN.
"""
import json
import os
import sys
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

# tests/support/raw_http.py and its neighbours are shared by the suites.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

SMALL = ["--threads", "1", "--kv-cache-memory", "64MiB", "--max-model-len", "512"]


def thread_stacks(pid):
    """Every thread's stack of process `pid`, where gdb is installed: a hang seen once in a CI
    run is then found from that run's log."""
    if not shutil.which("gdb"):
        return "(no gdb here)"
    dump = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                          capture_output=True, text=True, timeout=120)
    return dump.stdout[-30000:] + dump.stderr[-2000:]


class Process:
    """A troupe process whose output is kept (and drained, so it never blocks)."""

    def __init__(self, args, ready_pattern, prefix=()):
        """Runs `troupe args...`, after `prefix` (e.g. ip netns exec NS) when given."""
        self.log = []
        self.process = subprocess.Popen([*prefix, os.environ["TROUPE_BIN"], *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.match = None
        timer = threading.Timer(120, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                self.log.append(line)
                self.match = re.search(ready_pattern, line)
                if self.match:
                    break
        finally:
            timer.cancel()
        if not self.match:
            raise RuntimeError("troupe did not start:\n" + "".join(self.log))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stdout:
            self.log.append(line)

    def wait_for_line(self, text, timeout=10, count=1):
        """Waits until the process has printed `count` lines containing `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(text in line for line in self.log) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"not {count} line(s) with {text!r} in:\n" +
                             "".join(self.log[-20:]))

    def wait_exit(self, timeout=60):
        """The exit status, once the process exits. If it has not within `timeout` seconds, fails
        with its last lines and, where gdb is installed, every thread's stack: a hang at exit
        seen once in a CI run is then found from that run's log."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stacks = thread_stacks(self.process.pid)
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"troupe did not exit within {timeout} s; its last lines:\n"
                                 + "".join(self.log[-30:]) + "\nits threads:\n" + stacks)

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def post_json(base_url, path, body):
    """POSTs JSON; returns the response (a file of lines), or the HTTPError."""
    request = urllib.request.Request(base_url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(request, timeout=180)
    except urllib.error.HTTPError as error:
        return error


def write_secret(path, secret):
    """A cluster secret file, readable by its owner only (troupe refuses others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return path


class Cluster:
    """`secret`: a cluster secret every node is given (mutual TLS on the cluster port); without
    one the front's cluster port listens on loopback only."""

    def __init__(self, replicas, extra_front_args=(), cluster_host=None, worker_args=(),
                 secret=None):
        self.dir = tempfile.TemporaryDirectory(prefix="troupe-cluster-")
        self.secret_args = []
        if secret:
            self.secret_file = write_secret(os.path.join(self.dir.name, "cluster.secret"), secret)
            self.secret_args = ["--cluster-secret-file", self.secret_file]
        self.worker_args = list(worker_args) + self.secret_args
        host_args = ["--cluster-host", cluster_host] if cluster_host else []
        self.front = Process(["serve", "--host", "127.0.0.1", "--port", "0", *host_args,
                              "--cluster-port", "0", "--usage-db",
                              os.path.join(self.dir.name, "usage.db"), *SMALL,
                              *self.secret_args, *extra_front_args],
                             r"on http://[^:]+:(\d+)")
        self.base_url = f"http://127.0.0.1:{self.front.match.group(1)}"
        ports = [re.search(r"cluster port [^:]+:(\d+)", line) for line in self.front.log]
        self.cluster_port = next(m.group(1) for m in ports if m)
        self.workers = {}
        for i in range(replicas):
            self.start_worker(f"r{i + 1}")
        expected = replicas + (0 if "--no-local-replica" in extra_front_args else 1)
        self.wait_for(lambda nodes: len(nodes) == expected and
                      all(n["routable"] for n in nodes.values()))

    def start_worker(self, name, front_host="127.0.0.1", prefix=()):
        self.workers[name] = Process(["worker", "--join", f"{front_host}:{self.cluster_port}",
                                      "--node-name", name, *SMALL, *self.worker_args],
                                     r"joining", prefix)
        return self.workers[name]

    def post(self, path, body):
        return post_json(self.base_url, path, body)

    def health(self):
        """(status code, JSON body) of the front's GET /health."""
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def nodes(self):
        with urllib.request.urlopen(self.base_url + "/cluster", timeout=10) as response:
            return {n["name"]: n for n in json.load(response)["nodes"]}

    def wait_for(self, condition, timeout=60):
        """Polls /cluster until condition(nodes) holds; returns the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if condition(self.nodes()):
                return time.monotonic() - start
            time.sleep(0.1)
        raise AssertionError(f"the cluster never got there: {self.nodes()}")

    def wait_for_autoscaler(self, condition, timeout=60):
        """Polls GET /cluster until condition(its autoscaler's status) holds; returns it."""
        deadline = time.monotonic() + timeout
        status = {}
        while time.monotonic() < deadline:
            with urllib.request.urlopen(self.base_url + "/cluster", timeout=10) as response:
                status = json.load(response).get("autoscaler", {})
            if status and condition(status):
                return status
            time.sleep(0.1)
        raise AssertionError(f"the autoscaler never got there: {status}")

    def wait_for_fresh_counters(self, before, expected_requests):
        """The nodes once every one of `expected_requests` has ended and each node's counters
        come from health reports taken after that (they come with the router's health polls:
        two more reports than when the last request ended)."""
        routed = lambda nodes: sum(n["routed"] for n in nodes.values())
        self.wait_for(lambda nodes: routed(nodes) - routed(before) >= expected_requests and
                      all(n["outstanding"] == 0 for n in nodes.values()))
        ended = self.nodes()
        self.wait_for(lambda nodes: all(nodes[name]["health_reports"] >= n["health_reports"] + 2
                                        for name, n in ended.items()))
        return self.nodes()

    def stop(self):
        for worker in self.workers.values():
            worker.stop()
        code = self.front.stop()
        self.dir.cleanup()
        return code
