"""troupe drain --node: the router stops sending to the node at once, the node finishes the
requests it has, then leaves and its process exits 0; nothing in flight is lost."""
import os
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
        # Out of routing at once (GET /cluster shows the router's view within its 500 ms cache).
        assert cluster.wait_for(lambda nodes: not nodes["r1"]["routable"], timeout=2) < 2
        results = [f.result(timeout=180) for f in futures]
    assert all(outcome == "done" for outcome, _ in results), results
    assert cluster.workers["r1"].process.wait(timeout=60) == 0
    cluster.wait_for(lambda nodes: not nodes["r1"]["connected"])
    assert stream(cluster, 99)[0] == "done"  # the others still serve


def test_draining_an_unknown_node_is_one_line_and_exit_2(cluster):
    result = troupe("drain", "--node", "nobody", "--url", cluster.base_url)
    assert result.returncode == 2
    assert result.stderr.strip() == "troupe: the front answered 404: no connected node is " \
                                    "named 'nobody'"
