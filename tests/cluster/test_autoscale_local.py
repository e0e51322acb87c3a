"""The local autoscaler end to end: a front with --autoscale local (min 1, max 3) under a load
that ramps from 1 to 24 concurrent streams and back. Replicas rise to 3 (troupe worker processes
the front starts) and return to 1 by draining; every request completes, none is lost on
scale-down (requests are in flight on the replicas it drains). Waits on the cluster's own state
and log lines, never on time; /metrics passes promtool with the cluster's and the autoscaler's
series; the operator view (GET /operator, headless Chromium) shows the nodes and a scale event."""
import json
import re
import shutil
import subprocess
import threading
import urllib.request

from conftest import Cluster, thread_stacks
from streaming_users import StreamingUsers

RULES = """
min_replicas: 1
max_replicas: 3
tick_seconds: 0.5
scale_up_cooldown_seconds: 3
scale_down_cooldown_seconds: 6
panic_window_seconds: 2
rules:
  - {name: batch, metric: running_per_replica, scale_up_above: 6, scale_down_below: 2,
     window_seconds: 3}
"""


def check_metrics(base_url, nodes):
    """The front's /metrics passes promtool and has each node's series and the autoscaler's."""
    text = urllib.request.urlopen(base_url + "/metrics", timeout=10).read().decode()
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/setup-deps"
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    for node in nodes:
        for series in ("troupe_node_num_requests_running", "troupe_node_kv_cache_usage_perc",
                       "troupe_node_busy_seconds_total", "troupe_node_queue_time_seconds_total",
                       "troupe_node_num_preemptions_total"):
            assert f'{series}{{node="{node}"}}' in text, (series, node)
        # The latency the front measured on each node: every node has served first tokens.
        count = re.search(r'^troupe_node_time_to_first_token_seconds_count\{node="%s"\} (\S+)$'
                          % re.escape(node), text, re.M)
        assert count and float(count.group(1)) > 0, (node, count)
        assert f'troupe_node_inter_token_latency_seconds_bucket{{node="{node}",le="+Inf"}}' in text
        assert f'troupe_node_request_failures_total{{node="{node}"}} 0' in text
    assert "troupe_autoscaler_desired_replicas 3" in text
    assert 'troupe_autoscaler_replicas{state="ready"} 3' in text
    assert 'troupe_autoscaler_scale_events_total{direction="up"}' in text


def check_operator_view(base_url):
    """GET /operator in headless Chromium under load: more than one node routable and a scale
    event with its reason; a screenshot goes to ARTIFACTS_DIR/operator_view.png."""
    from headless_browser import open_chromium, save_screenshot
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    browser = open_chromium("1200,1000")
    try:
        browser.get(base_url + "/operator")
        assert browser.title == "troupe operator"
        routable = lambda b: [r for r in b.find_elements(By.CSS_SELECTOR, "#nodes tr")
                              if "routable" in r.text]
        WebDriverWait(browser, 30).until(lambda b: len(routable(b)) >= 2)
        WebDriverWait(browser, 30).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, "#events tr"))
        # A few polls, so the charts have a line to draw.
        WebDriverWait(browser, 30).until(lambda b: len(b.find_element(
            By.CSS_SELECTOR, "#chart-tokens polyline").get_attribute("points").split()) >= 3)
        event = browser.find_elements(By.CSS_SELECTOR, "#events tr")[-1].text
        assert "1 → " in event and "batch" in event, event
        assert "desired" in browser.find_element(By.ID, "autoscaler").text
        assert save_screenshot(browser, "operator_view.png")
    finally:
        browser.quit()


def wait_for_both_drains(front):
    """Both started workers drained and exited, on their own (each finishes its few requests in
    a second or two); if one does not, the failure shows where its threads wait."""
    try:
        front.wait_for_line("drained and exited", timeout=120, count=2)
    except AssertionError as error:
        log = "".join(front.log)
        started = re.findall(r"started replica (\S+) \(pid (\d+)\)", log)
        exited = re.findall(r"replica (\S+) drained and exited", log)
        stuck = [(name, pid) for name, pid in started if name not in exited]
        raise AssertionError(f"{error}\n" + "\n".join(
            f"{name} (pid {pid}), its threads:\n{thread_stacks(int(pid))}"
            for name, pid in stuck)) from None


def ready_nodes(nodes):
    return sorted(name for name, n in nodes.items() if n["routable"])


def test_replicas_follow_the_load_up_and_back_and_no_request_is_lost(tmp_path):
    rules = tmp_path / "autoscale.yaml"
    rules.write_text(RULES)
    cluster = Cluster(0, extra_front_args=["--autoscale", "local", "--autoscale-rules",
                                           str(rules)])
    load = StreamingUsers(cluster.base_url, users=24, max_tokens=24)
    seen = set()
    try:
        # Ramp: one more stream each time a request ends, up to 24; then hold until it grew.
        for level in range(1, 25):
            load.set_level(level)
            load.wait_for_outcomes(level - 1)
        cluster.wait_for(lambda nodes: (seen.update(ready_nodes(nodes)) or True) and
                         len(ready_nodes(nodes)) == 3, timeout=180)
        assert len(seen) == 3, seen  # front + two started workers
        cluster.wait_for(lambda nodes: all(n["busy_seconds"] > 0 for n in nodes.values()))
        cluster.wait_for(lambda nodes: all(n["served"]["attempts"] > 0 for n in nodes.values()))
        cluster.wait_for_autoscaler(lambda a: a["ready"] == 3 and a["desired"] == 3)
        check_metrics(cluster.base_url, seen)
        check_operator_view(cluster.base_url)
        # Down to three streams (one per replica: under the rule's 2, and still in flight on
        # the replicas that leave): the autoscaler drains its workers one at a time.
        load.set_level(3)
        cluster.wait_for(lambda nodes: ready_nodes(nodes) == ["front"], timeout=180)
        wait_for_both_drains(cluster.front)
        load.finish()
        # Per node, the front measured every attempt: each request's first token is in some
        # node's histogram once its release is in (the nodes that left included).
        first_tokens = lambda nodes: sum(sum(n["served"]["time_to_first_token"]["counts"])
                                         for n in nodes.values())
        cluster.wait_for(lambda nodes: first_tokens(nodes) == len(load.outcomes))
    finally:
        load.finish()
        status = json.load(urllib.request.urlopen(cluster.base_url + "/cluster", timeout=10))
        code = cluster.stop()
    # Every request completed with all its tokens: none lost on scale-up or scale-down.
    assert load.outcomes
    failed = [o for o in load.outcomes
              if o.status != 200 or o.error or o.finish != "length" or o.tokens != 24]
    assert not failed, failed[:5]
    # The decisions are on record: up to 3, down to 1.
    events = status["autoscaler"]["events"]
    assert max(e["to"] for e in events) == 3, events
    assert events[-1]["to"] == 1, events
    assert all(abs(e["to"] - e["from"]) >= 1 for e in events)
    # None failed on any node; a request drained away before its first token tried twice.
    served = [n["served"] for n in status["nodes"]]
    assert sum(s["failed"] for s in served) == 0, served
    assert sum(s["attempts"] for s in served) >= len(load.outcomes)
    assert status["autoscaler"]["mode"] == "local"
    log = "".join(cluster.front.log)
    assert log.count("autoscaler: started replica") == 2, log[-3000:]
    assert log.count("drained and exited") == 2, log[-3000:]
    assert code == 0


def test_advisory_mode_decides_and_reports_but_starts_nothing():
    cluster = Cluster(0, extra_front_args=["--autoscale", "local", "--autoscale-advisory",
                                           "--min-replicas", "2", "--max-replicas", "2"])
    try:
        status = cluster.wait_for_autoscaler(lambda a: a["events"])
        assert status["advisory"] and status["desired"] == 2 and status["ready"] == 1, status
        assert status["events"][0]["rule"] == "min_replicas"
        cluster.front.wait_for_line("autoscaler (advisory, not acting): 1 -> 2 replicas")
        assert list(cluster.nodes()) == ["front"]
    finally:
        assert cluster.stop() == 0
    assert "started replica" not in "".join(cluster.front.log)


def test_a_draining_front_starts_no_replica_and_finishes_its_requests(tmp_path):
    """SIGTERM drains the front: its own node stops taking requests, which leaves the autoscaler
    no ready replica under its minimum of 1. The autoscaler stops as the drain starts, so the
    drain starts nothing, and the request in flight still gets all its tokens."""
    rules = tmp_path / "autoscale.yaml"
    rules.write_text(RULES)
    cluster = Cluster(0, extra_front_args=["--autoscale", "local", "--autoscale-rules",
                                           str(rules)])
    cluster.wait_for_autoscaler(lambda a: a["ready"] == 1)
    response = cluster.post("/v1/completions", {
        "prompt": "Once upon a time", "max_tokens": 480, "temperature": 0, "ignore_eos": True,
        "stream": True, "stream_options": {"include_usage": True}})
    assert response.status == 200
    first = response.readline()  # its first token: the request is in flight
    assert first.startswith(b"data: "), first
    rest = []
    reader = threading.Thread(target=lambda: rest.extend(response.readlines()))
    reader.start()
    code = cluster.stop()
    reader.join(timeout=60)
    log = "".join(cluster.front.log)
    assert "drain: signal received" in log
    assert "started replica" not in log, log[-3000:]
    chunks = [json.loads(line[6:]) for line in [first, *rest]
              if line.startswith(b"data: {")]
    assert chunks[-1]["usage"]["completion_tokens"] == 480, chunks[-1]
    assert code == 0
