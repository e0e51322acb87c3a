#!/usr/bin/env python3
"""How fast the cluster reacts, measured (the tests assert only that it reacts, by events):
1. kill -9 of a replica node under load: from the signal to the front's log line saying the node
   is gone (its connection dropped);
2. a silent node: SIGSTOP of a replica node (its connection stays up) to the line saying it is
   down (silent), against --unhealthy-after;
3. troupe drain --node: from the command's start to its return, by which time the router has
   taken the node out of routing.
Medians over --rounds; a front and 2 replica nodes, separate processes on this machine.

  $(scripts/setup-test-venv) bench/cluster_failover_timing.py [--troupe build/cli/troupe] [--rounds 3] [--json F]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "cluster"))
from conftest import Cluster  # noqa: E402  (the test suite's cluster launcher)
from test_failover import stream  # noqa: E402

UNHEALTHY_AFTER = 2.0


def seconds_until_line(process, text, since_lines, timeout=60):
    """Seconds until `process` prints a line containing `text` after its first `since_lines`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if any(text in line for line in process.log[since_lines:]):
            return time.monotonic() - start
        time.sleep(0.005)
    raise RuntimeError(f"no line with {text!r}")


def one_round(troupe):
    cluster = Cluster(replicas=2, extra_front_args=["--unhealthy-after", str(UNHEALTHY_AFTER)])
    result = {}
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(stream, cluster, i, 64) for i in range(16)]
            cluster.wait_for(lambda nodes: nodes["r1"]["outstanding"] > 0)
            lines = len(cluster.front.log)
            cluster.workers["r1"].process.send_signal(signal.SIGKILL)
            result["kill_9_to_gone_s"] = seconds_until_line(cluster.front, "node r1 is gone", lines)
            for f in futures:
                f.result(timeout=300)

        lines = len(cluster.front.log)
        cluster.workers["r2"].process.send_signal(signal.SIGSTOP)
        result["silent_to_down_s"] = seconds_until_line(cluster.front, "node r2 is down", lines)
        cluster.workers["r2"].process.send_signal(signal.SIGCONT)
        cluster.wait_for(lambda nodes: nodes["r2"]["routable"])

        start = time.monotonic()
        subprocess.run([troupe, "drain", "--node", "r2", "--url", cluster.base_url], check=True,
                       capture_output=True)
        result["drain_command_s"] = time.monotonic() - start
    finally:
        cluster.stop()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--troupe", default="build/cli/troupe")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ["TROUPE_BIN"] = os.path.abspath(args.troupe)
    rounds = [one_round(os.environ["TROUPE_BIN"]) for _ in range(args.rounds)]
    summary = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    summary["unhealthy_after_s"] = UNHEALTHY_AFTER
    for key, value in summary.items():
        print(f"{key}: {value:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": rounds, "median": summary}, f, indent=2)


if __name__ == "__main__":
    main()
