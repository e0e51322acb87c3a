"""deploy/cluster/launch.sh --local starts a front and replica nodes with logs and pid files;
the cluster serves; deploy/cluster/stop.sh drains every process and each exits 0."""
import json
import os
import socket
import subprocess
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(HERE, "..", "..", "deploy", "cluster")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launch_local_cluster_serves_and_stop_drains_it():
    port, cluster_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="troupe-launch-") as run_dir:
        launched = subprocess.run(
            [os.path.join(DEPLOY, "launch.sh"), "--local", "2", "--troupe", os.environ["TROUPE_BIN"],
             "--dir", run_dir, "--port", str(port), "--cluster-port", str(cluster_port),
             "--threads", "1"], capture_output=True, text=True, timeout=300)
        assert launched.returncode == 0, launched.stderr + launched.stdout
        pids = {name: int(open(os.path.join(run_dir, name + ".pid")).read())
                for name in ("front", "replica-1", "replica-2")}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/cluster", timeout=10) as r:
                nodes = {n["name"]: n for n in json.load(r)["nodes"]}
            assert set(nodes) == {"front", "replica-1", "replica-2"}
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/completions",
                data=json.dumps({"prompt": "Hi", "max_tokens": 3}).encode(),
                headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as r:
                assert r.status == 200
        finally:
            stopped = subprocess.run([os.path.join(DEPLOY, "stop.sh"), "--dir", run_dir],
                                     capture_output=True, text=True, timeout=300)
        assert stopped.returncode == 0, stopped.stderr
        for name, pid in pids.items():
            assert not os.path.exists(f"/proc/{pid}"), f"{name} still runs"
            assert "stopped" in stopped.stdout
        for name in pids:
            assert os.path.getsize(os.path.join(run_dir, name + ".log")) > 0
