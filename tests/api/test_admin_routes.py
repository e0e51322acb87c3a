"""The admin routes (POST /cluster/drain, POST /cluster/undrain, GET /cluster) against the real
`troupe serve`: with API keys configured only an admin key (--admin-api-key, or role: admin in
the keys file) may call them, from any address, and a tenant key gets 403; with no keys at all
they answer only on loopback. A drain of the front's own node is taken back by undrain."""
import json
import os
import subprocess

import pytest

from conftest import KEYS_FILE
from helpers import CHAT, call, chat, connect, openai_error, poll, serving
from raw_http import non_loopback_address

ADMIN_KEYS = KEYS_FILE + "sk-ops: {name: ops, role: admin}\n"
FRONT = {"node": "front"}


def troupe(*args):
    return subprocess.run([os.environ["TROUPE_BIN"], *args], capture_output=True, text=True,
                          timeout=60)


def test_a_tenant_key_cannot_drain_undrain_or_read_the_cluster():
    with serving("--admin-api-key", "sk-root", keys_yaml=ADMIN_KEYS) as server:
        for method, path, body in (("POST", "/cluster/drain", FRONT),
                                   ("POST", "/cluster/undrain", FRONT),
                                   ("GET", "/cluster", None)):
            status, _, answer = call(server, method, path, body, key="sk-test")
            assert status == 403, (path, answer)
            error = openai_error(answer)
            assert error["code"] == "admin_only" and "admin" in error["message"], error
            status, _, answer = call(server, method, path, body, key=None)
            assert status == 401, (path, answer)
        # Nothing was drained: the tenant's requests are still served.
        status, _, answer = call(server, "POST", CHAT, chat(2), key="sk-test")
        assert status == 200, answer
        result = troupe("drain", "--node", "front", "--url", server.base_url, "--api-key", "sk-test")
        assert result.returncode == 2 and "403" in result.stderr, result
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_admin_key_drains_the_front_and_undrain_brings_it_back():
    with serving("--admin-api-key", "sk-root", keys_yaml=ADMIN_KEYS) as server:
        status, _, answer = call(server, "POST", "/cluster/drain", FRONT, key="sk-ops")
        assert status == 200 and json.loads(answer) == {"node": "front", "draining": True}, answer
        status, _, answer = call(server, "POST", CHAT, chat(2), key="sk-test")
        assert status == 503, answer

        def front_shown_drained():  # GET /cluster is the router's status as last polled
            status, _, answer = call(server, "GET", "/cluster", key="sk-root")
            assert status == 200, answer
            return json.loads(answer)["nodes"][0]["routable"] is False
        poll("GET /cluster to show the front out of routing", front_shown_drained)

        result = troupe("undrain", "--node", "front", "--url", server.base_url,
                        "--api-key", "sk-root")
        assert result.returncode == 0, result.stderr
        assert "undrained node front" in result.stdout, result.stdout
        status, _, answer = call(server, "POST", CHAT, chat(2), key="sk-test")
        assert status == 200, answer

        status, _, answer = call(server, "POST", "/cluster/undrain", {"node": "nobody"},
                                 key="sk-ops")
        assert status == 404 and openai_error(answer)["code"] == "node_not_found", answer




def test_without_keys_admin_routes_answer_only_on_loopback():
    address = non_loopback_address()
    if address is None:
        pytest.skip("this host has no address besides loopback")
    with serving(keys_yaml=False, host="0.0.0.0") as server:
        remote = {"host": address}
        status, _, answer = call(server, "POST", "/cluster/drain", FRONT, key=None, **remote)
        assert status == 403, answer
        assert "loopback" in openai_error(answer)["message"], answer
        status, _, answer = call(server, "GET", "/cluster", key=None, **remote)
        assert status == 403, answer
        # The API itself is open to everyone when no keys are configured.
        status, _, answer = call(server, "POST", CHAT, chat(2), key=None, **remote)
        assert status == 200, answer

        status, _, answer = call(server, "POST", "/cluster/drain", FRONT, key=None)
        assert status == 200, answer
        poll("the drained front to refuse", lambda: call(
            server, "POST", CHAT, chat(2), key=None)[0] == 503)
        status, _, answer = call(server, "POST", "/cluster/undrain", FRONT, key=None)
        assert status == 200, answer
        status, _, answer = call(server, "POST", CHAT, chat(2), key=None)
        assert status == 200, answer


def test_without_keys_a_web_page_or_a_rebound_name_cannot_call_admin_routes():
    """A page a local browser runs connects from loopback too: with --allowed-origins '*' its
    preflight passes and its JSON POST arrives, but its Origin names its site; a site's name
    rebound to 127.0.0.1 (DNS rebinding) arrives as its Host. Neither may drain."""
    with serving("--allowed-origins", "*", keys_yaml=False) as server:
        for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                        {"Host": "evil.example:%d" % server.port}):
            status, _, answer = call(server, "POST", "/cluster/drain", FRONT, key=None,
                                     headers=headers)
            assert status == 403 and "this host" in openai_error(answer)["message"], (
                headers, answer)
        # A page served from this host (the operator page's own calls) and troupe drain may.
        status, _, answer = call(server, "GET", "/cluster", key=None,
                                 headers={"Origin": "http://127.0.0.1:%d" % server.port})
        assert status == 200, answer
        status, _, answer = call(server, "POST", CHAT, chat(2), key=None)
        assert status == 200, answer  # nothing was drained


def test_without_keys_a_proxied_or_non_json_admin_call_is_refused():
    """nginx on this host (troupe deploy nginx) connects from loopback for whoever reached it,
    and a web page may POST text/plain to 127.0.0.1 with no preflight: neither may drain."""
    with serving(keys_yaml=False) as server:
        for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"},
                       {"X-Real-IP": "203.0.113.9"}):
            status, _, answer = call(server, "POST", "/cluster/drain", FRONT, key=None,
                                     headers=header)
            assert status == 403 and "proxy" in openai_error(answer)["message"], (header, answer)
        status, _, answer = call(server, "GET", "/cluster", key=None,
                                 headers={"X-Forwarded-For": "203.0.113.9"})
        assert status == 403, answer
        conn = connect(server, 60, "127.0.0.1")
        try:
            conn.request("POST", "/cluster/drain", body=json.dumps(FRONT),
                         headers={"Content-Type": "text/plain"})
            response = conn.getresponse()
            answer = response.read()
        finally:
            conn.close()
        assert response.status == 415, answer
        assert "application/json" in openai_error(answer)["message"], answer
        # Nothing was drained.
        status, _, answer = call(server, "POST", CHAT, chat(2), key=None)
        assert status == 200, answer
