"""A replica node cut off by the network, not killed: it runs in a network namespace joined to
the front by a veth pair, and the test takes the link down under streamed load. Same outcome as
kill -9: every request completes or, only if it had streamed, ends with an error event; the
node leaves routing within --unhealthy-after; healing the link brings it back. Skipped where
network namespaces cannot be made (not root, no iproute2)."""
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Cluster
from test_failover import stream

NS = f"troupe-p{os.getpid() % 100000}"
HOST_IF, NS_IF = f"tp{os.getpid() % 100000}h", f"tp{os.getpid() % 100000}n"
SUBNET = f"10.{77 + os.getpid() % 100}.{os.getpid() % 250}"


def ip(*args, ns=None):
    prefix = ["ip", "netns", "exec", ns] if ns else []
    return subprocess.run([*prefix, "ip", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def link():
    if os.geteuid() != 0 or ip("netns", "add", NS).returncode != 0:
        pytest.skip("cannot make a network namespace here (needs root and iproute2)")
    try:
        for args, ns in [(("link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF), None),
                         (("link", "set", NS_IF, "netns", NS), None),
                         (("addr", "add", f"{SUBNET}.1/24", "dev", HOST_IF), None),
                         (("link", "set", HOST_IF, "up"), None),
                         (("addr", "add", f"{SUBNET}.2/24", "dev", NS_IF), NS),
                         (("link", "set", NS_IF, "up"), NS),
                         (("link", "set", "lo", "up"), NS)]:
            result = ip(*args, ns=ns)
            if result.returncode != 0:
                pytest.skip(f"cannot set up the veth link: ip {' '.join(args)}: {result.stderr}")
        yield
    finally:
        ip("link", "del", HOST_IF)
        ip("netns", "del", NS)


def test_a_cut_off_node_fails_over_like_a_dead_one_and_returns_when_healed(link):
    cluster = Cluster(replicas=1, extra_front_args=["--unhealthy-after", "2"],
                      cluster_host="0.0.0.0", secret="partition-test-secret-0123456789")
    try:
        cluster.start_worker("cut", front_host=f"{SUBNET}.1", prefix=["ip", "netns", "exec", NS])
        cluster.wait_for(lambda nodes: "cut" in nodes and nodes["cut"]["routable"])
        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(stream, cluster, i) for i in range(36)]
            # Cut once the node has streamed: a report that shows it running requests after a
            # tenth of a second of steps (a fresh node's first request can take seconds to start,
            # and a request cut before its first token just moves, as it should).
            cluster.wait_for(lambda nodes: nodes["cut"]["running"] > 0 and
                             nodes["cut"]["busy_seconds"] > 0.1)
            assert ip("link", "set", HOST_IF, "down").returncode == 0
            # Its connection stays up (nothing tells TCP): it is lost by falling silent.
            cluster.front.wait_for_line("node cut is down (silent or draining)", timeout=60)
            results = [f.result(timeout=180) for f in futures]  # none hangs
        for outcome, tokens in results:
            assert outcome == "done" or (outcome == "error" and tokens > 0), results
        assert any(outcome == "error" for outcome, _ in results), \
            "the cut hit no stream:\n" + "".join(cluster.front.log[-30:])
        assert ip("link", "set", HOST_IF, "up").returncode == 0
        cluster.wait_for(lambda nodes: nodes["cut"]["routable"], timeout=60)
    finally:
        ip("link", "set", HOST_IF, "up")  # a failed test's cut node can still drain and stop
        cluster.stop()
