"""Runs pods of the rendered Kubernetes manifests (deploy/k8s) as processes on this machine, the
way a kubelet and a container runtime would, so that a test can run the containers' commands as
written: test_pods.py. Needs root, util-linux (unshare, nsenter, setpriv, mount), iproute2 and
overlayfs; `python3 pod_runner.py sandbox|container SPEC.json` is its own entry point inside the
namespaces it makes.

What a pod gets here, as in Kubernetes:

  sandbox     a process holding the pod's mount, UTS, IPC and network namespaces (the pause
              container): hostname = the pod's name; its own network namespace with a veth on a
              bridge of this machine and its own IP (the CNI's part), so every pod listens on
              the ports its manifest names (8000, 7070, 8001 for each replica) and reaches the
              others over a network, not loopback.
  volumes     made where the sandbox sees them, by kubelet's rules: Secret and ConfigMap volumes
              with the atomic writer's layout (`..data` and one symlink per key), items,
              defaultMode; Secrets and medium: Memory emptyDirs on tmpfs with their sizeLimit;
              emptyDirs mode 0777; with fsGroup, everything group-owned by it, setgid
              directories, files at least group-readable (kubelet's SetVolumeOwnership); the
              service account token volume (token, ca.crt, namespace) in every container of a
              pod with automountServiceAccountToken.
  containers  init containers first, one at a time, each to exit 0; then the containers. Each
              in its own mount and PID namespace inside the sandbox's (it is PID 1 there, as the
              `command` of a container is), with a root file system of its own: an overlay on
              this machine's root (the image, see below), read-only when
              readOnlyRootFilesystem; /proc, a minimal /dev, /sys read-only; each volumeMount
              bind-mounted at its mountPath (subPath: the one file, readOnly: read-only); a
              kubelet-style /etc/hosts. Then setpriv drops to runAsUser/runAsGroup with fsGroup
              as supplementary group, no_new_privs (allowPrivilegeEscalation: false) and an empty
              capability bounding set (drop: [ALL]), and execs `command` + `args`, with `$(VAR)`
              expanded as Kubernetes does, in the image's WORKDIR, with the environment Kubernetes
              gives: HOSTNAME, the image's ENV, the manifest's env with every valueFrom resolved
              (fieldRef, secretKeyRef, configMapKeyRef, resourceFieldRef with its divisor), the
              Service variables (enableServiceLinks: TROUPE_FRONT_SERVICE_HOST ...) and the
              kubernetes Service's (KUBERNETES_SERVICE_HOST/PORT), HOME from the image's passwd.
              runAsNonRoot is checked. limits.memory is a memory cgroup limit where cgroup v1's
              memory controller is writable here.
  hooks       preStop exec hooks run as written, inside the container (its namespaces, PID
              namespace included, root, working directory, user, environment), as the CRI's
              exec does: so, as in Kubernetes, a hook still running when the container's PID 1
              exits is killed with the rest of that PID namespace (exit 137).
  termination as the kubelet deletes a pod: the preStop hook, then SIGTERM to the container's
              PID 1, then SIGKILL once terminationGracePeriodSeconds (counted from the start,
              hook included; at least 2 s after the hook) have passed. Whether SIGKILL was needed
              is recorded.
  probes      httpGet probes as written (path, named port) against the pod's IP.

The image (deploy/docker/Dockerfile) is not built here (no container engine): its stand-in is this
machine's root file system (Debian 12, as the image's debian:12-slim; it has the libraries the
binary links, plus much more), with what the Dockerfile's final stage adds laid over it in the
container's overlay: the troupe binary under test at /usr/local/bin/troupe, the host's model
directory at /models (read-only), the troupe user and group (from its useradd/groupadd), the
directories its `install -d` makes, its ENV and WORKDIR, and the base image's PATH.

Differences from a Kubernetes node, each because this is one machine with no cluster:
  - The Service troupe-front has no virtual IP and no kube-proxy: its name (and
    troupe-front.troupe.svc.cluster.local) resolves, through the pods' /etc/hosts, to the IP of
    the pod that backs it, instead of through cluster DNS to a ClusterIP; its environment
    variables carry that IP. The headless Service's per-pod names are in each pod's own hosts
    file, as kubelet writes them.
  - The kubernetes API server is a fake (tests/support/fake_kube_api.py) that the test starts in
    the front pod's network namespace on 127.0.0.1 (its certificate names 127.0.0.1): the
    front's KUBERNETES_SERVICE_HOST/PORT point there, instead of at the kubernetes Service.
    The token, CA and namespace are mounted where Kubernetes mounts them, so the front uses its
    in-cluster configuration, as written, with no kubeconfig.
  - resources: requests are not scheduled (the three pods request 5 CPUs on whatever this
    machine has); limits.memory is enforced only where a cgroup v1 memory controller is
    writable; ephemeral emptyDir sizeLimits (disk) are not enforced; medium: Memory ones are
    (tmpfs size).
  - No seccomp profile (RuntimeDefault) is applied, and no devpts or mqueue in /dev.
  - No controllers: the test plays the Deployment's and StatefulSet's part (which pods, named
    how) and the kubelet's; probes run when the test asks, not every periodSeconds; nothing
    restarts a container that exits (restartPolicy: Always would) and failed probes remove
    nothing from a Service.
  - The pods share this machine's kernel, CPUs and root file system (as the image's stand-in,
    under each container's own overlay); the pod IPs are on a bridge of this machine.
  - The binary is the one built here (a copy of TROUPE_BIN), which may differ from the
    image's build (e.g. TROUPE_CUDA, TROUPE_PORTABLE).
  - So that nothing outlives an interrupted test, each container's unshare dies with the
    test (PR_SET_PDEATHSIG), its PID 1 with unshare (--kill-child, kept past the change of
    user by setpriv --pdeathsig keep); the sandboxes end when their stdin closes.
"""
import base64
import ctypes
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from fractions import Fraction

RUNNER = os.path.abspath(__file__)
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# The PATH of debian:12-slim's image config, which the Dockerfile's final stage keeps.
BASE_IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Kubelet gives a container at least this long between SIGTERM and SIGKILL, hook or not.
MINIMUM_GRACE_SECONDS = 2
CLONE_NEWNET = 0x40000000


class Unsupported(Exception):
    """The manifest uses something this runner does not implement (so it is not run silently
    differently)."""


class PodFailed(Exception):
    """A pod did not start as Kubernetes would have it (an init container failed, ...)."""


# ---------------------------------------------------------------------------------------------
# Kubernetes' rules, as functions


def quantity(text):
    """A Kubernetes resource quantity ("2", "10m", "3Gi") as an exact Fraction."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|)", str(text))
    if not m:
        raise Unsupported(f"resource quantity {text!r}")
    factor = {"": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
              "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
              "Pi": 2**50, "Ei": 2**60}[m.group(2)]
    return Fraction(m.group(1)) * factor


def expand(text, env):
    """Kubernetes' $(VAR) expansion: $(VAR) becomes VAR's value when VAR is defined and stays as
    it is otherwise; $$ is one $."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            if text[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            if text[i + 1] == "(":
                close = text.find(")", i + 2)
                if close != -1:
                    name = text[i + 2:close]
                    out.append(env[name] if name in env else text[i:close + 1])
                    i = close + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def find_object(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(found) != 1:
        raise PodFailed(f"{kind}/{name}: {len(found)} in the manifests")
    return found[0]


def object_data(o):
    """A Secret's or ConfigMap's keys as bytes: data (base64 for a Secret) and stringData."""
    data = {}
    for key, value in (o.get("data") or {}).items():
        data[key] = base64.b64decode(value) if o["kind"] == "Secret" else value.encode()
    for key, value in (o.get("stringData") or {}).items():
        data[key] = value.encode()
    for key, value in (o.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    return data


def secure_join(root, path):
    """`path` inside the file system rooted at `root`, its symlinks resolved within that root
    (an absolute link such as /var/run -> /run points into the container, not this machine)."""
    todo = [p for p in path.split("/") if p]
    done = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise PodFailed(f"{path}: too many symlinks")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        done.append(part)
    return os.path.join(root, *done)


# ---------------------------------------------------------------------------------------------
# The image


class Image:
    """What the final stage of the Dockerfile adds to its base, laid over this machine's root."""

    def __init__(self, dockerfile, binary, models_dir, context):
        lines, stage = [], None
        with open(dockerfile) as f:
            text = f.read()
        for line in text.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.split()[0].upper() == "FROM":
                stage = []
                lines.append(stage)
            stage.append(line)
        final = lines[-1]
        self.env = {"PATH": BASE_IMAGE_PATH}
        self.workdir = "/"
        self.files, self.dirs = {}, {}  # container path -> host path (bind-mounted read-only)
        self.mkdirs = []  # (path, mode, uid, gid)
        self.passwd, self.group = [], []
        built = {"/usr/local/bin/troupe": binary, "/models/": models_dir}
        for line in final:
            instruction, _, rest = line.partition(" ")
            instruction = instruction.upper()
            if instruction == "ENV":
                words = shlex.split(rest)
                if words and "=" not in words[0]:
                    self.env[words[0]] = " ".join(words[1:])
                else:
                    for word in words:
                        key, _, value = word.partition("=")
                        self.env[key] = value
            elif instruction == "WORKDIR":
                self.workdir = rest.strip()
            elif instruction == "COPY":
                words = shlex.split(rest)
                options = [w for w in words if w.startswith("--")]
                source, dest = [w for w in words if not w.startswith("--")]
                if any(o.startswith("--from=") for o in options):
                    if dest not in built:
                        raise Unsupported(f"Dockerfile: COPY {rest}: no stand-in for {dest}")
                    host = built[dest]
                else:
                    host = os.path.join(context, source)
                (self.dirs if dest.endswith("/") else self.files)[dest.rstrip("/")] = host
            elif instruction == "RUN":
                for command in re.split(r"&&|;", rest):
                    words = shlex.split(command)
                    if words[:1] == ["groupadd"]:
                        gid = words[words.index("--gid") + 1]
                        self.group.append(f"{words[-1]}:x:{gid}:")
                    elif words[:1] == ["useradd"]:
                        get = lambda flag: words[words.index(flag) + 1]
                        self.passwd.append(f"{words[-1]}:x:{get('--uid')}:{get('--gid')}::"
                                           f"{get('--home-dir')}:{get('--shell')}")
                    elif words[:2] == ["install", "-d"]:
                        get = lambda flag: words[words.index(flag) + 1]
                        self.mkdirs.append((words[-1], int(get("-m"), 8), int(get("-o")),
                                            int(get("-g"))))
        for dest in built:
            if dest.rstrip("/") not in {**self.files, **self.dirs}:
                raise Unsupported(f"the Dockerfile no longer copies anything to {dest}")

    def home_of(self, uid):
        for line in self.passwd:
            fields = line.split(":")
            if int(fields[2]) == uid:
                return fields[5]
        return "/"

    def spec(self):
        return {"files": self.files, "dirs": self.dirs, "mkdirs": self.mkdirs,
                "passwd": self.passwd, "group": self.group}


# ---------------------------------------------------------------------------------------------
# The node: its network, its pods


def run(*args, check=True):
    result = subprocess.run(args, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise PodFailed(f"{' '.join(args)}: {result.stderr.strip()}")
    return result


def _remove_cgroup_tree(root):
    """rmdir of a cgroup and its children, deepest first (a cgroup with processes stays)."""
    for path, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(path)
        except OSError:
            pass


class Node:
    """This machine as one Kubernetes node: a bridge the pods' veths hang on (the CNI), the
    image, and where the kubernetes Service is."""

    def __init__(self, workdir, image):
        self.workdir, self.image = workdir, image
        os.makedirs(workdir, exist_ok=True)
        self._remove_stale_bridges()
        self.bridge = f"trp{os.getpid()}b"  # the veths: trp<pid>p<n>, at most 15 characters
        self.prefix = self._free_subnet()
        self.next_ip = 2
        self.pods = []
        self.kube_api = None  # (host, port) pods find the API server at
        self.cgroup_root = None
        memory = "/sys/fs/cgroup/memory"
        if os.path.isdir(memory) and os.access(memory, os.W_OK):
            for name in os.listdir(memory):  # left by runs killed before their cleanup
                m = re.fullmatch(r"troupe-test-pods-(\d+)", name)
                if m and not os.path.exists(f"/proc/{m.group(1)}"):
                    _remove_cgroup_tree(os.path.join(memory, name))
            self.cgroup_root = os.path.join(memory, f"troupe-test-pods-{os.getpid()}")
            os.makedirs(self.cgroup_root, exist_ok=True)
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.prefix}.1/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")

    @staticmethod
    def _remove_stale_bridges():
        """Bridges of earlier runs killed before their cleanup (their process is gone)."""
        for name in re.findall(r"^\d+: (trp(\d+)b)[:@]", run("ip", "-o", "link", "show").stdout,
                               re.MULTILINE):
            if not os.path.exists(f"/proc/{name[1]}"):
                run("ip", "link", "del", name[0], check=False)

    @staticmethod
    def _free_subnet():
        routes = run("ip", "-4", "route", "show").stdout
        for i in range(250):
            n = (os.getpid() + i) % 250
            prefix = f"10.{200 + (os.getpid() + i) % 50}.{n}"
            if f"{prefix}." not in routes:
                return prefix
        raise PodFailed("no free 10.x.y.0/24 subnet for the pods")

    def allocate_ip(self):
        ip = f"{self.prefix}.{self.next_ip}"
        self.next_ip += 1
        return ip

    def close(self):
        for pod in list(self.pods):
            pod.remove()
        run("ip", "link", "del", self.bridge, check=False)
        if self.cgroup_root:
            _remove_cgroup_tree(self.cgroup_root)

    def service_ip(self, objects, service):
        """The IP a Service's name resolves to: the first pod it selects (no ClusterIP here);
        None for a headless Service or one no pod backs."""
        if service["spec"].get("clusterIP") == "None":
            return None
        selector = service["spec"].get("selector") or {}
        for pod in self.pods:
            if pod.namespace == service["metadata"]["namespace"] and all(
                    pod.labels.get(k) == v for k, v in selector.items()):
                return pod.ip
        return None


class Pod:
    """One pod of a Deployment or StatefulSet `workload`, named `name`. `env_overrides`:
    {container: {VAR: value}}, set over the manifest's env (differences a test must document)."""

    def __init__(self, node, objects, workload, name, env_overrides=None):
        self.node, self.objects, self.name = node, objects, name
        self.workload = workload
        template = workload["spec"]["template"]
        self.spec = template["spec"]
        self.labels = template["metadata"].get("labels", {})
        self.namespace = workload["metadata"].get("namespace", "default")
        self.env_overrides = env_overrides or {}
        self.dir = None
        self.volumes_made = False
        self.ip = node.allocate_ip()
        self.host_if = f"{node.bridge[:-1]}p{self.ip.rsplit('.', 1)[1]}"
        self.security = self.spec.get("securityContext", {})
        self.service_account_files = None
        self.containers = {}
        self.init_containers = {}
        self.sandbox = None
        node.pods.append(self)
        if self.spec.get("automountServiceAccountToken", True) is not False:
            self.service_account_files = {}  # filled by mount_service_account()
        self._check_supported()

    def _check_supported(self):
        known = {"serviceAccountName", "automountServiceAccountToken",
                 "terminationGracePeriodSeconds", "securityContext", "initContainers",
                 "containers", "volumes", "topologySpreadConstraints"}
        unknown = set(self.spec) - known
        if unknown:
            raise Unsupported(f"{self.name}: pod fields {sorted(unknown)}")

    # --- the sandbox ------------------------------------------------------------------------

    def mount_service_account(self, token, ca_crt):
        """The token volume Kubernetes adds to a pod that automounts its service account."""
        if self.service_account_files is None:
            raise PodFailed(f"{self.name} does not mount a service account token")
        self.service_account_files = {"token": token.encode(), "ca.crt": ca_crt.encode(),
                                      "namespace": self.namespace.encode()}

    def _volumes(self):
        fs_group = self.security.get("fsGroup")
        volumes = []
        for v in self.spec.get("volumes", []):
            entry = {"name": v["name"], "path": os.path.join(self.dir, "volumes", v["name"]),
                     "fs_group": fs_group, "tmpfs_size": None, "files": None, "readonly": False}
            if "emptyDir" in v:
                e = v["emptyDir"] or {}
                if e.get("medium") == "Memory":
                    entry["tmpfs_size"] = int(quantity(e["sizeLimit"])) if "sizeLimit" in e \
                        else 64 * 2**20
                elif e.get("medium", "") != "":
                    raise Unsupported(f"emptyDir medium {e['medium']}")
            elif "secret" in v or "configMap" in v:
                kind, source = ("Secret", v["secret"]) if "secret" in v else \
                    ("ConfigMap", v["configMap"])
                o = find_object(self.objects, kind,
                                source["secretName"] if kind == "Secret" else source["name"])
                data = object_data(o)
                mode = source.get("defaultMode", 0o644)
                items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
                entry["files"] = [{"path": i["path"], "mode": i.get("mode", mode),
                                   "data": base64.b64encode(data[i["key"]]).decode()}
                                  for i in items]
                entry["readonly"] = True
                if kind == "Secret":  # kubelet keeps Secrets in memory
                    entry["tmpfs_size"] = 16 * 2**20
            else:
                raise Unsupported(f"volume {v['name']}: {sorted(v)}")
            volumes.append(entry)
        if self.service_account_files:
            volumes.append({"name": "kube-api-access", "fs_group": fs_group,
                            "path": os.path.join(self.dir, "volumes", "kube-api-access"),
                            "tmpfs_size": 16 * 2**20, "readonly": True,
                            "files": [{"path": k, "mode": 0o644,
                                       "data": base64.b64encode(v).decode()}
                                      for k, v in self.service_account_files.items()]})
        return volumes

    def create_sandbox(self):
        """The pause container: the pod's namespaces, then its network (the CNI's part). Its
        volumes come when the pod starts (a service account token may be added in between)."""
        self.dir = tempfile.mkdtemp(prefix=f"{self.name}.", dir=self.node.workdir)
        self.sandbox = subprocess.Popen(
            ["unshare", "--mount", "--uts", "--ipc", "--net", "--propagation", "private", "--",
             sys.executable, RUNNER, "sandbox", self.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._sandbox_says("namespaces ready")
        pid = str(self.sandbox.pid)
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
            "netns", pid)
        run("ip", "link", "set", self.host_if, "master", self.node.bridge)
        run("ip", "link", "set", self.host_if, "up")
        inside = ["nsenter", "-t", pid, "--net", "--", "ip"]
        run(*inside, "addr", "add", f"{self.ip}/24", "dev", "eth0")
        run(*inside, "link", "set", "eth0", "up")
        run(*inside, "link", "set", "lo", "up")
        run(*inside, "route", "add", "default", "via", f"{self.node.prefix}.1")

    def _sandbox_says(self, expected):
        line = self.sandbox.stdout.readline()
        if line.strip() != expected:
            self.sandbox.stdin.close()
            raise PodFailed(f"{self.name}: the sandbox did not get to {expected!r}: {line}"
                            f"{self.sandbox.stdout.read()}")

    def _make_volumes(self):
        if self.service_account_files == {}:
            raise PodFailed(f"{self.name} automounts a service account token: "
                            "call mount_service_account() first")
        path = os.path.join(self.dir, "volumes.json")
        with open(path, "w") as f:
            json.dump(self._volumes(), f)
        self.sandbox.stdin.write(path + "\n")
        self.sandbox.stdin.flush()
        self._sandbox_says("volumes ready")
        self.volumes_made = True

    def in_network(self, function):
        """Calls function() in a thread inside the pod's network namespace: the sockets it
        makes (e.g. a server's listening socket) live there."""
        result = {}

        def target():
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{self.sandbox.pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    result["error"] = OSError(ctypes.get_errno(), "setns")
                    return
            finally:
                os.close(fd)
            try:
                result["value"] = function()
            except Exception as e:  # noqa: BLE001 - handed to the caller
                result["error"] = e

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    # --- containers ------------------------------------------------------------------------

    def hosts_file(self):
        lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
                 "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
                 "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
        if self.workload["kind"] == "StatefulSet":
            service = self.workload["spec"]["serviceName"]
            fqdn = f"{self.name}.{service}.{self.namespace}.svc.cluster.local"
            lines.append(f"{self.ip}\t{fqdn}\t{self.name}")
        else:
            lines.append(f"{self.ip}\t{self.name}")
        lines.append("# Not kubelet's: the Services' names, which cluster DNS would resolve.")
        for service, ip in self.services():
            name = service["metadata"]["name"]
            lines.append(f"{ip}\t{name}\t{name}.{self.namespace}\t{name}.{self.namespace}.svc"
                         f"\t{name}.{self.namespace}.svc.cluster.local")
        return "\n".join(lines) + "\n"

    def services(self):
        """(Service, its IP here) for each Service of the pod's namespace that has one."""
        for service in self.objects:
            if service["kind"] != "Service" or \
                    service["metadata"].get("namespace", "default") != self.namespace:
                continue
            ip = self.node.service_ip(self.objects, service)
            if ip:
                yield service, ip

    def service_env(self):
        """The variables kubelet adds for each Service of the namespace (enableServiceLinks),
        and for the kubernetes Service."""
        env = {}

        def add(name, ip, ports):
            prefix = name.upper().replace("-", "_")
            env[f"{prefix}_SERVICE_HOST"] = ip
            env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
            for p in ports:
                if p.get("name"):
                    env[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = \
                        str(p["port"])
            first = ports[0]
            env[f"{prefix}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
            for p in ports:
                proto = p.get("protocol", "TCP")
                key = f"{prefix}_PORT_{p['port']}_{proto}"
                env[key] = f"{proto.lower()}://{ip}:{p['port']}"
                env[f"{key}_PROTO"] = proto.lower()
                env[f"{key}_PORT"] = str(p["port"])
                env[f"{key}_ADDR"] = ip

        if self.spec.get("enableServiceLinks", True):
            for service, ip in self.services():
                add(service["metadata"]["name"], ip, service["spec"]["ports"])
        if self.node.kube_api:
            host, port = self.node.kube_api
            add("kubernetes", host, [{"name": "https", "port": port}])
        return env

    def field(self, path):
        values = {"metadata.name": self.name, "metadata.namespace": self.namespace,
                  "status.podIP": self.ip, "status.hostIP": f"{self.node.prefix}.1",
                  "spec.serviceAccountName": self.spec.get("serviceAccountName", "default")}
        if path not in values:
            raise Unsupported(f"fieldRef {path}")
        return values[path]

    def resource_field(self, c, ref):
        containers = {x["name"]: x for x in self.spec.get("containers", []) +
                      self.spec.get("initContainers", [])}
        target = containers[ref.get("containerName", c["name"])]
        kind, _, resource = ref["resource"].partition(".")
        value = (target.get("resources", {}).get(kind) or {}).get(resource)
        if value is None:
            raise Unsupported(f"resourceFieldRef {ref['resource']} is not set in the manifest")
        divisor = quantity(ref.get("divisor", "1"))
        return str(-(-quantity(value) // divisor))  # rounded up, as kubelet does

    def container_env(self, c):
        """The environment Kubernetes gives container `c` (the image's is added by the
        runtime, see Container)."""
        if "envFrom" in c:
            raise Unsupported("envFrom")
        services = self.service_env()
        declared = {}
        for e in c.get("env", []):
            if "value" in e:
                declared[e["name"]] = expand(e["value"], {**services, **declared})
                continue
            source = e.get("valueFrom", {})
            if "fieldRef" in source:
                declared[e["name"]] = self.field(source["fieldRef"]["fieldPath"])
            elif "secretKeyRef" in source or "configMapKeyRef" in source:
                kind, ref = ("Secret", source["secretKeyRef"]) if "secretKeyRef" in source \
                    else ("ConfigMap", source["configMapKeyRef"])
                declared[e["name"]] = object_data(find_object(self.objects, kind, ref["name"]))[
                    ref["key"]].decode()
            elif "resourceFieldRef" in source:
                declared[e["name"]] = self.resource_field(c, source["resourceFieldRef"])
            else:
                raise Unsupported(f"env {e['name']}: {source}")
        env = dict(declared)
        for key, value in services.items():
            env.setdefault(key, value)
        env.update(self.env_overrides.get(c["name"], {}))
        return env

    def start(self, timeout=60):
        """Init containers to completion (each must exit 0), then the containers."""
        if self.sandbox is None:
            self.create_sandbox()
        if not self.volumes_made:
            self._make_volumes()
        for c in self.spec.get("initContainers", []):
            container = Container(self, c, init=True)
            self.init_containers[c["name"]] = container
            container.start()
            code = container.wait(timeout)
            if code != 0:
                raise PodFailed(f"{self.name}: init container {c['name']} exited {code}:\n"
                                + "".join(container.log))
        for c in self.spec["containers"]:
            container = Container(self, c, init=False)
            self.containers[c["name"]] = container
            container.start()
        return self

    def container(self, name=None):
        if name is None:
            (only,) = self.containers.values()
            return only
        return self.containers[name]

    # --- probes and termination --------------------------------------------------------------

    def probe(self, container_name, kind):
        """(status, body) of one run of the container's `kind` probe (startup, readiness,
        liveness) as written; status 0 when nothing answered."""
        c = self.containers[container_name].manifest
        probe = c[f"{kind}Probe"]
        if set(probe) - {"httpGet", "periodSeconds", "timeoutSeconds", "failureThreshold",
                         "successThreshold", "initialDelaySeconds"}:
            raise Unsupported(f"{kind} probe: {sorted(probe)}")
        get = probe["httpGet"]
        port = get["port"]
        if isinstance(port, str):
            (port,) = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == port]
        url = f"{get.get('scheme', 'HTTP').lower()}://{self.ip}:{port}{get.get('path', '/')}"
        try:
            with urllib.request.urlopen(url, timeout=probe.get("timeoutSeconds", 1)) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (OSError, urllib.error.URLError):
            return 0, ""

    def wait_for_probe(self, container_name, kind, timeout=120):
        """Polls the probe until it succeeds (200-399); returns its body."""
        deadline = time.monotonic() + timeout
        status, body = 0, ""
        while time.monotonic() < deadline:
            container = self.containers[container_name]
            if container.exit_code() is not None:
                raise PodFailed(f"{self.name}/{container_name} exited "
                                f"{container.exit_code()}:\n" + "".join(container.log[-30:]))
            status, body = self.probe(container_name, kind)
            if 200 <= status < 400:
                return body
            time.sleep(0.2)
        raise AssertionError(f"{self.name}/{container_name}: the {kind} probe still answers "
                             f"{status} {body!r}:\n" + "".join(self.containers[container_name]
                                                             .log[-30:]))

    def terminate(self):
        """Deletes the pod as kubelet does: each container's preStop hook, then SIGTERM, then
        SIGKILL when terminationGracePeriodSeconds have passed. {container: Termination}."""
        grace = self.spec.get("terminationGracePeriodSeconds", 30)
        start = time.monotonic()
        results = {}
        threads = [threading.Thread(target=lambda c=c: results.__setitem__(
            c.name, c.terminate(start, grace))) for c in self.containers.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def remove(self):
        """Kills whatever is left of the pod and cleans up after it."""
        for container in list(self.init_containers.values()) + list(self.containers.values()):
            container.kill()
        if self.sandbox and self.sandbox.poll() is None:
            self.sandbox.stdin.close()
            try:
                self.sandbox.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sandbox.kill()
                self.sandbox.wait()
        run("ip", "link", "del", self.host_if, check=False)
        for container in list(self.init_containers.values()) + list(self.containers.values()):
            container.remove_cgroup()
        if self in self.node.pods:
            self.node.pods.remove(self)


def _die_with_parent():
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Termination:
    def __init__(self):
        self.hook = None          # CompletedProcess-like of the preStop hook, or None
        self.hook_seconds = None
        self.exit_code = None
        self.sigterm_sent = False
        self.killed = False       # SIGKILL was needed
        self.seconds = None       # from the start of the deletion to the container's exit

    def __repr__(self):
        return (f"Termination(exit={self.exit_code}, killed={self.killed}, "
                f"sigterm={self.sigterm_sent}, seconds={self.seconds:.1f}, hook_seconds="
                f"{self.hook_seconds and round(self.hook_seconds, 1)}, hook="
                f"{None if self.hook is None else (self.hook.returncode, self.hook.stdout)})")


class HookResult:
    """returncode as Kubernetes reports it (128 + a signal), None when it ran out of time;
    container_running: whether the container's PID 1 still ran when the hook had ended."""

    def __init__(self, returncode, stdout, container_running):
        self.returncode, self.stdout = returncode, stdout
        self.container_running = container_running


class Container:
    def __init__(self, pod, c, init):
        self.pod, self.manifest, self.name, self.init = pod, c, c["name"], init
        known = {"name", "image", "imagePullPolicy", "command", "args", "env", "ports",
                 "startupProbe", "readinessProbe", "livenessProbe", "lifecycle", "resources",
                 "securityContext", "volumeMounts"}
        if set(c) - known:
            raise Unsupported(f"{c['name']}: container fields {sorted(set(c) - known)}")
        if "command" not in c:
            raise Unsupported(f"{c['name']}: no command (the image's ENTRYPOINT would run)")
        self.log = []
        self.process = None
        self._pid1 = None
        image = pod.node.image
        security = {**pod.security, **c.get("securityContext", {})}
        self.uid = security.get("runAsUser")
        self.gid = security.get("runAsGroup", 0)
        if self.uid is None:
            raise Unsupported(f"{c['name']}: no runAsUser (the image's USER would apply)")
        if security.get("runAsNonRoot") and self.uid == 0:
            raise PodFailed(f"{c['name']}: runAsNonRoot with runAsUser 0: kubelet refuses it")
        groups = [self.gid]
        if pod.security.get("fsGroup") is not None:
            groups.append(pod.security["fsGroup"])
        groups += pod.security.get("supplementalGroups", [])
        self.groups = sorted(set(groups))
        capabilities = security.get("capabilities", {})
        if capabilities.get("add") or (capabilities.get("drop") not in (None, ["ALL"])):
            raise Unsupported(f"{c['name']}: capabilities {capabilities}")
        self.drop_all = capabilities.get("drop") == ["ALL"]
        self.no_new_privs = security.get("allowPrivilegeEscalation", True) is False
        declared = pod.container_env(c)
        self.command = [expand(w, declared) for w in c["command"] + c.get("args", [])]
        # The runtime's environment: HOSTNAME, the image's ENV, then the container's over them,
        # HOME from the image's passwd when not set.
        self.env = {"HOSTNAME": pod.name, **image.env, **declared}
        self.env.setdefault("HOME", image.home_of(self.uid))
        mounts = []
        volumes = {v["name"]: v for v in pod._volumes()}
        for m in c.get("volumeMounts", []):
            if set(m) - {"name", "mountPath", "readOnly", "subPath"}:
                raise Unsupported(f"volumeMount {sorted(m)}")
            source = volumes[m["name"]]["path"]
            if "subPath" in m:
                source = os.path.join(source, m["subPath"])
            mounts.append({"source": source, "target": m["mountPath"],
                           "readonly": bool(m.get("readOnly")), "sub_path": "subPath" in m})
        if "kube-api-access" in volumes:
            mounts.append({"source": volumes["kube-api-access"]["path"],
                           "target": SERVICE_ACCOUNT_DIR, "readonly": True, "sub_path": False})
        self.cgroup = None
        limit = (c.get("resources", {}).get("limits") or {}).get("memory")
        if limit and pod.node.cgroup_root:
            self.cgroup = os.path.join(pod.node.cgroup_root, f"{pod.name}-{self.name}")
            os.makedirs(self.cgroup, exist_ok=True)
            with open(os.path.join(self.cgroup, "memory.limit_in_bytes"), "w") as f:
                f.write(str(int(quantity(limit))))
        self.dir = os.path.join(pod.dir, "containers", self.name)
        os.makedirs(self.dir)
        self.spec = {
            "name": self.name, "scratch": os.path.join(self.dir, "fs"), "image": image.spec(),
            "workdir": image.workdir, "mounts": mounts, "env": self.env,
            "command": self.command, "uid": self.uid, "gid": self.gid, "groups": self.groups,
            "no_new_privs": self.no_new_privs, "drop_all": self.drop_all,
            "read_only_root": bool(security.get("readOnlyRootFilesystem")),
            "managed_files": {"/etc/hosts": pod.hosts_file(), "/etc/hostname": pod.name + "\n"},
            "cgroup": self.cgroup,
        }

    def privileges(self):
        """setpriv's arguments for this container's user and restrictions."""
        args = ["--reuid", str(self.uid), "--regid", str(self.gid),
                "--groups", ",".join(map(str, self.groups))]
        if self.no_new_privs:
            args.append("--no-new-privs")
        if self.drop_all:
            args += ["--bounding-set", "-all", "--inh-caps", "-all"]
        return args

    def start(self):
        path = os.path.join(self.dir, "container.json")
        with open(path, "w") as f:
            json.dump({**self.spec, "privileges": self.privileges() + ["--pdeathsig", "keep"]},
                      f)
        # Should the test die, the container dies too: unshare gets SIGKILL with its parent
        # (this thread), its child (PID 1) with unshare (--kill-child, and setpriv's
        # --pdeathsig keep past the change of user), and the rest of the PID namespace with it.
        self.process = subprocess.Popen(
            ["nsenter", "-t", str(self.pod.sandbox.pid), "--mount", "--uts", "--ipc", "--net",
             "--", "unshare", "--mount", "--pid", "--fork", "--kill-child",
             "--propagation", "private", "--", sys.executable, RUNNER, "container", path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_die_with_parent)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stdout:
            self.log.append(line)

    def pid1(self):
        """The host's PID of the container's PID 1 (unshare's child)."""
        deadline = time.monotonic() + 10
        while self._pid1 is None and time.monotonic() < deadline:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        stat = f.read()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    self._pid1 = int(entry)
                    break
            else:
                if self.process.poll() is not None:
                    return None
                time.sleep(0.02)
        return self._pid1

    def exit_code(self):
        """None while it runs; its exit code as Kubernetes reports it (128 + a signal)."""
        code = self.process.poll()
        if code is None:
            return None
        return code if code >= 0 else 128 - code

    def wait(self, timeout):
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code()

    def wait_for_line(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.log):
                if re.search(pattern, line):
                    return line
            if self.exit_code() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.pod.name}/{self.name}: no line matching {pattern!r}:\n"
                             + "".join(self.log[-30:]))

    def running(self):
        """Whether the container's PID 1 runs (not exited, not a zombie)."""
        pid = self._pid1
        if pid is None or self.process.poll() is not None:
            return False
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except OSError:
            return False

    def signal(self, sig):
        pid = self.pid1()
        if pid and self.process.poll() is None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def exec(self, argv, timeout):
        """Runs argv inside the container (the CRI's exec): its namespaces, root, working
        directory, user and environment. HookResult; returncode None when it timed out."""
        pid = self.pid1()
        process = subprocess.Popen(
            ["nsenter", "-t", str(pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--root",
             "--wd", "--", "/usr/bin/setpriv", *self.privileges(), "--", *argv],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = process.communicate(timeout=max(timeout, 0.1))
            code = process.returncode
            return HookResult(code if code >= 0 else 128 - code, out, self.running())
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
            return HookResult(None, out, self.running())

    def terminate(self, start, grace):
        t = Termination()
        hook = (self.manifest.get("lifecycle") or {}).get("preStop")
        if hook and self.exit_code() is None:
            if set(hook) != {"exec"}:
                raise Unsupported(f"preStop {sorted(hook)}")
            t.hook = self.exec(hook["exec"]["command"], grace - (time.monotonic() - start))
            t.hook_seconds = time.monotonic() - start
        remaining = max(grace - (time.monotonic() - start), MINIMUM_GRACE_SECONDS)
        if self.exit_code() is None:
            t.sigterm_sent = True
            self.signal(signal.SIGTERM)
        if self.wait(remaining) is None:
            t.killed = True
            self.signal(signal.SIGKILL)
            self.process.wait()
        t.exit_code = self.exit_code()
        t.seconds = time.monotonic() - start
        return t

    def kill(self):
        if self.process and self.process.poll() is None:
            self.signal(signal.SIGKILL)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def memory_peak(self):
        """The most memory its cgroup used (bytes), or None without a memory cgroup."""
        if not self.cgroup:
            return None
        with open(os.path.join(self.cgroup, "memory.max_usage_in_bytes")) as f:
            return int(f.read())

    def remove_cgroup(self):
        if self.cgroup:
            try:
                os.rmdir(self.cgroup)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Inside the namespaces (python3 pod_runner.py sandbox|container SPEC)


def _mount(*args):
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"pod_runner: mount {' '.join(args)}: {result.stderr.strip()}")


def _mount_point(root, path, is_file):
    target = secure_join(root, path)
    if is_file:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    else:
        os.makedirs(target, exist_ok=True)
    return target


def _own(path, gid, readonly):
    """kubelet's SetVolumeOwnership: group fsGroup, group-readable (and writable unless the
    volume is read-only), setgid directories. Symlinks are not followed."""
    mask = 0o440 if readonly else 0o660
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [None] + dirnames + filenames:
            p = dirpath if name is None else os.path.join(dirpath, name)
            os.lchown(p, -1, gid)
            if os.path.islink(p):
                continue
            mode = os.lstat(p).st_mode & 0o7777
            if os.path.isdir(p):
                os.chmod(p, mode | mask | 0o2000 | 0o110)
            else:
                os.chmod(p, mode | mask)


def run_sandbox(hostname):
    socket.sethostname(hostname)
    print("namespaces ready", flush=True)
    with open(sys.stdin.readline().strip()) as f:
        volumes = json.load(f)
    for v in volumes:
        path = v["path"]
        os.makedirs(path, exist_ok=True)
        if v["tmpfs_size"] is not None:
            _mount("-t", "tmpfs", "-o", f"size={v['tmpfs_size']}", "tmpfs", path)
        os.chmod(path, 0o777)
        if v["files"] is not None:  # the atomic writer's layout
            stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.000000001", time.gmtime())
            os.mkdir(os.path.join(path, stamp))
            os.chmod(os.path.join(path, stamp), 0o755)
            for f in v["files"]:
                file_path = os.path.join(path, stamp, f["path"])
                os.makedirs(os.path.dirname(file_path), exist_ok=True)
                with open(file_path, "wb") as out:
                    out.write(base64.b64decode(f["data"]))
                os.chmod(file_path, f["mode"])
            os.symlink(stamp, os.path.join(path, "..data"))
            for top in sorted({f["path"].split("/")[0] for f in v["files"]}):
                os.symlink(os.path.join("..data", top), os.path.join(path, top))
        if v["fs_group"] is not None:
            _own(path, v["fs_group"], v["readonly"])
    print("volumes ready", flush=True)
    sys.stdin.read()  # until the node closes it: then the pod's namespaces go


def run_container(spec):
    scratch = spec["scratch"]
    os.makedirs(scratch, exist_ok=True)
    _mount("-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", scratch)
    upper, work, root = (os.path.join(scratch, d) for d in ("upper", "work", "root"))
    for d in (upper, work, root):
        os.mkdir(d)
    _mount("-t", "overlay", "overlay", "-o", f"lowerdir=/,upperdir={upper},workdir={work}", root)
    # The image's layer.
    image = spec["image"]
    for dest, source in image["files"].items():
        target = _mount_point(root, dest, True)
        _mount("--bind", source, target)
        _mount("-o", "remount,bind,ro", target)
    for dest, source in image["dirs"].items():
        target = _mount_point(root, dest, False)
        _mount("--bind", source, target)
        _mount("-o", "remount,bind,ro", target)
    for name in ("passwd", "group"):
        path = secure_join(root, f"/etc/{name}")
        present = open(path).read().splitlines()
        with open(path, "a") as f:
            for line in image[name]:
                if line.split(":")[0] not in {p.split(":")[0] for p in present}:
                    f.write(line + "\n")
    for path, mode, uid, gid in image["mkdirs"]:
        target = _mount_point(root, path, False)
        os.chown(target, uid, gid)
        os.chmod(target, mode)
    os.makedirs(secure_join(root, spec["workdir"]), exist_ok=True)
    # Kernel file systems.
    _mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", _mount_point(root, "/proc", False))
    dev = _mount_point(root, "/dev", False)
    _mount("-t", "tmpfs", "-o", "mode=755,size=65536k,nosuid", "tmpfs", dev)
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        _mount("--bind", f"/dev/{name}", _mount_point(dev, name, True))
    _mount("-t", "tmpfs", "-o", "mode=1777,size=64m,nosuid,nodev,noexec", "shm",
           _mount_point(dev, "shm", False))
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    sys_dir = _mount_point(root, "/sys", False)
    _mount("--rbind", "/sys", sys_dir)
    _mount("-o", "remount,bind,ro", sys_dir)
    # The pod's volumes, parents before children.
    for m in sorted(spec["mounts"], key=lambda m: m["target"].rstrip("/").count("/")):
        source = os.path.realpath(m["source"]) if m["sub_path"] else m["source"]
        if m["sub_path"] and os.path.commonpath([source, os.path.dirname(m["source"])]) != \
                os.path.dirname(m["source"]):
            raise SystemExit(f"pod_runner: subPath {m['source']} leaves its volume")
        target = _mount_point(root, m["target"], os.path.isfile(source))
        _mount("--bind", source, target)
        if m["readonly"]:
            _mount("-o", "remount,bind,ro", target)
    # Files kubelet manages.
    managed = os.path.join(scratch, "managed")
    os.mkdir(managed)
    for dest, content in spec["managed_files"].items():
        source = os.path.join(managed, os.path.basename(dest))
        with open(source, "w") as f:
            f.write(content)
        os.chmod(source, 0o644)
        _mount("--bind", source, _mount_point(root, dest, True))
    if spec["cgroup"]:
        with open(os.path.join(spec["cgroup"], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    if spec["read_only_root"]:
        _mount("-o", "remount,bind,ro", root)
    os.chroot(root)
    os.chdir(spec["workdir"])
    os.execve("/usr/bin/setpriv", ["setpriv", *spec["privileges"], "--", *spec["command"]],
              spec["env"])


if __name__ == "__main__":
    if sys.argv[1] == "sandbox":
        run_sandbox(sys.argv[2])
    else:
        with open(sys.argv[2]) as spec_file:
            run_container(json.load(spec_file))
