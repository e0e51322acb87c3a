"""prefix-affinity against round-robin on requests that share long system prompts: with affinity
each system prompt finds its node's prefix cache warm, so the cluster's prefix-cache hit rate
(the nodes' own counters, through GET /cluster) is clearly higher. What that does to the time
to first token is measured by bench/cluster_prefix_benchmark.py."""
from conftest import Cluster

TOPICS = ["astronomy", "cooking", "sailing", "chess"]


def system_prompt(topic):
    rules = " ".join(f"Rule {i}: when asked about {topic}, answer with care and cite the basics."
                     for i in range(12))
    return f"You are an assistant for {topic}. {rules}"


def prefix_hit_rate(routing):
    cluster = Cluster(replicas=2, extra_front_args=["--routing", routing])
    try:
        before = cluster.nodes()
        for round_ in range(6):
            for topic in TOPICS:
                body = {"messages": [{"role": "system", "content": system_prompt(topic)},
                                     {"role": "user", "content": f"Question {round_}?"}],
                        "max_tokens": 2, "temperature": 0}
                with cluster.post("/v1/chat/completions", body) as response:
                    assert response.status == 200
        cluster.wait_for(lambda nodes: all(n["outstanding"] == 0 for n in nodes.values()))
        after = cluster.wait_for_fresh_counters(before, expected_requests=24)
        queries = sum(after[n]["prefix_cache_queries"] - before[n]["prefix_cache_queries"]
                      for n in after)
        hits = sum(after[n]["prefix_cache_hits"] - before[n]["prefix_cache_hits"] for n in after)
        return hits / queries
    finally:
        cluster.stop()


def test_prefix_affinity_hits_the_prefix_cache_more_than_round_robin():
    round_robin = prefix_hit_rate("round-robin")
    affinity = prefix_hit_rate("prefix-affinity")
    assert affinity > round_robin + 0.15, (affinity, round_robin)
    assert affinity > 0.7, affinity
