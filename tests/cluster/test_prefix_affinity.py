"""prefix-affinity against round-robin on requests that share long system prompts: with affinity
each system prompt finds its node's prefix cache warm, so the cluster's prefix-cache hit rate
(the nodes' own counters, through GET /cluster) is clearly higher, and the mean time to first
token (the front's own TTFT histogram in /metrics) lower."""
import re
import urllib.request

from conftest import Cluster

TOPICS = ["astronomy", "cooking", "sailing", "chess"]


def system_prompt(topic):
    rules = " ".join(f"Rule {i}: when asked about {topic}, answer with care and cite the basics."
                     for i in range(12))
    return f"You are an assistant for {topic}. {rules}"


def ttft_sum_and_count(cluster):
    with urllib.request.urlopen(cluster.base_url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    values = [float(re.search(rf"^troupe_time_to_first_token_seconds_{part}(?:{{[^}}]*}})? (\S+)$",
                              text, re.M).group(1)) for part in ("sum", "count")]
    return values


def hit_rate_and_ttft(routing):
    cluster = Cluster(replicas=2, extra_front_args=["--routing", routing])
    try:
        before = cluster.nodes()
        ttft_before = ttft_sum_and_count(cluster)
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
        ttft_after = ttft_sum_and_count(cluster)
        assert ttft_after[1] - ttft_before[1] == 24
        mean_ttft = (ttft_after[0] - ttft_before[0]) / 24
        return hits / queries, mean_ttft
    finally:
        cluster.stop()


def test_prefix_affinity_hits_the_prefix_cache_more_than_round_robin():
    round_robin, round_robin_ttft = hit_rate_and_ttft("round-robin")
    affinity, affinity_ttft = hit_rate_and_ttft("prefix-affinity")
    assert affinity > round_robin + 0.15, (affinity, round_robin)
    assert affinity > 0.7, affinity
    assert affinity_ttft < round_robin_ttft, (affinity_ttft, round_robin_ttft)
