"""`apt_proxy`: hosts that reach their apt mirror only through a proxy get their packages.

Real hosts (systemd-nspawn, `tests.testhosts`): a master and a public agent (which needs the
Debian `haproxy` package). The public agent's only apt source is `http://debian.test/repo`, a
name nothing resolves: apt can reach it only through the proxy the deploy configures. The proxy
is a small HTTP proxy started here on the test bridge's address; it serves that URL from the
harness' local flat repo (no request leaves the test network) and records what it served.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.integration.deploykit import pyinfra_deploy
from tests.testhosts import TestHosts

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.hosts,
    pytest.mark.timeout(900),
]

ROOT = Path(__file__).resolve().parents[2]
MIRROR = "http://debian.test/repo"


class _Proxy(BaseHTTPRequestHandler):
    repo: Path
    served: list[str]

    def do_GET(self) -> None:  # apt sends absolute URIs to a proxy
        url = urlsplit(self.path)
        name = os.path.normpath(unquote(url.path).removeprefix("/repo/")).lstrip("/")
        path = self.repo / name
        if url.hostname != "debian.test" or not url.path.startswith("/repo/") or ".." in name:
            self.send_error(403)
            return
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.served.append(name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[TestHosts]:
    th = TestHosts(tmp_path / "hosts", prefix="dcp", subnet="10.216.0")
    try:
        yield th
    finally:
        th.stop()


def test_public_agent_gets_haproxy_through_the_apt_proxy(hosts: TestHosts, tmp_path: Path) -> None:
    m1, p1 = hosts.boot(["m1", "p1"])
    served: list[str] = []
    handler = type("Proxy", (_Proxy,), {"repo": hosts.repo, "served": served})
    proxy = ThreadingHTTPServer(("10.216.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        p1.run(f"echo 'deb [trusted=yes] {MIRROR} ./' > /etc/apt/sources.list")
        p1.run("rm -rf /var/lib/apt/lists/* && ! dpkg -s haproxy >/dev/null 2>&1")
        hosts_json = tmp_path / "hosts.json"
        url = f"http://10.216.0.1:{proxy.server_address[1]}"
        hosts.write_hosts_json(
            hosts_json, {"masters": ["m1"], "public_agents": ["p1"]}, {"apt_proxy": url}
        )
        pyinfra_deploy({"DCOS_TEST_HOSTS": str(hosts_json)})
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert (
        p1.run("dpkg -s haproxy | grep -q '^Status: install ok installed'", check=False).returncode
        == 0
    )
    assert any(n.startswith("haproxy_") and n.endswith(".deb") for n in served), served
    assert "Packages" in served or any(n.startswith("Packages") for n in served), served
    for h in (m1, p1):
        conf = h.run("cat /etc/apt/apt.conf.d/01dcos-proxy").stdout
        assert f'Acquire::http::Proxy "{url}";' in conf
    assert p1.run("systemctl is-active dcos-lb").stdout.strip() == "active"
