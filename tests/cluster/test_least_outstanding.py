"""least-outstanding over a front and 2 replica nodes that run 2 sequences each (so requests
queue): while requests keep arriving, no node sits idle while another has a queue. (The same
workload under round-robin fails this: every third request is long and lands on one node.)"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import Cluster

TWO_AT_ONCE = ["--max-num-seqs", "2"]


def test_least_outstanding_leaves_no_node_idle_while_another_queues():
    cluster = Cluster(replicas=2, extra_front_args=["--routing", "least-outstanding", *TWO_AT_ONCE],
                      worker_args=TWO_AT_ONCE)
    try:
        total, concurrency = 60, 12
        done = []
        samples = []

        def one(i):
            # Every third request is long: taking turns would pile them onto one node while the
            # others run dry.
            body = {"prompt": f"Item {i}:", "max_tokens": 96 if i % 3 == 0 else 4,
                    "temperature": 0, "ignore_eos": True}
            with cluster.post("/v1/completions", body) as response:
                assert response.status == 200
            done.append(i)

        def sample():
            while len(done) < total - concurrency:  # requests still arriving
                samples.append(cluster.nodes())
                time.sleep(0.1)

        sampler = threading.Thread(target=sample)
        sampler.start()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(total)))
        sampler.join()
        queued = [s for s in samples if any(n["waiting"] > 0 for n in s.values())]
        assert queued, "no node ever had a queue: the test did not load the cluster"
        for nodes in queued:
            idle = [name for name, n in nodes.items() if n["outstanding"] == 0]
            assert not idle, nodes
    finally:
        cluster.stop()
