"""kill -9 a replica node under load: every request completes, or — only if it had already
streamed tokens — ends with an error event; none hangs; the router marks the node gone because
its connection dropped (not by waiting out --unhealthy-after); a restarted node with the same
name is routed again. How long detection takes is measured by bench/cluster_failover_timing.py."""
import json
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Cluster


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(replicas=2)
    yield c
    c.stop()


def stream(cluster, i, max_tokens=160, progress=None):
    """One streamed completion: ('done', tokens), or what ended it and the tokens so far.
    `progress`, a list, gets one entry per token as it arrives."""
    tokens = 0
    with cluster.post("/v1/completions", {"prompt": f"Story {i}:", "max_tokens": max_tokens,
                                          "temperature": 0, "ignore_eos": True,
                                          "stream": True}) as response:
        if response.status != 200:
            return ("http %d" % response.status, tokens)
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[len("data: "):])
            if "error" in event:
                return ("error", tokens)
            tokens += 1
            if progress is not None:
                progress.append(i)
            if event["choices"][0].get("finish_reason"):
                return ("done", tokens)
    return ("cut", tokens)


def test_kill_9_under_load_loses_nothing_and_the_node_comes_back(cluster):
    victim = cluster.workers["r1"]
    results = []
    progress = []
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(stream, cluster, i, progress=progress) for i in range(48)]
        # Load is flowing through the victim: now it dies.
        cluster.wait_for(lambda nodes: nodes["r1"]["outstanding"] > 0 and len(progress) >= 64)
        victim.process.send_signal(signal.SIGKILL)
        cluster.front.wait_for_line("node r1 is gone", timeout=60)  # the connection dropped
        results = [f.result(timeout=180) for f in futures]  # none hangs
    assert not any("node r1 is down (silent" in line for line in cluster.front.log)
    for outcome, tokens in results:
        assert outcome == "done" or (outcome == "error" and tokens > 0), results
    errors = sum(1 for outcome, _ in results if outcome == "error")
    assert errors > 0, "the kill hit no stream in flight: the test did not test failover"
    assert errors <= len(results) // 2, results
    # The front counts the failed attempts against the node that failed them, and only it: each
    # cut stream, and each request that moved before its first token.
    cluster.wait_for(lambda nodes: nodes["r1"]["served"]["failed"] >= errors)
    assert all(n["served"]["failed"] == 0 for name, n in cluster.nodes().items() if name != "r1")

    cluster.start_worker("r1")  # the same name: it takes the old node's place
    cluster.wait_for(lambda nodes: nodes["r1"]["routable"] and nodes["r1"]["connected"])
    before = cluster.nodes()["r1"]["routed"]
    for i in range(6):
        assert stream(cluster, i)[0] == "done"
    cluster.wait_for(lambda nodes: nodes["r1"]["routed"] > before)
