"""troupe deploy k8s: the manifests of deploy/k8s from flags, for users without kustomize.
With --autoscale and the base's bounds it makes exactly the objects the cpu overlay renders;
for several flag sets every object validates strictly against Kubernetes' schemas, and the
flags show where they should: replica count or autoscaler bounds (and no Role without the
autoscaler), namespace, image, model path, GPUs, and the replicas' memory and KV cache from the
planner (troupe plan)."""
import json
import os
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kustomize_subset  # noqa: E402
from test_manifests import CRD_KINDS, K8S, KUBERNETES_VERSION  # noqa: E402

TROUPE = os.environ["TROUPE_BIN"]


def deploy(*flags):
    result = subprocess.run([TROUPE, "deploy", "k8s", *flags], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return [o for o in yaml.safe_load_all(result.stdout) if o]


def plan(*flags):
    result = subprocess.run([TROUPE, "plan", "--json", *flags], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def find(objects, kind, name):
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def replica_container(objects):
    return find(objects, "StatefulSet", "troupe-replica")["spec"]["template"]["spec"][
        "containers"][0]


def settings(objects, file):
    return yaml.safe_load(find(objects, "ConfigMap", "troupe-config")["data"][file])


FLAG_SETS = [
    [],
    ["--replicas", "3"],
    ["--autoscale", "--min-replicas", "2", "--replicas", "6"],
    ["--namespace", "prod", "--image", "registry.example/troupe:1.0"],
    ["--device-memory", "4GiB", "--max-model-len", "4096"],
    ["--device", "cuda", "--device-memory", "24GiB", "--autoscale"],
]


def test_with_the_base_bounds_and_size_it_is_the_cpu_overlay():
    """The base's replicas are sized by the planner for a 2 GiB pod: the same flags make the
    same objects, resources and KV cache included."""
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    rendered = {key(o): o for o in kustomize_subset.render(K8S / "overlays" / "cpu")}
    written = {key(o): o for o in deploy("--autoscale", "--replicas", "4", "--device-memory",
                                         "2GiB")}
    assert written == rendered


@pytest.mark.parametrize("flags", FLAG_SETS, ids=lambda f: " ".join(f) or "defaults")
def test_every_object_validates_strictly(flags):
    for o in deploy(*flags):
        if (o["apiVersion"], o["kind"]) in CRD_KINDS:
            continue
        kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)


def test_the_flags_land_where_they_should():
    fixed = deploy("--replicas", "3", "--namespace", "prod", "--image", "reg/troupe:1")
    assert find(fixed, "StatefulSet", "troupe-replica")["spec"]["replicas"] == 3
    assert not [o for o in fixed if o["kind"] in ("Role", "RoleBinding")]  # no autoscaler
    assert "autoscale" not in settings(fixed, "cluster-front.yaml")
    assert all(o["metadata"]["namespace"] == "prod" for o in fixed)
    images = {c["image"] for o in fixed if o["kind"] in ("Deployment", "StatefulSet")
              for c in o["spec"]["template"]["spec"]["containers"] +
              o["spec"]["template"]["spec"].get("initContainers", [])}
    assert images == {"reg/troupe:1"}

    scaled = deploy("--autoscale", "--min-replicas", "2", "--replicas", "6")
    assert "replicas" not in find(scaled, "StatefulSet", "troupe-replica")["spec"]
    front = settings(scaled, "cluster-front.yaml")
    assert (front["autoscale"], front["min-replicas"], front["max-replicas"]) == (
        "kubernetes", 2, 6)
    binding = find(scaled, "RoleBinding", "troupe-autoscaler")
    assert binding["subjects"][0]["namespace"] == "troupe"

    gpu = replica_container(deploy("--device", "cuda", "--device-memory", "24GiB"))
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"name": "TROUPE_DEVICE", "value": "cuda"} in gpu["env"]


def test_the_replicas_are_sized_by_the_planner():
    p = plan("--device-memory", "4GiB", "--max-model-len", "4096")
    objects = deploy("--device-memory", "4GiB", "--max-model-len", "4096")
    mib = lambda n: f"{(n + (1 << 20) - 1) >> 20}Mi"  # noqa: E731
    resources = replica_container(objects)["resources"]
    assert resources["requests"]["memory"] == mib(p["memory_request_bytes"])
    assert resources["limits"]["memory"] == mib(p["memory_limit_bytes"])
    assert settings(objects, "replica.yaml")["kv-cache-memory"] == mib(p["kv_cache_bytes"]) + "B"


def test_bad_flags_are_one_line_and_exit_2():
    for flags, message in [
        (["--min-replicas", "2"], "--min-replicas is for --autoscale"),
        (["--autoscale", "--min-replicas", "5", "--replicas", "3"], "is above --replicas 3"),
        (["--device-memory", "10MiB"], "does not fit"),
        (["--max-model-len", "4096"], "plan with --device-memory"),
        (["--replicas", "0"], "--replicas must be in"),
    ]:
        result = subprocess.run([TROUPE, "deploy", "k8s", *flags], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, (flags, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (flags, result.stderr)
