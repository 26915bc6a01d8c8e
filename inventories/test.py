"""Inventory of the local test hosts (systemd-nspawn machines started by scripts/test-hosts.py).

    python scripts/test-hosts.py up --masters 1 --agents 2      # writes .test-hosts/hosts.json
    pyinfra -y inventories/test.py deploy.py
    DCOS_TEST_HOSTS=/tmp/other/hosts.json pyinfra -y inventories/test.py deploy.py

The JSON (path from `DCOS_TEST_HOSTS`, default `.test-hosts/hosts.json`):

    {"ssh_key": "/abs/key", "ssh_config": "/abs/ssh_config",
     "hosts": [{"name": "m1", "ip": "10.213.0.10", "groups": ["masters"]},
               {"name": "a1", "ip": "10.213.0.11", "groups": ["agents"]}],
     "data": {...settings for every host...}}

Hosts are addressed by IP as root with the test key and no host-key checking (every test host
shares the same host keys). The test hosts are systemd-nspawn containers: they cannot write the
host's cgroups, so the agents use the POSIX isolators; `data` may override that.
"""

import json
import os
from pathlib import Path

_path = Path(os.environ.get("DCOS_TEST_HOSTS", ".test-hosts/hosts.json"))
if not _path.is_absolute():
    _path = Path(__file__).resolve().parent.parent / _path
try:
    _spec = json.loads(_path.read_text())
except FileNotFoundError:
    raise SystemExit(
        f"{_path} does not exist: start test hosts first (python scripts/test-hosts.py up)"
    ) from None

_common = {
    "ssh_user": "root",
    "ssh_key": _spec["ssh_key"],
    "ssh_strict_host_key_checking": "no",
    "ssh_known_hosts_file": "/dev/null",
    "isolation": "posix/cpu,posix/mem",
    **({"ssh_config_file": _spec["ssh_config"]} if _spec.get("ssh_config") else {}),
    **_spec.get("data", {}),
}

masters: list = []
agents: list = []
public_agents: list = []
_groups = {"masters": masters, "agents": agents, "public_agents": public_agents}
for _h in _spec["hosts"]:
    for _g in _h.get("groups", []):
        if _g not in _groups:
            raise SystemExit(f"{_path}: host {_h['name']}: unknown group {_g!r}")
        _groups[_g].append((_h["ip"], {**_common, "ip": _h["ip"], "test_name": _h["name"]}))
