"""A small fake Kubernetes API server for the autoscaler's tests: HTTPS with a certificate from
its own CA, bearer-token auth, and the real endpoints and status codes troupe's Kubernetes
actuator uses: a StatefulSet's scale subresource (GET, and PATCH as a JSON merge patch with
optimistic concurrency: 409 when the resourceVersion is stale) and the namespace's
HorizontalPodAutoscalers. It records every request. Modes: `forbidden` (403 for everything),
`conflicts` (the next N patches find the scale changed by another writer), `hang` (answers
nothing). No cluster runs here; the client code talking to this is the real one."""
import json
import os
import re
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_ca_and_server_cert(directory, name="ca"):
    """A CA and a server certificate for 127.0.0.1 and localhost signed by it, with openssl.
    Returns (ca.crt, server.crt, server.key)."""
    ca_key, ca_crt = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.crt")
    key, csr, crt = (os.path.join(directory, f"{name}-server.{ext}") for ext in ("key", "csr", "crt"))
    ext = os.path.join(directory, f"{name}-server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
        "-days", "2", "-subj", f"/CN=fake-kube-{name}")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=kube-api")
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeKubeApi:
    def __init__(self, directory, token="test-token", namespace="default", statefulset="troupe",
                 replicas=0):
        self.token = token
        self.namespace = namespace
        self.statefulset = statefulset
        self.replicas = replicas
        self.resource_version = 100
        self.hpas = []
        self.forbidden = False
        self.conflicts = 0
        self.hang = False
        self.requests = []  # (method, path, headers, body)
        self.changed = threading.Condition()
        self.ca_crt, crt, key = make_ca_and_server_cert(directory)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                with api.changed:
                    api.requests.append((method, self.path, dict(self.headers), body))
                    api.changed.notify_all()
                if api.hang:
                    threading.Event().wait(60)
                    return
                code, answer = api.answer(method, self.path, self.headers, body)
                self.reply(code, answer)

            def do_GET(self):
                self.handle_any("GET")

            def do_PATCH(self):
                self.handle_any("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(crt, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def scale_object(self):
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": self.statefulset, "namespace": self.namespace,
                             "resourceVersion": str(self.resource_version)},
                "spec": {"replicas": self.replicas},
                "status": {"replicas": self.replicas, "selector": "app=troupe"}}

    def answer(self, method, path, headers, body):
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        if self.forbidden:
            return 403, status(403, "Forbidden",
                               f'statefulsets.apps "{self.statefulset}" is forbidden: User '
                               '"system:serviceaccount:default:troupe" cannot get resource '
                               '"statefulsets/scale"')
        scale = re.fullmatch(rf"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/"
                             rf"([^/]+)/scale", path)
        if scale and scale.group(1) != self.statefulset:
            return 404, status(404, "NotFound",
                               f'statefulsets.apps "{scale.group(1)}" not found')
        if scale and method == "GET":
            return 200, self.scale_object()
        if scale and method == "PATCH":
            if headers.get("Content-Type") != "application/merge-patch+json":
                return 415, status(415, "UnsupportedMediaType", "unsupported patch type")
            patch = json.loads(body)
            with self.changed:
                if self.conflicts > 0:  # another writer got there first
                    self.conflicts -= 1
                    self.resource_version += 1
                wanted = patch.get("metadata", {}).get("resourceVersion")
                if wanted is not None and wanted != str(self.resource_version):
                    return 409, status(409, "Conflict",
                                       'Operation cannot be fulfilled on statefulsets.apps '
                                       f'"{self.statefulset}": the object has been modified; '
                                       'please apply your changes to the latest version and '
                                       'try again')
                self.replicas = int(patch["spec"]["replicas"])
                self.resource_version += 1
                self.changed.notify_all()
                return 200, self.scale_object()
        if path == f"/apis/autoscaling/v2/namespaces/{self.namespace}/horizontalpodautoscalers":
            return 200, {"kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v2",
                         "items": self.hpas}
        return 404, status(404, "NotFound", "the server could not find the requested resource")

    def wait_for(self, condition, timeout=60):
        """Waits until condition(self) holds, woken by each request and change."""
        with self.changed:
            if not self.changed.wait_for(lambda: condition(self), timeout=timeout):
                raise AssertionError(f"the fake API server never got there: {self.requests[-5:]}")

    def kubeconfig(self, path, ca_crt=None):
        with open(path, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: {{cluster: fake, user: robot, namespace: {self.namespace}}}
clusters:
- name: fake
  cluster: {{server: "{self.url}", certificate-authority: "{ca_crt or self.ca_crt}"}}
users:
- name: robot
  user: {{token: {self.token}}}
""")
        return path

    def close(self):
        self.server.shutdown()
