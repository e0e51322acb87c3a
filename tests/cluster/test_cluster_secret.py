"""The cluster port is not an open door. With a cluster secret, nodes talk mutual TLS with
credentials derived from it: a process without the secret, or with another one, cannot join,
cannot be routed requests and cannot send the front a message it acts on. Without a secret the
port listens on loopback only, and the front refuses to open it anywhere else."""
import os
import socket
import subprocess

import pytest

from conftest import SMALL, Cluster, Process, write_secret
from raw_http import non_loopback_address

SECRET = "0123456789abcdef-the-cluster-secret"


def probe(*args):
    """tests/integration/cluster_probe_main.cpp, built beside the troupe binary's build."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(os.environ["TROUPE_BIN"])))
    return subprocess.run([os.path.join(build, "tests", "troupe_cluster_probe"), *args],
                          capture_output=True, text=True, timeout=60)




def troupe(*args):
    return subprocess.run([os.environ["TROUPE_BIN"], *args], capture_output=True, text=True,
                          timeout=60)


def test_only_nodes_holding_the_secret_get_in():
    cluster = Cluster(replicas=1, cluster_host="0.0.0.0", secret=SECRET)
    try:
        assert any("mutual TLS" in line for line in cluster.front.log), cluster.front.log
        port = cluster.cluster_port
        wrong = write_secret(os.path.join(cluster.dir.name, "wrong.secret"),
                             "not-the-cluster-secret-0123456789")

        # Another secret, or none: the worker cannot complete the handshake, and says why.
        for name, extra, says in (
                ("wrong-secret", ["--cluster-secret-file", wrong], "TLS handshake failed"),
                ("no-secret", [], "may require --cluster-secret-file")):
            outsider = Process(["worker", "--join", f"127.0.0.1:{port}", "--node-name", name,
                                *SMALL, *extra], r"joining")
            try:
                outsider.wait_for_line(says, timeout=60)
                assert name not in cluster.nodes()
            finally:
                outsider.stop()

        # Nor can any other process send the router a message it acts on.
        for args in ((), (wrong,)):
            result = probe("127.0.0.1", port, *args)
            assert result.returncode == 3, result.stdout + result.stderr
            assert "connect: refused" in result.stdout, result.stdout
        nodes = cluster.nodes()
        assert set(nodes) == {"front", "r1"}, nodes
        assert nodes["front"]["routable"] and nodes["r1"]["routable"], nodes
        # The front logged the refusals, and the outsiders' failed handshakes did not cost the
        # node that holds the secret its connection (it joined once, and never rejoined).
        cluster.front.wait_for_line("refused a connection from 127.0.0.1: the TLS handshake")
        joins = [line for line in cluster.workers["r1"].log if "joined the front" in line]
        assert len(joins) == 1, cluster.workers["r1"].log

        # Requests still reach the node that holds the secret, over TLS.
        for i in range(4):
            response = cluster.post("/v1/completions", {"prompt": f"Count {i}", "max_tokens": 2})
            assert response.status == 200, response.read()
        cluster.wait_for(lambda nodes: nodes["r1"]["routed"] >= 2)

        # With the secret the probe connects, and still the router acts on nothing it asks:
        # routes (with the nodes' handles), drains and the status are its own process's to ask.
        result = probe("127.0.0.1", port, cluster.secret_file)
        assert result.returncode == 4, result.stdout + result.stderr
        assert "connect: ok" in result.stdout, result.stdout
        assert "route: " in result.stdout and "own process only" in result.stdout, result.stdout
        cluster.front.wait_for_line("refused 'drain' from another process")
        nodes = cluster.nodes()
        assert nodes["front"]["routable"] and nodes["r1"]["routable"], nodes
    finally:
        cluster.stop()


def test_without_a_secret_the_cluster_port_is_loopback_only():
    cluster = Cluster(replicas=1)
    try:
        assert any("loopback only" in line for line in cluster.front.log), cluster.front.log
        address = non_loopback_address()
        if address:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, int(cluster.cluster_port)), timeout=10)
    finally:
        cluster.stop()


def test_a_reachable_cluster_port_needs_a_secret_and_the_secret_a_private_file(tmp_path):
    result = troupe("serve", "--port", "0", "--cluster-port", "0", "--cluster-host", "0.0.0.0")
    assert result.returncode == 2, result
    assert "needs --cluster-secret-file" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr

    shared = tmp_path / "shared.secret"
    shared.write_text(SECRET)
    shared.chmod(0o644)
    short = write_secret(str(tmp_path / "short.secret"), "short")
    for path, says in ((str(shared), "chmod 600"), (short, "shorter than 16 bytes"),
                       (str(tmp_path / "missing"), "cannot read")):
        for command in (["serve", "--port", "0", "--cluster-port", "0"],
                        ["worker", "--join", "127.0.0.1:1"]):
            result = troupe(*command, "--cluster-secret-file", path)
            assert result.returncode == 2, (command, result)
            assert says in result.stderr and SECRET not in result.stderr, result.stderr
