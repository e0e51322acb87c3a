"""The Kubernetes actuator against a fake API server (tests/support/fake_kube_api.py) that
speaks the real endpoints and status codes; the client is troupe's own. The front scales a
StatefulSet's `scale` subresource: the right patch body and headers, a 409 read again and
retried, the highest ordinal drained first on scale-down (real worker processes named as its
pods), and one clear line with exit 2 for a 403, a certificate it cannot verify, an API server
that does not answer, and an HPA that already owns the StatefulSet."""
import json
import os
import subprocess
import sys

import pytest

from conftest import SMALL, Cluster

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from fake_kube_api import FakeKubeApi, make_ca_and_server_cert  # noqa: E402

FAST_DOWN = """
tick_seconds: 0.5
scale_down_cooldown_seconds: 1
rules:
  - {name: batch, metric: running_per_replica, scale_up_above: 6, scale_down_below: 2,
     window_seconds: 2}
"""

STUCK = """
tick_seconds: 0.5
scale_up_cooldown_seconds: 0.5
ready_timeout_seconds: 1
"""


@pytest.fixture
def api(tmp_path):
    fake = FakeKubeApi(str(tmp_path))
    yield fake
    fake.close()


def serve_once(tmp_path, kubeconfig, *extra):
    """`troupe serve --autoscale kubernetes` that should refuse to start: (code, output)."""
    result = subprocess.run(
        [os.environ["TROUPE_BIN"], "serve", "--port", "0", "--cluster-port", "0", "--usage-db",
         str(tmp_path / "usage.db"), *SMALL, "--autoscale", "kubernetes", "--kube-statefulset",
         "troupe", "--kubeconfig", kubeconfig, *extra],
        capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def kube_cluster(tmp_path, api, rules_text, min_replicas, max_replicas):
    """A front autoscaling the fake API server's StatefulSet under `rules_text`."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_text)
    kubeconfig = api.kubeconfig(str(tmp_path / "kubeconfig"))
    return Cluster(0, extra_front_args=["--autoscale", "kubernetes", "--kube-statefulset",
                                        "troupe", "--kubeconfig", kubeconfig,
                                        "--autoscale-rules", str(rules),
                                        "--min-replicas", str(min_replicas),
                                        "--max-replicas", str(max_replicas)])


def patches(api):
    return [r for r in api.requests if r[0] == "PATCH"]


def test_scales_the_statefulset_with_a_merge_patch_and_retries_a_conflict(tmp_path, api):
    api.conflicts = 1  # the first patch finds the scale changed by another writer
    kubeconfig = api.kubeconfig(str(tmp_path / "kubeconfig"))
    cluster = Cluster(0, extra_front_args=["--autoscale", "kubernetes", "--kube-statefulset",
                                           "troupe", "--kubeconfig", kubeconfig,
                                           "--min-replicas", "3", "--max-replicas", "4"])
    try:
        # Under the minimum (the front's own replica only): 3 replicas = the front + 2 pods.
        api.wait_for(lambda a: a.replicas == 2)
        sent = patches(api)
        assert len(sent) == 2, sent  # the 409, then the retry on the version read again
        method, path, headers, body = sent[-1]
        assert path == "/apis/apps/v1/namespaces/default/statefulsets/troupe/scale"
        assert headers["Content-Type"] == "application/merge-patch+json"
        assert headers["Authorization"] == "Bearer test-token"
        assert json.loads(body) == {"metadata": {"resourceVersion": "101"},
                                    "spec": {"replicas": 2}}
        assert json.loads(sent[0][3])["metadata"]["resourceVersion"] == "100"
        cluster.front.wait_for_line("statefulset default/troupe scaled 0 -> 2")
        # The two pods have not joined: capacity on the way, not asked for again.
        status = cluster.wait_for_autoscaler(lambda a: a["starting"] == 2)
        assert status["mode"] == "kubernetes"
        assert status["desired"] == 3 and status["ready"] == 1, status
        assert len(patches(api)) == 2
    finally:
        assert cluster.stop() == 0
    assert "test-token" not in "".join(cluster.front.log)  # the token never reaches a log


def test_a_conflict_applies_the_change_to_the_count_read_again(tmp_path, api):
    """Another writer scales the StatefulSet between troupe's read and its patch: after the 409,
    troupe adds its change to the count it reads again (it wrote its old total over the other
    writer's)."""
    api.conflicts = 1
    answer = api.answer

    def another_writer(method, path, headers, body):
        if method == "PATCH" and api.conflicts:
            api.replicas = 1  # scaled by hand just before troupe's first patch lands
        return answer(method, path, headers, body)

    api.answer = another_writer
    cluster = kube_cluster(tmp_path, api, "tick_seconds: 0.5\n", 3, 8)
    try:
        api.wait_for(lambda a: len(patches(a)) >= 2)
        # The front alone under a minimum of 3: two pods more, on top of the other writer's one.
        assert [json.loads(p[3]) for p in patches(api)[:2]] == [
            {"metadata": {"resourceVersion": "100"}, "spec": {"replicas": 2}},
            {"metadata": {"resourceVersion": "101"}, "spec": {"replicas": 3}}], patches(api)
        cluster.front.wait_for_line("statefulset default/troupe scaled 1 -> 3")
        assert api.replicas == 3
    finally:
        assert cluster.stop() == 0


def test_scale_down_drains_the_highest_ordinal(tmp_path, api):
    api.replicas = 2
    cluster = kube_cluster(tmp_path, api, FAST_DOWN, 2, 3)
    try:
        # The StatefulSet's pods, as real worker processes under their pod names.
        cluster.start_worker("troupe-0")
        cluster.start_worker("troupe-1")
        # Idle: 3 replicas (front, troupe-0, troupe-1) shrink to the minimum of 2 by removing
        # the highest ordinal, as the StatefulSet would.
        api.wait_for(lambda a: a.replicas == 1, timeout=120)
        cluster.front.wait_for_line("draining troupe-1", timeout=30)
        assert cluster.workers["troupe-1"].wait_exit(60) == 0  # drained, exited
        nodes = cluster.nodes()
        assert nodes["troupe-0"]["routable"] and nodes["front"]["routable"]
    finally:
        assert cluster.stop() == 0


def test_a_pod_that_never_gets_ready_is_not_asked_for_again_and_again(tmp_path, api):
    """A pod stuck pending (no node to run it) stays in the StatefulSet's spec and counts there:
    the pod asked for in its place would be the same StatefulSet's next, stuck the same way. The
    spec grew by one every ready_timeout."""
    cluster = kube_cluster(tmp_path, api, STUCK, 3, 8)
    try:
        api.wait_for(lambda a: a.replicas == 2)  # the front + 2 pods, which never join
        status = cluster.wait_for_autoscaler(lambda a: a["stuck"] == 2)
        # Three more decisions to reach the minimum, each of them after the pods were stuck.
        cluster.wait_for_autoscaler(lambda a: a["scale_ups"] >= status["scale_ups"] + 3)
        assert api.replicas == 2, api.replicas
    finally:
        assert cluster.stop() == 0


def test_a_403_is_one_line_naming_what_the_service_account_needs(tmp_path, api):
    api.forbidden = True
    code, output = serve_once(tmp_path, api.kubeconfig(str(tmp_path / "kubeconfig")))
    assert code == 2, output
    assert "forbidden" in output and "statefulsets/scale" in output, output
    assert "test-token" not in output


def test_a_certificate_from_another_ca_is_refused(tmp_path, api):
    other_ca, _, _ = make_ca_and_server_cert(str(tmp_path), name="other")
    code, output = serve_once(tmp_path, api.kubeconfig(str(tmp_path / "kubeconfig"), other_ca))
    assert code == 2, output
    assert "certificate verify failed" in output, output
    assert api.requests == []  # the handshake failed: not a byte of a request was sent


def test_an_api_server_that_does_not_answer_times_out(tmp_path, api):
    api.hang = True
    code, output = serve_once(tmp_path, api.kubeconfig(str(tmp_path / "kubeconfig")))
    assert code == 2, output
    assert "no answer within" in output, output


@pytest.mark.parametrize("before", [[], [7, {"spec": "StatefulSet/troupe"}]],
                         ids=["alone", "after items of another shape"])
def test_an_hpa_on_the_statefulset_means_troupe_does_not_scale_it(tmp_path, api, before):
    """Items troupe cannot read do not hide the HPA after them (they ended the list's reading)."""
    api.hpas = before + [{"metadata": {"name": "troupe-hpa"},
                          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1",
                                                      "kind": "StatefulSet", "name": "troupe"}}}]
    code, output = serve_once(tmp_path, api.kubeconfig(str(tmp_path / "kubeconfig")))
    assert code == 2, output
    assert "troupe-hpa" in output and "one owner" in output, output


@pytest.mark.parametrize("item", [7, "troupe-hpa", {"metadata": {"name": "troupe-hpa"},
                                                    "spec": "StatefulSet/troupe"}],
                         ids=["a number", "a string", "spec a string"])
def test_an_hpa_list_item_of_another_shape_does_not_stop_the_autoscaler(tmp_path, api, item):
    """An HPA list item troupe cannot read names no owner: it threw out of the check at start
    and out of the autoscaler's actor on every scale, which reads the list first."""
    api.hpas = [item]
    cluster = kube_cluster(tmp_path, api, STUCK, 3, 8)
    try:
        api.wait_for(lambda a: a.replicas == 2)
        # The pods never join: each later decision reads the list again, and the actor goes on.
        hpa_reads = lambda a: sum("horizontalpodautoscalers" in r[1] for r in a.requests)
        reads = hpa_reads(api)
        api.wait_for(lambda a: hpa_reads(a) >= reads + 3)
        status = cluster.wait_for_autoscaler(lambda a: a["stuck"] == 2)
        assert status["error"] == "" and api.replicas == 2, status
        assert cluster.front.process.poll() is None
    finally:
        assert cluster.stop() == 0
