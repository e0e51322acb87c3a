"""A front that only routes (--no-local-replica): every request goes to the joined nodes, and
/health says ready while some node is routable and 503 when none is. Embeddings cross the
cluster too: the vectors a node pools come back to the front whole (llama.cpp's reference)."""
import json
import math
import os

from conftest import Cluster

REFERENCE = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "fixtures", "reference", "embeddings.json")))


def test_a_routing_front_serves_through_its_nodes_and_reports_their_health():
    cluster = Cluster(replicas=2, extra_front_args=["--no-local-replica"])
    try:
        assert set(cluster.nodes()) == {"r1", "r2"}
        assert cluster.health()[0] == 200
        for i in range(8):
            with cluster.post("/v1/completions", {"prompt": f"Hi {i}", "max_tokens": 3}) as r:
                assert r.status == 200
        cluster.wait_for(lambda nodes: sum(n["routed"] for n in nodes.values()) == 8)
        texts = REFERENCE["texts"][:4]
        with cluster.post("/v1/embeddings", {"input": texts, "encoding_format": "float"}) as r:
            assert r.status == 200
            data = json.load(r)["data"]
        for ours, theirs in zip([d["embedding"] for d in data], REFERENCE["embeddings"]["mean"]):
            dot = sum(a * b for a, b in zip(ours, theirs))
            assert dot / math.sqrt(sum(a * a for a in ours) * sum(b * b for b in theirs)) > 0.999
        cluster.wait_for(lambda nodes: sum(n["routed"] for n in nodes.values()) == 12)
        for name in ("r1", "r2"):
            assert cluster.workers[name].stop() == 0
        cluster.wait_for(lambda nodes: not any(n["routable"] for n in nodes.values()))
        status, body = cluster.health()
        assert status == 503 and body["reason"] == "no cluster node is routable", body
    finally:
        cluster.stop()
