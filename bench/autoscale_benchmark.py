#!/usr/bin/env python3
"""The autoscaler against fixed replica counts, on one load trace, in one run on this machine:
quiet, a ramp, a peak, a decline and quiet again, with closed-loop streaming users (each sends
its next request when the last ends). Three ways: fixed at --min replicas, fixed at --max, and
`serve --autoscale local` between them. For each: p95 TTFT, SLO attainment (the share of
requests whose TTFT is under --slo-ttft-ms), replica-seconds (routable nodes integrated over
the run, from GET /cluster every 0.5 s), the time from the ramp's start to a new replica being
routable, and the scale events and their changes of direction (one peak: up then down is one;
more would be oscillation).

  $(scripts/setup-test-venv) bench/autoscale_benchmark.py [--troupe build/cli/troupe] [--json F]
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "cluster"))
from conftest import Cluster  # noqa: E402  (the test suite's cluster launcher)
from streaming_users import StreamingUsers  # noqa: E402  (tests/support, on the path by conftest)

RULES = """
tick_seconds: 0.5
scale_up_cooldown_seconds: 5
scale_down_cooldown_seconds: 20
panic_window_seconds: 3
rules:
  - {{name: batch, metric: running_per_replica, scale_up_above: {up}, scale_down_below: {down},
     window_seconds: 10}}
"""


def trace(args):
    """[(seconds from start, streams)] every 0.5 s: quiet, ramp, peak, decline, quiet."""
    points, t = [], 0.0
    phases = [(args.quiet, 1, 1), (args.ramp, 1, args.peak_streams),
              (args.peak, args.peak_streams, args.peak_streams),
              (args.ramp, args.peak_streams, 1), (args.quiet, 1, 1)]
    for seconds, start, end in phases:
        steps = max(1, int(seconds / 0.5))
        for i in range(steps):
            points.append((t, round(start + (end - start) * i / steps)))
            t += 0.5
    return points


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def run_one(name, args, front_args, workers):
    cluster = Cluster(workers, extra_front_args=front_args)
    users = StreamingUsers(cluster.base_url, args.peak_streams, args.max_tokens,
                           prompt="User {i} asks about the weather in town number {i}:")
    samples = []  # (t, routable nodes)
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            nodes = cluster.nodes()
            samples.append((time.monotonic(), sum(1 for n in nodes.values() if n["routable"])))
            stop.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    ramp_start = start + args.quiet
    try:
        for t, level in trace(args):
            while time.monotonic() - start < t:
                time.sleep(0.01)  # the trace's clock
            users.set_level(level)
        users.set_level(0)
        users.finish()
        end = time.monotonic()
        with urllib.request.urlopen(cluster.base_url + "/cluster", timeout=10) as response:
            status = json.load(response)
    finally:
        stop.set()
        watcher.join()
        cluster.stop()
    replica_seconds = sum((b[0] - a[0]) * a[1] for a, b in zip(samples, samples[1:]))
    first = samples[0][1]
    grown = next((t for t, n in samples if t >= ramp_start and n > first), None)
    ok = [o for o in users.outcomes if o.status == 200 and not o.error]
    ttfts = [o.ttft for o in ok if o.ttft is not None]
    events = status.get("autoscaler", {}).get("events", [])
    directions = [1 if e["to"] > e["from"] else -1 for e in events]
    result = {
        "config": name,
        "requests": len(users.outcomes),
        "failed": len(users.outcomes) - len(ok),
        "p50_ttft_ms": round(1000 * percentile(ttfts, 0.50), 1),
        "p95_ttft_ms": round(1000 * percentile(ttfts, 0.95), 1),
        "slo_attainment": round(sum(1 for v in ttfts if v * 1000 <= args.slo_ttft_ms) /
                                max(1, len(users.outcomes)), 4),
        "replica_seconds": round(replica_seconds, 1),
        "seconds": round(end - start, 1),
        "ramp_to_new_replica_s": round(grown - ramp_start, 2) if grown else None,
        "scale_events": len(events),
        # One peak: up, then down, is one change of direction; more is oscillation.
        "direction_changes": sum(1 for a, b in zip(directions, directions[1:]) if a != b),
    }
    print(json.dumps(result), flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--troupe", default="build/cli/troupe")
    parser.add_argument("--min", type=int, default=1)
    parser.add_argument("--max", type=int, default=2)
    parser.add_argument("--peak-streams", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--quiet", type=float, default=120)
    parser.add_argument("--ramp", type=float, default=20)
    parser.add_argument("--peak", type=float, default=60)
    parser.add_argument("--slo-ttft-ms", type=float, default=1000)
    parser.add_argument("--up", type=float, default=6, help="the rule's running per replica up")
    parser.add_argument("--down", type=float, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ["TROUPE_BIN"] = os.path.abspath(args.troupe)
    rules = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    rules.write(RULES.format(up=args.up, down=args.down))
    rules.close()
    results = [
        run_one(f"fixed at {args.min}", args, [], args.min - 1),
        run_one(f"fixed at {args.max}", args, [], args.max - 1),
        run_one(f"autoscaled {args.min}..{args.max}", args,
                ["--autoscale", "local", "--min-replicas", str(args.min), "--max-replicas",
                 str(args.max), "--autoscale-rules", rules.name], 0),
    ]
    fixed_max, scaled = results[1], results[2]
    summary = {
        "slo_attainment_points_below_fixed_max":
            round(100 * (fixed_max["slo_attainment"] - scaled["slo_attainment"]), 1),
        "replica_seconds_vs_fixed_max": round(scaled["replica_seconds"] /
                                              fixed_max["replica_seconds"], 3),
    }
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
