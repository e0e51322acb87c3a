"""A replica node's probe port (troupe worker --health-port), as Kubernetes' probes see it:
/live is 200 from before the model loads to the end of a drain; /health is 503 while the model
loads, 200 once the node has joined the front, and 503 again while it drains a request in
flight, which still completes, though the kubelet's SIGTERM comes after the front's drain."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from conftest import SMALL, Cluster, Process

PROBES = r"probes at http://[^:]+:(\d+)"


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def until(what, condition, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answering(port):
    """GET /health's answer, or None while nothing listens on the port."""
    try:
        return get(port, "/health")
    except OSError:
        return None


def test_probes_while_loading_joined_and_draining(tmp_path):
    cluster = Cluster(0, extra_front_args=["--no-local-replica"])
    try:
        # Loading: the model is a FIFO nobody writes, so the load waits as long as the test.
        fifo = tmp_path / "model.gguf"
        os.mkfifo(fifo)
        port = free_port()
        loading = subprocess.Popen([os.environ["TROUPE_BIN"], "worker", "--join",
                                    f"127.0.0.1:{cluster.cluster_port}", "--node-name", "loading",
                                    "--health-port", str(port), "--model", str(fifo)],
                                   stderr=subprocess.PIPE)
        until("the probe port answers", lambda: answering(port))
        status, body = get(port, "/health")
        assert (status, body["status"], body["ready"]) == (503, "loading", False), body
        assert get(port, "/live") == (200, {"status": "alive"})
        # SIGTERM while loading: nothing to drain, so the worker exits at once (a large model
        # loads for minutes; the kubelet must not wait out its grace period).
        loading.send_signal(signal.SIGTERM)
        assert loading.wait(timeout=30) == 0
        assert loading.stderr.read().decode().strip().endswith(
            "troupe: SIGTERM while the model was loading; nothing to drain, exiting")

        worker = Process(["worker", "--join", f"127.0.0.1:{cluster.cluster_port}",
                          "--node-name", "r1", "--health-port", "0", *SMALL], PROBES)
        port = worker.match.group(1)
        status, body = until("ready", lambda: (lambda r: r if r[0] == 200 else None)(
            get(port, "/health")))
        assert body["joined"] is True and body["status"] == "ok", body

        # A stream in flight on r1 (the only node), then SIGTERM: the node drains.
        first_token = threading.Event()
        outcome = {}

        def stream():
            response = cluster.post("/v1/completions", {
                "prompt": "Once upon a time", "max_tokens": 300, "ignore_eos": True,
                "temperature": 0, "stream": True})
            tokens = 0
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("data: {"):
                    event = json.loads(line[len("data: "):])
                    tokens += 1
                    first_token.set()
                    outcome["finish"] = event["choices"][0].get("finish_reason") or \
                        outcome.get("finish")
            outcome["tokens"] = tokens

        client = threading.Thread(target=stream)
        client.start()
        assert first_token.wait(60)
        # As Kubernetes deletes the pod: its preStop hook asks the front to drain the node, then
        # the kubelet's SIGTERM comes while it drains, which is not a second signal: the drain
        # goes on and the stream completes.
        drain = subprocess.run([os.environ["TROUPE_BIN"], "drain", "--node", "r1", "--url",
                                cluster.base_url], capture_output=True, text=True, timeout=30)
        assert drain.returncode == 0, drain.stderr
        worker.wait_for_line("drain: the front drains this node")
        worker.process.send_signal(signal.SIGTERM)
        worker.wait_for_line("drain: signal received; the drain goes on")
        status, body = until("draining", lambda: (lambda r: r if r[0] == 503 else None)(
            get(port, "/health")))
        assert body["status"] == "draining" and body["draining"] is True, body
        assert get(port, "/live") == (200, {"status": "alive"})
        assert client.is_alive() or outcome.get("finish") == "length"  # still streaming, or done
        client.join(120)
        assert outcome.get("finish") == "length", outcome
        assert worker.wait_exit(60) == 0
    finally:
        cluster.stop()


def test_the_fronts_port_answers_the_probes_while_the_model_loads(tmp_path):
    """troupe serve opens its port before the model loads: /live 200, /health 503 "loading"
    (Kubernetes' readiness), the API's paths 503, until the API's server takes the port over; a
    signal then ends it at once."""
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)  # nobody writes it: the load waits as long as the test
    port = free_port()
    front = subprocess.Popen([os.environ["TROUPE_BIN"], "serve", "--host", "127.0.0.1", "--port",
                              str(port), "--model", str(fifo)], stderr=subprocess.PIPE)
    try:
        status, body = until("the port answers", lambda: answering(port))
        assert (status, body["status"], body["ready"]) == (503, "loading", False), body
        assert get(port, "/live") == (200, {"status": "alive"})
        # The API is not there yet: 503 with Retry-After, so a balancer tries another instance.
        status, body = get(port, "/v1/models")
        assert status == 503 and "loading" in body["error"]["message"], body
        front.send_signal(signal.SIGINT)  # ctrl-c while loading: exits at once, status 0
        assert front.wait(timeout=30) == 0
        assert front.stderr.read().decode().strip().endswith(
            "troupe: SIGINT while the model was loading; nothing to drain, exiting")
    finally:
        if front.poll() is None:
            front.kill()
            front.wait()

