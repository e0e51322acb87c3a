#!/usr/bin/env python3
"""Prefix-affinity against round-robin over a front and 3 replica nodes (separate processes on
this machine, one compute thread each): a repeated-prefix workload — 8 long system prompts,
each asked 8 questions in a shuffled order, 4 requests at a time — and for each routing the output tokens/s,
the mean time to first token (streamed, at the client) and the cluster's prefix-cache hit rate
(the nodes' own counters).

  python3 bench/cluster_prefix_benchmark.py [--troupe build/cli/troupe] [--json FILE]
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "cluster"))
from conftest import Cluster  # noqa: E402  (the test suite's cluster launcher)

TOPICS = ["astronomy", "cooking", "sailing", "chess", "gardening", "music", "physics", "poetry"]


def system_prompt(topic):
    rules = " ".join(f"Rule {i}: when asked about {topic}, answer with care and cite the basics."
                     for i in range(24))
    return f"You are an assistant for {topic}. {rules}"


def ttft(cluster, topic, question):
    body = {"messages": [{"role": "system", "content": system_prompt(topic)},
                         {"role": "user", "content": f"Question {question} about {topic}?"}],
            "max_tokens": 8, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    request = urllib.request.Request(cluster.base_url + "/v1/chat/completions",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    start = time.monotonic()
    first, tokens = None, 0
    with urllib.request.urlopen(request, timeout=300) as response:
        for raw in response:
            if not raw.startswith(b"data: {"):
                continue
            event = json.loads(raw[len(b"data: "):])
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            elif first is None and event["choices"][0]["delta"].get("content"):
                first = time.monotonic() - start  # the first text, not the role chunk
    return first, tokens


def run(troupe, routing):
    os.environ["TROUPE_BIN"] = troupe
    cluster = Cluster(replicas=3, extra_front_args=["--routing", routing])
    try:
        before = cluster.nodes()
        work = [(topic, q) for q in range(8) for topic in TOPICS]
        random.Random(7).shuffle(work)  # no arrival order that lines topics up with nodes
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            streams = list(pool.map(lambda w: ttft(cluster, *w), work))
        elapsed = time.monotonic() - start
        ttfts = [first for first, _ in streams]
        after = cluster.wait_for_fresh_counters(before, expected_requests=len(work))
        queries = sum(after[n]["prefix_cache_queries"] - before[n]["prefix_cache_queries"]
                      for n in after)
        hits = sum(after[n]["prefix_cache_hits"] - before[n]["prefix_cache_hits"] for n in after)
        return {"routing": routing, "requests": len(work), "hit_rate": hits / queries,
                "output_tok_per_s": sum(tokens for _, tokens in streams) / elapsed,
                "mean_ttft_ms": 1000 * statistics.mean(ttfts),
                "p50_ttft_ms": 1000 * statistics.median(ttfts)}
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--troupe", default="build/cli/troupe")
    ap.add_argument("--json")
    args = ap.parse_args()
    results = [run(os.path.abspath(args.troupe), r) for r in ("round-robin", "prefix-affinity")]
    print("| routing | requests | output tok/s | mean TTFT ms | p50 TTFT ms | prefix-cache hit rate |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['routing']} | {r['requests']} | {r['output_tok_per_s']:.1f} | "
              f"{r['mean_ttft_ms']:.1f} | {r['p50_ttft_ms']:.1f} | {r['hit_rate']:.2f} |")
    rr, pa = results
    print(f"prefix-affinity ÷ round-robin: output tok/s "
          f"{pa['output_tok_per_s'] / rr['output_tok_per_s']:.2f}x, mean TTFT "
          f"{pa['mean_ttft_ms'] / rr['mean_ttft_ms']:.2f}x, hit rate "
          f"{pa['hit_rate'] / rr['hit_rate']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
