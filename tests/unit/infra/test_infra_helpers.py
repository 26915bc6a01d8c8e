"""The pure parts of the host checks in tests/infra (no host needed)."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _load_helpers():
    # tests/unit has no __init__.py, so the repository root is not on sys.path here.
    spec = importlib.util.spec_from_file_location("dcos_infra_helpers", INFRA / "helpers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


h = _load_helpers()


class FakeHost:
    """Answers `cat /etc/dcos-core/roles` like a testinfra host; counts the calls."""

    def __init__(self, result=None, exc=None):
        self.result = result
        self.exc = exc
        self.calls = 0

    def run(self, command, *args):
        self.calls += 1
        assert command == "cat %s" and args == (h.ROLES_FILE,)
        if self.exc:
            raise self.exc
        return self.result


def ok(stdout):
    return SimpleNamespace(rc=0, stdout=stdout, stderr="")


# ---- roles ----------------------------------------------------------------------------------


def test_parse_roles_skips_blanks_and_comments():
    text = "# written by deploy.py\nmaster\n\n  agent  # also runs tasks\n"
    assert h.parse_roles(text) == {"master", "agent"}
    assert h.parse_roles("") == frozenset()


@pytest.mark.parametrize(
    ("module_role", "host_roles", "runs"),
    [
        ("all", frozenset(), True),
        (None, frozenset({"agent"}), True),
        ("master", frozenset({"master"}), True),
        ("master", frozenset({"agent"}), False),
        ("agent", frozenset({"public_agent"}), True),  # a public agent runs dcos-agent too
        ("public_agent", frozenset({"agent"}), False),
        ("public_agent", frozenset({"public_agent"}), True),
        ("agent", frozenset({"master", "agent"}), True),
        ("master", None, True),  # roles unknown: keep, the checks say what is wrong
    ],
)
def test_applies(module_role, host_roles, runs):
    assert h.applies(module_role, host_roles) is runs


def test_expected_services():
    assert h.expected_services({"master"}) == ("master", "marathon", "chronos")
    assert h.expected_services({"public_agent"}) == ("agent", "lb")
    assert h.expected_services({"agent", "public_agent"}) == ("agent", "lb")
    assert h.expected_services({"master", "agent"}) == ("master", "agent", "marathon", "chronos")
    assert h.expected_services(set()) == ()


def test_read_host_roles():
    assert h.read_host_roles(FakeHost(ok("agent\n"))) == ({"agent"}, "")
    missing = SimpleNamespace(rc=1, stdout="", stderr=f"cat: {h.ROLES_FILE}: No such file")
    assert h.read_host_roles(FakeHost(missing)) == (frozenset(), f"no {h.ROLES_FILE}")
    denied = SimpleNamespace(rc=1, stdout="", stderr="cat: x: Permission denied\n")
    assert h.read_host_roles(FakeHost(denied)) == (None, "rc 1: cat: x: Permission denied")
    roles, problem = h.read_host_roles(FakeHost(exc=RuntimeError("ssh: connect timed out")))
    assert roles is None and "connect timed out" in problem


def test_hosts_requested():
    none = SimpleNamespace(hosts=None, connection=None, ansible_inventory=None)
    assert not h.hosts_requested(none)
    assert h.hosts_requested(SimpleNamespace(hosts="ssh://10.0.0.1", connection=None))
    assert h.hosts_requested(SimpleNamespace(hosts=None, connection="local"))
    assert h.hosts_requested(SimpleNamespace(ansible_inventory="inv.yml"))
    assert not h.hosts_requested(SimpleNamespace())


def test_selector_reads_each_host_once_and_deselects_by_role():
    master = FakeHost(ok("master\n"))
    agent = FakeHost(ok("agent\n"))
    public = FakeHost(ok("public_agent\n"))
    sel = h.RoleSelector()
    modules = [
        ("test_common", "all"),
        ("test_master", "master"),
        ("test_frameworks", "master"),
        ("test_agent", "agent"),
        ("test_public_agent", "public_agent"),
    ]
    kept = {}
    for key, host in (("ssh://m1", master), ("ssh://a1", agent), ("ssh://p1", public)):
        for name, role in modules:
            for _ in range(3):  # several items per module
                if sel.keep(key, host, role, name):
                    kept.setdefault(key, set()).add(name)
    assert (master.calls, agent.calls, public.calls) == (1, 1, 1)
    assert kept == {
        "ssh://m1": {"test_common", "test_master", "test_frameworks"},
        "ssh://a1": {"test_common", "test_agent"},
        "ssh://p1": {"test_common", "test_agent", "test_public_agent"},
    }
    assert sel.summary() == (
        "dcos-core roles: ssh://a1=agent -test_master/test_frameworks/test_public_agent; "
        "ssh://m1=master -test_agent/test_public_agent; "
        "ssh://p1=public_agent -test_master/test_frameworks"
    )


def test_selector_keeps_everything_on_unreadable_hosts():
    sel = h.RoleSelector()
    down = FakeHost(exc=OSError("no route to host"))
    assert sel.keep("ssh://x", down, "master", "test_master")
    assert sel.keep("ssh://x", down, "agent", "test_agent")
    assert down.calls == 1
    assert sel.summary().startswith("dcos-core roles: ssh://x=? (OSError: no route to host")


def test_selector_without_roles_file_runs_only_common():
    sel = h.RoleSelector()
    bare = FakeHost(SimpleNamespace(rc=1, stdout="", stderr="No such file or directory"))
    assert sel.keep("local://", bare, "all", "test_common")
    assert not sel.keep("local://", bare, "master", "test_master")
    assert sel.summary() == f"dcos-core roles: local://=none (no {h.ROLES_FILE}) -test_master"
    assert h.RoleSelector().summary() == ""


def test_every_check_module_declares_a_known_role():
    for path in sorted(INFRA.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        roles = [
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "ROLE" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ]
        assert len(roles) == 1, f"{path.name} must declare ROLE once"
        assert roles[0] in (*h.ROLES, "all"), f"{path.name}: unknown ROLE {roles[0]!r}"


# ---- configuration --------------------------------------------------------------------------


def test_parse_service_toml():
    text = '[master]\nip = "10.213.0.10"\nport = 5050\n\n[other]\nx = 1\n'
    assert h.parse_service_toml(text, "master") == {"ip": "10.213.0.10", "port": 5050}
    assert h.parse_service_toml("", "agent") == {}
    with pytest.raises(ValueError, match="not valid TOML"):
        h.parse_service_toml("[master\nip=", "master")
    with pytest.raises(ValueError, match="not a table"):
        h.parse_service_toml("master = 3\n", "master")


def test_addresses_from_tables_and_defaults():
    assert h.service_address({}, "master") == ("127.0.0.1", 5050)
    assert h.service_address({"ip": "10.0.0.5"}, "agent") == ("10.0.0.5", 5051)
    assert h.service_address({"port": 18080}, "marathon") == ("127.0.0.1", 18080)
    assert h.service_address({}, "chronos") == ("127.0.0.1", 4400)
    assert h.lb_stats_address({}) == ("127.0.0.1", 9090)
    assert h.lb_stats_address({"bind_address": "0.0.0.0", "stats_port": 0}) == ("0.0.0.0", 0)


def test_listen_specs_count_wildcard_listeners():
    assert h.listen_specs("10.0.0.5", 5050) == [
        "tcp://10.0.0.5:5050",
        "tcp://0.0.0.0:5050",
        "tcp://:::5050",
    ]
    assert h.listen_specs("0.0.0.0", 80) == ["tcp://0.0.0.0:80", "tcp://:::80"]
    assert h.listen_specs("::", 80) == ["tcp://:::80"]
    assert h.listen_specs("[fd00::5]", 81) == ["tcp://fd00::5:81", "tcp://:::81"]


def test_http_base():
    assert h.http_base("10.0.0.5", 5050) == "http://10.0.0.5:5050"
    assert h.http_base("0.0.0.0", 9090) == "http://127.0.0.1:9090"
    assert h.http_base("::", 9090) == "http://[::1]:9090"
    assert h.http_base("fd00::5", 8080) == "http://[fd00::5]:8080"


def test_master_url():
    assert h.master_url("10.213.0.10:5050") == "http://10.213.0.10:5050"
    assert h.master_url("http://m1:5050/") == "http://m1:5050"
    with pytest.raises(ValueError, match="cannot follow"):
        h.master_url("zk://10.0.0.1:2181/mesos")


# ---- HTTP on the host and the master's JSON -------------------------------------------------


def test_http_script_against_a_local_server(tmp_path):
    """The script the checks run on hosts, run here with this Python against a tiny server."""
    import http.server
    import subprocess
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if self.path == "/ping" else 503
            body = b"pong" if code == 200 else b"not yet"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    def get(url):
        out = subprocess.run(
            [sys.executable, "-c", h.HTTP_GET_SCRIPT, url, "2"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return h.parse_http_result(out)

    try:
        ping = get(base + "/ping")
        assert (ping.status, ping.body) == (200, "pong")
        health = get(base + "/health")
        assert (health.status, health.body) == (503, "not yet")
    finally:
        server.shutdown()
        server.server_close()
    down = get(base + "/ping")
    assert down.status == 0 and "Error" in down.body


def test_parse_http_result():
    r = h.parse_http_result('noise\n{"status": 200, "body": "{\\"a\\": 1}"}\n')
    assert r.status == 200 and r.json() == {"a": 1}
    assert h.parse_http_result("").status == 0


def test_agent_active():
    slaves = {
        "slaves": [
            {"id": "S1", "hostname": "10.0.0.2", "active": True},
            {"id": "S2", "hostname": "10.0.0.3", "active": False},
        ]
    }
    assert h.agent_active(slaves, "S1")
    assert not h.agent_active(slaves, "S2")
    assert not h.agent_active(slaves, "S3")
    assert not h.agent_active({}, "S1")


def test_active_frameworks():
    state = json.loads(
        json.dumps(
            {
                "frameworks": [
                    {"id": "F1", "name": "marathon", "active": True},
                    {"id": "F0", "name": "marathon", "active": False},
                    {"id": "F2", "name": "chronos", "active": True},
                ],
                "completed_frameworks": [{"id": "F9", "name": "chronos", "active": False}],
            }
        )
    )
    assert [f["id"] for f in h.active_frameworks(state, "marathon")] == ["F1"]
    assert [f["id"] for f in h.active_frameworks(state, "chronos")] == ["F2"]
    assert h.active_frameworks(state, "metronome") == []


# ---- users and waiting ----------------------------------------------------------------------


def test_sys_uid_max():
    assert h.sys_uid_max("UID_MIN 1000\n#SYS_UID_MAX 500\nSYS_UID_MAX   899 # local\n") == 899
    assert h.sys_uid_max("") == 999


def test_eventually_returns_first_good_result_or_last_at_deadline():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    results = iter([1, 2, 3, 4, 5])
    assert (
        h.eventually(lambda: next(results), lambda r: r >= 3, sleep=sleep, clock=lambda: now[0])
        == 3
    )
    assert slept == [1.0, 1.0]

    calls = []
    out = h.eventually(
        lambda: calls.append(1) or len(calls),
        lambda r: False,
        timeout=2.5,
        interval=1.0,
        sleep=sleep,
        clock=lambda: now[0],
    )
    assert out == len(calls) == 4  # at 0, 1, 2, then 3 >= deadline 2.5


# ---- files and users ------------------------------------------------------------------------


def test_parse_stat_of_real_stat_output(tmp_path):
    """`stat -c STAT_FORMAT` run here: the parser reads type, permissions and spaced names."""
    import os
    import subprocess

    d = tmp_path / "conf dir"
    d.mkdir(mode=0o750)
    f = d / "master.toml"
    f.write_text("")
    os.chmod(d, 0o750)
    os.chmod(f, 0o640)
    out = subprocess.run(
        ["stat", "-L", "-c", h.STAT_FORMAT, "--", str(d), str(f), str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    ).stdout
    stats = h.parse_stat(out)
    assert set(stats) == {str(d), str(f)}
    assert stats[str(d)].is_dir and not stats[str(d)].is_file
    assert stats[str(d)].mode == 0o750
    assert stats[str(f)].is_file and stats[str(f)].mode == 0o640
    assert stats[str(f)].owner_mode().endswith(" 0640")


def test_parse_stat_lines():
    stats = h.parse_stat("root dcos 41e8 /etc/dcos-core\nroot dcos 81a0 /etc/dcos-core/a b.toml\n")
    assert stats["/etc/dcos-core"] == h.Stat("root", "dcos", 0o750, True, False)
    assert stats["/etc/dcos-core/a b.toml"].owner_mode() == "root:dcos 0640"
    assert h.parse_stat("garbage\n") == {}


def test_parse_passwd():
    u = h.parse_passwd("dcos:x:998:998::/var/lib/dcos-core:/usr/sbin/nologin\n")
    assert u == h.Passwd("dcos", 998, 998, "/var/lib/dcos-core", "/usr/sbin/nologin")
    assert h.parse_passwd("") is None
    assert h.parse_passwd("not a passwd line") is None


# ---- ssh connection sharing -----------------------------------------------------------------


def test_control_path_only_for_ssh_backends_without_one():
    ssh = SimpleNamespace(backend=SimpleNamespace(controlpath=None, controlpersist=60))
    assert h.wants_control_path(ssh)
    h.set_control_path(ssh, "/tmp/dcos-infra-ssh-x")
    assert not h.wants_control_path(ssh)
    # testinfra builds the ssh command with %-formatting: ssh must receive a literal %C.
    assert ("-o ControlPath=" + ssh.backend.controlpath) % () == (
        "-o ControlPath=/tmp/dcos-infra-ssh-x/%C"
    )
    own = SimpleNamespace(backend=SimpleNamespace(controlpath="/run/cm", controlpersist=60))
    assert not h.wants_control_path(own)
    no_persist = SimpleNamespace(backend=SimpleNamespace(controlpath=None, controlpersist=0))
    assert not h.wants_control_path(no_persist)
    paramiko = SimpleNamespace(backend=SimpleNamespace(client=None))
    assert not h.wants_control_path(paramiko)


def test_control_path_with_the_real_ssh_backend():
    testinfra = pytest.importorskip("testinfra")
    host = testinfra.get_host("ssh://root@10.0.0.9:2222", ssh_config="/dev/null")
    assert h.wants_control_path(host)
    h.set_control_path(host, "/tmp/d")
    cmd, args = host.backend._build_ssh_command("true")
    line = " ".join(cmd) % tuple(args)
    assert "-o ControlMaster=auto" in line and "-o ControlPath=/tmp/d/%C" in line
