"""Round-robin over a front and 3 replica nodes, separate processes on loopback: 200 requests at
concurrency 32 reach every node, spread within one of each other (the router's own counts)."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Cluster


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(replicas=3)
    yield c
    assert c.stop() == 0, "".join(c.front.log[-30:])


def complete(cluster, i):
    with cluster.post("/v1/completions",
                      {"prompt": f"Count to {i}:", "max_tokens": 4, "temperature": 0}) as response:
        return response.status


def test_round_robin_reaches_every_node_within_one(cluster):
    before = {name: n["routed"] for name, n in cluster.nodes().items()}
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda i: complete(cluster, i), range(200)))
    assert statuses == [200] * 200
    # The router's counts are read from the front's cache, refreshed every 500 ms.
    cluster.wait_for(lambda nodes: sum(n["routed"] for n in nodes.values()) - sum(before.values())
                     == 200 and all(n["outstanding"] == 0 for n in nodes.values()))
    routed = {name: n["routed"] - before[name] for name, n in cluster.nodes().items()}
    assert len(routed) == 4 and min(routed.values()) > 0, routed
    assert max(routed.values()) - min(routed.values()) <= 1, routed


def test_a_node_the_front_refuses_exits_2_naming_the_reason_on_both_sides(cluster):
    import os
    import subprocess
    refused = subprocess.run([os.environ["TROUPE_BIN"], "worker", "--join",
                              f"127.0.0.1:{cluster.cluster_port}", "--node-name", "r2",
                              "--threads", "1"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "the front refused this node: a node named 'r2' is already in the cluster" \
        in refused.stderr
    cluster.front.wait_for_line("refused node 'r2'")
    assert cluster.nodes()["r2"]["routable"]  # the node already there keeps its place


def test_a_node_serving_another_model_is_refused_on_both_sides(cluster, tmp_path):
    import os
    import subprocess
    # The default model with another general.name: the same size and tensors, another identity.
    source = os.path.join(os.environ.get("TROUPE_HOME", os.path.expanduser("~/.cache/troupe")),
                          "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    data = bytearray(open(source, "rb").read())
    name = data.find(b"Smollm2 135M")
    assert name > 0
    data[name:name + 7] = b"Othermd"
    other = tmp_path / "other.gguf"
    other.write_bytes(bytes(data))
    refused = subprocess.run([os.environ["TROUPE_BIN"], "worker", "--join",
                              f"127.0.0.1:{cluster.cluster_port}", "--node-name", "other",
                              "--model", str(other), "--threads", "1"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "the front refused this node: the node serves 'Othermd 135M" in refused.stderr
    assert "start it with the front's --model" in refused.stderr
    cluster.front.wait_for_line("refused node 'other'")
    assert "other" not in cluster.nodes()
