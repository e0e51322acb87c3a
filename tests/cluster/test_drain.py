"""troupe drain --node: the router stops sending to the node at once, the node finishes the
requests it has, then leaves and its process exits 0; nothing in flight is lost."""
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Cluster
from test_failover import stream


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(replicas=2)
    yield c
    c.stop()


def troupe(*args):
    return subprocess.run([os.environ["TROUPE_BIN"], *args], capture_output=True, text=True,
                          timeout=120)


def test_drain_finishes_the_nodes_work_then_it_leaves(cluster):
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(stream, cluster, i) for i in range(12)]
        cluster.wait_for(lambda nodes: nodes["r1"]["outstanding"] > 0)
        drained = troupe("drain", "--node", "r1", "--url", cluster.base_url)
        assert drained.returncode == 0, drained.stderr
        # Out of routing at once: the router has taken r1 out before `troupe drain` returns, so
        # no request sent from now on goes there.
        routed_to_r1 = cluster.nodes()["r1"]["routed"]
        later = [pool.submit(stream, cluster, 100 + i, 8) for i in range(6)]
        assert all(f.result(timeout=180)[0] == "done" for f in later)
        assert cluster.nodes()["r1"]["routed"] == routed_to_r1
        cluster.wait_for(lambda nodes: not nodes["r1"]["routable"])
        results = [f.result(timeout=180) for f in futures]
    assert all(outcome == "done" for outcome, _ in results), results
    assert cluster.workers["r1"].wait_exit(60) == 0
    cluster.wait_for(lambda nodes: not nodes["r1"]["connected"])
    assert stream(cluster, 99)[0] == "done"  # the others still serve


def test_draining_an_unknown_node_is_one_line_and_exit_2(cluster):
    result = troupe("drain", "--node", "nobody", "--url", cluster.base_url)
    assert result.returncode == 2
    assert result.stderr.strip() == "troupe: the front answered 404: no connected node is " \
                                    "named 'nobody'"


def test_sigterm_at_a_front_lets_streams_on_other_nodes_finish():
    """The front's drain covers requests it routed to other nodes, up to its --drain-timeout,
    not only its own node's."""
    c = Cluster(replicas=1, extra_front_args=["--no-local-replica", "--drain-timeout", "120"])
    try:
        progress = []
        with ThreadPoolExecutor(6) as pool:
            # Streams that fill the context (512 tokens), signalled near their start.
            futures = [pool.submit(stream, c, i, 440, progress) for i in range(6)]
            c.wait_for(lambda nodes: nodes["r1"]["outstanding"] == 6)
            at_signal = len(progress)
            c.front.process.send_signal(signal.SIGTERM)
            results = [f.result(timeout=180) for f in futures]
        assert all(outcome == "done" for outcome, _ in results), results
        # Most of the tokens were relayed after the signal: the drain waited for the streams.
        # (How far they got before it depends on how fast the front saw all six start.)
        assert at_signal < 6 * 440 // 2, at_signal
        assert len(progress) - at_signal > 6 * 440 // 2, (at_signal, len(progress))
        assert c.front.wait_exit(60) == 0
    finally:
        c.stop()
