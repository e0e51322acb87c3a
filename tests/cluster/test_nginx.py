"""nginx (Debian's package) in front of two `troupe serve` instances, configured by
`troupe deploy nginx`: SSE streams pass through token by token, and both instances serve."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.request

import pytest

from conftest import SMALL, Process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def balanced():
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        pytest.skip("nginx is not installed (scripts/setup-deps installs nginx-light)")
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    run_dir = tempfile.TemporaryDirectory(prefix="troupe-nginx-")
    servers = [Process(["serve", "--host", "127.0.0.1", "--port", "0", "--usage-db",
                        os.path.join(run_dir.name, f"usage-{i}.db"), *SMALL],
                       r"on http://[^:]+:(\d+)") for i in range(2)]
    listen = free_port()
    config = os.path.join(run_dir.name, "nginx.conf")
    written = subprocess.run([os.environ["TROUPE_BIN"], "deploy", "nginx", "--listen", str(listen),
                              "--standalone", run_dir.name, "--output", config,
                              *[a for s in servers
                                for a in ("--upstream", f"127.0.0.1:{s.match.group(1)}")]],
                             capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    nginx = subprocess.Popen([nginx_bin, "-c", config, "-p", run_dir.name],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", listen)) == 0:
                break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{listen}", servers
    nginx.terminate()
    nginx.wait(timeout=30)
    for s in servers:
        s.stop()
    run_dir.cleanup()


def timed_stream(base_url, i):
    """Arrival times of the token events of one streamed completion."""
    body = {"prompt": f"Once upon a time {i}", "max_tokens": 48, "temperature": 0,
            "ignore_eos": True, "stream": True}
    request = urllib.request.Request(base_url + "/v1/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    times = []
    with urllib.request.urlopen(request, timeout=120) as response:
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("data: {"):
                times.append(time.monotonic())
    return times


def test_sse_passes_through_nginx_token_by_token(balanced):
    base_url, _ = balanced
    times = timed_stream(base_url, 0)
    assert len(times) >= 48
    # Buffered, every event would land at the end within a millisecond or two; passed through,
    # they arrive as the tokens are made, one decode step (several ms) apart.
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert times[-1] - times[0] > 0.1, times[-1] - times[0]
    assert sum(1 for g in gaps if g > 0.001) > len(gaps) // 2, gaps


def test_both_instances_serve_behind_nginx(balanced):
    base_url, servers = balanced
    with ThreadPoolExecutor(8) as pool:
        assert all(len(t) >= 48 for t in pool.map(lambda i: timed_stream(base_url, i), range(8)))
    for s in servers:
        s.wait_for_line("route=/v1/completions status=200")
