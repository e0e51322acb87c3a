"""The pods of the Kubernetes manifests (deploy/k8s, the cpu overlay) run as written on this
machine: the front (Deployment troupe-front) and two replicas (StatefulSet troupe-replica, pods
troupe-replica-0 and -1), each container's command and args exactly as the manifest has them,
with the environment it sets, its init container, volumes, user and restrictions, each pod in
namespaces of its own with its own IP (tests/deploy/pod_runner.py, whose docstring lists every
difference from a Kubernetes node and why). They join, serve, and deleting a replica as kubelet
does (its preStop hook as written, then SIGTERM, SIGKILL only after
terminationGracePeriodSeconds) drains it while long streams are in flight on it: each stream
gets all its tokens, the replica exits 0 well within its grace period and the front routes to
it no more. The rest then stop the same way, cleanly.

What differs from the manifests, and only that:
  - the placeholder Secrets are replaced, as deploy/k8s/README.md ("Secrets to replace") says to
    before deploying (the first test shows that the placeholders stop the pods);
  - the drain test sets the front's min-replicas to 2 (TROUPE_MIN_REPLICAS, the settings' own
    override): as written (min 1), its autoscaler shrinks two idle replicas to one as soon as
    both have joined, draining troupe-replica-1 itself (the last test shows that path).
The front's autoscaler (autoscale: kubernetes) talks to a fake API server
(tests/support/fake_kube_api.py) with the in-cluster configuration Kubernetes gives the pod
(KUBERNETES_SERVICE_HOST/PORT, the service account's token, CA and namespace): no kubeconfig.

Needs root (namespaces, mounts, setpriv, a bridge); skipped where they cannot be made.
"""
import base64
import copy
import json
import os
import pathlib
import secrets
import shutil
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "support"))
import kustomize_subset  # noqa: E402
import pod_runner  # noqa: E402
from fake_kube_api import FakeKubeApi  # noqa: E402

TROUPE = os.environ["TROUPE_BIN"]
CPU_OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "cpu"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
MODELS = pathlib.Path(os.environ.get("TROUPE_HOME") or
                      os.path.expanduser("~/.cache/troupe")) / "models"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A Deployment's pod is named <deployment>-<pod-template-hash>-<suffix>; any such name will do.
FRONT_POD = "troupe-front-6b8f9c7d54-q7x2m"
REPLICA_PODS = ["troupe-replica-0", "troupe-replica-1"]
PLACEHOLDERS = {"admin": "sk-troupe-admin-REPLACE-ME", "tenant": "sk-troupe-tenant-REPLACE-ME"}


def why_pods_cannot_run():
    if os.geteuid() != 0:
        return "needs root (mount, PID and network namespaces, setpriv)"
    for tool in ("unshare", "nsenter", "setpriv", "mount", "ip"):
        if not shutil.which(tool):
            return f"needs {tool} (util-linux, iproute2)"
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            return "needs overlayfs"
    return None


@pytest.fixture
def node(tmp_path):
    reason = why_pods_cannot_run()
    if reason:
        pytest.skip(reason)
    assert (MODELS / MODEL_FILE).is_file(), f"no {MODEL_FILE} in {MODELS}: troupe model pull"
    # The image's copy of the binary (COPY --from=build): a snapshot, which a rebuild of
    # TROUPE_BIN while the test runs does not change under the pods.
    binary = tmp_path / "image" / "troupe"
    binary.parent.mkdir()
    shutil.copy2(TROUPE, binary)
    image = pod_runner.Image(str(DOCKERFILE), str(binary), str(MODELS), str(ROOT))
    n = pod_runner.Node(str(tmp_path / "node"), image)
    yield n
    n.close()


def find(objects, kind, name):
    return pod_runner.find_object(objects, kind, name)


def with_secrets_replaced(objects):
    """The manifests with every placeholder Secret value replaced by a fresh one, made as
    deploy/k8s/README.md says. Returns (objects, {"admin": key, "tenant": key})."""
    cluster = find(objects, "Secret", "troupe-cluster-secret")["stringData"]
    assert cluster["secret"] == "REPLACE-ME", "the placeholder changed: update this test"
    # (umask 077; head -c 32 /dev/urandom | base64 > cluster.secret): with its newline.
    cluster["secret"] = base64.b64encode(os.urandom(32)).decode() + "\n"
    api = find(objects, "Secret", "troupe-api-keys")["stringData"]
    keys = {role: "sk-" + secrets.token_urlsafe(24) for role in PLACEHOLDERS}
    assert api["admin-key"] == PLACEHOLDERS["admin"]
    for role, placeholder in PLACEHOLDERS.items():
        assert placeholder in api["api-keys.yaml"], f"{placeholder} is not in api-keys.yaml"
        api["api-keys.yaml"] = api["api-keys.yaml"].replace(placeholder, keys[role])
    api["admin-key"] = keys["admin"]
    assert "REPLACE-ME" not in json.dumps(objects)
    return objects, keys


# ---------------------------------------------------------------------------------------------
# HTTP


def get_json(url, key=None, timeout=10):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Front:
    def __init__(self, pod, keys):
        self.pod, self.keys = pod, keys
        (port,) = [p["containerPort"] for p in pod.container().manifest["ports"]
                   if p["name"] == "http"]
        self.url = f"http://{pod.ip}:{port}"

    def nodes(self):
        status, body = get_json(self.url + "/cluster", self.keys["admin"])
        assert status == 200, (status, body)
        return {n["name"]: n for n in body["nodes"]}

    def wait_for(self, condition, timeout=120, what="the cluster"):
        deadline = time.monotonic() + timeout
        nodes = {}
        while time.monotonic() < deadline:
            if self.pod.container().exit_code() is not None:
                raise AssertionError("the front exited:\n" + "".join(self.pod.container().log))
            try:
                nodes = self.nodes()
            except OSError:
                nodes = {}
            if condition(nodes):
                return nodes
            time.sleep(0.1)
        raise AssertionError(f"{what} never got there: {nodes}")

    def stream(self, i, max_tokens, progress=None):
        """One streamed completion with the tenant key: a dict of what came back."""
        body = {"prompt": f"Pod test story {i}:", "max_tokens": max_tokens, "temperature": 0,
                "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
        request = urllib.request.Request(
            self.url + "/v1/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.keys['tenant']}"})
        out = {"i": i, "status": 0, "chunks": 0, "tokens": None, "finish": None, "done": False,
               "error": None}
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                out["status"] = response.status
                for raw in response:
                    line = raw.decode().strip()
                    if line == "data: [DONE]":
                        out["done"] = True
                        continue
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line[len("data: "):])
                    if "error" in event:
                        out["error"] = event["error"]
                    if event.get("usage"):
                        out["tokens"] = event["usage"]["completion_tokens"]
                    for choice in event.get("choices", []):
                        out["chunks"] += 1
                        out["finish"] = choice.get("finish_reason") or out["finish"]
                        if progress is not None:
                            progress.append(i)
        except urllib.error.HTTPError as e:
            out["status"], out["error"] = e.code, e.read().decode()
        except OSError as e:  # a cut connection is a lost request
            out["error"] = repr(e)
        return out


def hook_drained(pod, termination):
    """The preStop hook asked the front to drain the pod's node and returned by itself (exit 0),
    while the container still ran: the kubelet's SIGTERM after it let the same drain go on."""
    hook = termination.hook
    return hook is not None and f"draining node {pod.name}" in hook.stdout and \
        hook.returncode == 0


def complete(result, max_tokens):
    return (result["status"] == 200 and result["error"] is None and result["done"] and
            result["tokens"] == max_tokens and result["finish"] == "length")


class Cluster:
    """The front pod, the fake API server it scales the StatefulSet through, and the replica
    pods, started as a kubelet would start them, up to: both replicas joined and ready."""

    def __init__(self, node, tmp_path, front_env=None):
        self.began = time.monotonic()
        self.timings = {}
        self.node = node
        self.objects, self.keys = with_secrets_replaced(kustomize_subset.render(CPU_OVERLAY))
        front = find(self.objects, "Deployment", "troupe-front")
        self.front_pod = pod_runner.Pod(node, self.objects, front, FRONT_POD,
                                        {"front": front_env or {}})
        self.front_pod.create_sandbox()
        # The API server the front's autoscaler (autoscale: kubernetes) talks to, where its pod
        # finds it (KUBERNETES_SERVICE_HOST/PORT) with the service account's token, CA and
        # namespace; its StatefulSet as it is with the two replica pods this test runs.
        api_dir = tmp_path / "kube-api"
        api_dir.mkdir()
        self.api = self.front_pod.in_network(lambda: FakeKubeApi(
            str(api_dir), token=secrets.token_urlsafe(32),
            namespace=front["metadata"]["namespace"], statefulset="troupe-replica",
            replicas=len(REPLICA_PODS)))
        self.replicas = {}

    def start(self, wait_until_ready=True):
        self.node.kube_api = ("127.0.0.1", self.api.port)
        self.front_pod.mount_service_account(self.api.token,
                                             pathlib.Path(self.api.ca_crt).read_text())
        self.front_pod.start()
        self.front = Front(self.front_pod, self.keys)
        self.front_pod.wait_for_probe("front", "startup")
        self.lap("front live")
        statefulset = find(self.objects, "StatefulSet", "troupe-replica")
        for name in REPLICA_PODS:  # podManagementPolicy: Parallel
            self.replicas[name] = pod_runner.Pod(self.node, self.objects, statefulset,
                                                 name).start()
        for pod in self.replicas.values():
            pod.wait_for_probe("replica", "startup")
        if wait_until_ready:
            self.wait_until_ready()
        return self

    def wait_until_ready(self):
        """Both replicas routable under their pod names, and every pod's readiness probe
        (GET /health) 200."""
        self.front.wait_for(lambda nodes: set(nodes) == set(REPLICA_PODS) and
                            all(n["routable"] for n in nodes.values()), what="joining")
        for pod in self.replicas.values():
            pod.wait_for_probe("replica", "readiness")
        self.front_pod.wait_for_probe("front", "readiness")
        self.lap("ready")

    def lap(self, what):
        self.timings[what] = round(time.monotonic() - self.began, 1)

    def dump(self):
        for pod in self.node.pods:
            for c in list(pod.init_containers.values()) + list(pod.containers.values()):
                print(f"---- {pod.name}/{c.name} (exit {c.exit_code()}):")
                print("".join(c.log[-40:]), end="")
        print("---- the API server's requests:", [(m, p, b) for m, p, _, b in self.api.requests])


@pytest.fixture
def cluster(node, tmp_path):
    """Cluster(front_env=...) for a test; its fake API server closes after it."""
    made = []
    yield lambda **kwargs: made.append(Cluster(node, tmp_path, **kwargs)) or made[-1]
    for c in made:
        c.api.close()


# ---------------------------------------------------------------------------------------------


def test_the_placeholder_secrets_keep_a_replica_from_starting(node):
    """secrets.yaml and the README promise it: as written, the cluster secret is too short."""
    objects = kustomize_subset.render(CPU_OVERLAY)
    pod = pod_runner.Pod(node, objects, find(objects, "StatefulSet", "troupe-replica"),
                         REPLICA_PODS[0]).start()
    assert pod.init_containers["cluster-secret"].exit_code() == 0
    replica = pod.container("replica")
    assert replica.wait(30) == 2, "".join(replica.log)
    assert "shorter than 16 bytes" in "".join(replica.log)


def test_a_front_and_two_replicas_join_serve_and_drain(cluster):
    """The issue's test. One setting differs from the manifests: the front's min-replicas is 2
    (TROUPE_MIN_REPLICAS, the settings' own override), or its autoscaler, as written (min 1),
    would shrink the idle two-replica StatefulSet at once and drain troupe-replica-1 itself
    (the last test), before anything here could delete it."""
    c = cluster(front_env={"TROUPE_MIN_REPLICAS": "2"})
    try:
        c.start()
        front = c.front

        # Serve: concurrent streams through the front, with the tenant key of the Secret.
        before = front.nodes()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: front.stream(i, 64), range(8)))
        assert all(complete(r, 64) for r in results), results
        after = front.nodes()
        routed = {name: after[name]["routed"] - before[name]["routed"] for name in REPLICA_PODS}
        assert sum(routed.values()) == 8 and all(routed.values()), routed
        c.lap("served")

        # Drain: long streams in flight on both replicas, then troupe-replica-1 is deleted as
        # kubelet deletes a pod (preStop hook as written, SIGTERM, SIGKILL after the grace).
        victim = c.replicas["troupe-replica-1"]
        grace = victim.spec["terminationGracePeriodSeconds"]
        progress = []
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(front.stream, 100 + i, 200, progress) for i in range(8)]
            front.wait_for(lambda nodes: nodes["troupe-replica-1"]["outstanding"] >= 3 and
                           nodes["troupe-replica-0"]["outstanding"] >= 3 and len(progress) >= 8,
                           what="load on both replicas")
            at_delete = len(progress)
            deleted = victim.terminate()["replica"]
            results = [f.result(timeout=300) for f in futures]
        c.lap("drained")
        assert all(complete(r, 200) for r in results), results  # nothing lost
        assert len(progress) - at_delete > 8 * 100, (at_delete, len(progress))
        assert hook_drained(victim, deleted), deleted
        assert deleted.exit_code == 0 and not deleted.killed, deleted
        assert deleted.seconds < grace, deleted
        nodes = front.nodes()
        assert "troupe-replica-1" not in nodes or not nodes["troupe-replica-1"]["routable"], nodes
        assert nodes["troupe-replica-0"]["routable"], nodes
        assert complete(front.stream(999, 16), 16)  # the other one still serves

        # The rest, the same way: the last replica, then the front (no hook: SIGTERM drains).
        # Its hook takes 2 s more after asking for the drain, as a cold `troupe drain` on a
        # loaded node can (3 s seen here), while the idle node drains at once: the replica, its
        # container's first process, waits for the hook rather than killing it as it exits.
        last_pod = c.replicas["troupe-replica-0"]
        replica = last_pod.container("replica")
        replica.manifest = copy.deepcopy(replica.manifest)  # the StatefulSet's template: shared
        hook = replica.manifest["lifecycle"]["preStop"]["exec"]["command"]
        hook[-1] = f"({hook[-1]}) && sleep 2"
        last = last_pod.terminate()["replica"]
        assert hook_drained(last_pod, last), last
        assert last.hook.container_running, last
        assert last.exit_code == 0 and not last.killed, last
        assert last.seconds - last.hook_seconds < 5, last  # not the 10 s bound: it saw the hook end
        stopped = c.front_pod.terminate()["front"]
        assert stopped.exit_code == 0 and not stopped.killed, stopped
        assert stopped.seconds < c.front_pod.spec["terminationGracePeriodSeconds"], stopped
        c.lap("stopped")
        patches = [body for method, _, _, body in c.api.requests if method == "PATCH"]
        # A replica being deleted is one the StatefulSet brings back: the autoscaler (min 2)
        # counts it as starting and does not find the cluster under its minimum
        # (autoscale/actuators/kubernetes_actuator.cpp). Load may still ask for a third (the
        # queue rule, over the drain's streams): its decision names that rule.
        decisions = [line for line in c.front_pod.containers["front"].log
                     if "autoscaler: " in line and " replicas (" in line]
        assert not any("under the minimum" in line for line in decisions), decisions
        assert all(json.loads(body)["spec"]["replicas"] <= 2 for body in patches) or decisions, \
            patches
        peaks = {f"{pod.name}/{name}": container.memory_peak()
                 for pod in c.node.pods for name, container in pod.containers.items()}
        print(f"\ntimings (s): {c.timings}\ntroupe-replica-1: {deleted}\n"
              f"troupe-replica-0: {last}\nfront: {stopped}\nscale patches: {patches}\n"
              f"memory peaks (bytes, under limits.memory): {peaks}")
    except BaseException:
        c.dump()
        raise


def test_as_written_the_autoscaler_shrinks_two_idle_replicas_and_drains_the_highest(cluster):
    """Nothing overridden: the front's autoscaler (min-replicas 1) finds the StatefulSet at two
    idle replicas, patches its scale to 1 through the API with the pod's service account, and
    drains troupe-replica-1, which leaves and exits; then the StatefulSet controller's deletion
    of that pod (kubelet: the preStop hook if it still runs, SIGTERM) finds it gone or going.
    The other replica serves on."""
    c = cluster()
    try:
        c.start(wait_until_ready=False)
        # A fresh front holds any scale-down until its samples span its longest rule window
        # (autoscale/policy.cpp: 60 s as written, the kv_cache rule), then shrinks on a later
        # sample: 60 s was the whole margin, and runs failed by a second or two.
        c.api.wait_for(lambda api: api.replicas == 1, timeout=120)
        patches = [json.loads(body) for method, _, _, body in c.api.requests if method == "PATCH"]
        assert patches[-1]["spec"] == {"replicas": 1}, patches
        c.front_pod.container().wait_for_line("draining troupe-replica-1")
        victim = c.replicas["troupe-replica-1"]
        deleted = victim.terminate()["replica"]
        # Either troupe had exited by itself when the deletion came (no hook), or it was still
        # exiting: the hook's `troupe drain` may get 404 (the node has left the front), and the
        # kubelet's SIGTERM is not a second signal after the front's drain
        # (actors/termination.cpp): the drain ends as it would have, with 0.
        assert not deleted.killed, deleted
        assert deleted.exit_code == 0, deleted
        c.front.wait_for(lambda nodes: nodes.get("troupe-replica-0", {}).get("routable") and
                         not nodes.get("troupe-replica-1", {}).get("routable"),
                         what="one replica left")
        c.replicas["troupe-replica-0"].wait_for_probe("replica", "readiness")
        assert complete(c.front.stream(1, 32), 32)
        for pod in (c.replicas["troupe-replica-0"], c.front_pod):
            (t,) = pod.terminate().values()
            assert t.exit_code == 0 and not t.killed, t
        c.lap("stopped")
        print(f"\ntimings (s): {c.timings}\ntroupe-replica-1 deleted: {deleted}")
    except BaseException:
        c.dump()
        raise
