"""deploy/cluster/launch.sh --local starts a front and replica nodes with logs and pid files;
the cluster serves; deploy/cluster/stop.sh drains every process and each exits 0."""
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

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


def test_launch_over_ssh_and_stop_drains_every_host(tmp_path):
    """launch.sh --front/--replicas over ssh, to an sshd of the test's own on loopback (its own
    keys and config; the user's ssh setup is untouched)."""
    sshd = "/usr/sbin/sshd"
    if os.geteuid() != 0 or not os.path.exists(sshd):
        pytest.skip("needs root and openssh-server (scripts/setup-deps installs it)")
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / key)],
                       check=True)
    port = free_port()
    (tmp_path / "authorized_keys").write_text((tmp_path / "client.pub").read_text())
    (tmp_path / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path}/host\nPermitRootLogin yes\n"
        f"AuthorizedKeysFile {tmp_path}/authorized_keys\nPasswordAuthentication no\n"
        f"StrictModes no\nPidFile {tmp_path}/sshd.pid\n")
    (tmp_path / "ssh_config").write_text(
        f"Host 127.0.0.1\n  Port {port}\n  IdentityFile {tmp_path}/client\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
    os.makedirs("/run/sshd", exist_ok=True)
    daemon = subprocess.Popen([sshd, "-D", "-f", str(tmp_path / "sshd_config")])
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        http, cluster_port = free_port(), free_port()
        run_dir = tmp_path / "run"
        launched = subprocess.run(
            [os.path.join(DEPLOY, "launch.sh"), "--front", "127.0.0.1", "--replicas",
             "127.0.0.1 127.0.0.1", "--ssh", f"ssh -F {tmp_path}/ssh_config", "--troupe",
             os.path.abspath(os.environ["TROUPE_BIN"]), "--dir", str(run_dir), "--port", str(http),
             "--cluster-port", str(cluster_port), "--threads", "1"],
            capture_output=True, text=True, timeout=300)
        assert launched.returncode == 0, launched.stderr + launched.stdout
        pids = [int((run_dir / f"{n}.pid").read_text()) for n in ("front", "replica-1", "replica-2")]
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/cluster", timeout=10) as r:
            assert {n["name"] for n in json.load(r)["nodes"]} == {"front", "replica-1", "replica-2"}
        # Over ssh the nodes share a fresh secret, private to its owner, and talk mutual TLS.
        assert "mutual TLS" in (run_dir / "front.log").read_text()
        assert (run_dir / "cluster.secret").stat().st_mode & 0o077 == 0
        stopped = subprocess.run([os.path.join(DEPLOY, "stop.sh"), "--dir", str(run_dir)],
                                 capture_output=True, text=True, timeout=300)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.count("stopped") == 3, stopped.stdout
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
