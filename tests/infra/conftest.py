"""Host checks: collected only when hosts are named, and deselected per host by role.

- Without `--hosts`, `--connection` or `--ansible-inventory` nothing here is collected (testinfra
  would otherwise check the machine pytest runs on): `pytest tests/` skips this directory and
  `pytest tests/infra` collects nothing (exit 5).
- Each module says which hosts it is for with `ROLE = "master" | "agent" | "public_agent"` (or
  `"all"`). The roles of each host are read once from its `/etc/dcos-core/roles`; the items of
  modules whose role the host does not have are deselected (not skipped), and one line says so.
- Hosts reached with the `ssh` backend share one SSH connection each (OpenSSH ControlMaster with
  a private ControlPath): testinfra opens a new connection per command otherwise, about 0.3 s
  each. `DCOS_INFRA_SSH_MUX=0` turns this off.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.infra.helpers import (
    RoleSelector,
    hosts_requested,
    set_control_path,
    wants_control_path,
)

HERE = Path(__file__).resolve().parent
NO_HOSTS = (
    "tests/infra: no --hosts/--connection given, host checks not collected (docs/testinfra.md)"
)

_selector = RoleSelector()
_mux_dir: list[str] = []  # the ControlPath directory, once made


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(HERE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if not hosts_requested(config.option) and _inside(collection_path):
        return True
    return None


def _host_of(item: pytest.Item) -> Any:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("_testinfra_host") if callspec else None


def host_id(host: Any) -> str:
    """The name testinfra gives the host in test ids (`ssh://10.0.0.1`, `local`, …)."""
    try:
        return str(host.backend.get_pytest_id())
    except Exception:
        return repr(host)


def _multiplex(host: Any) -> None:
    if os.environ.get("DCOS_INFRA_SSH_MUX", "1") == "0" or not wants_control_path(host):
        return
    if not _mux_dir:
        # /tmp keeps the socket paths short (TMPDIR can be long, e.g. on macOS).
        short = "/tmp" if os.path.isdir("/tmp") else None
        _mux_dir.append(tempfile.mkdtemp(prefix="dcos-infra-ssh-", dir=short))
    set_control_path(host, _mux_dir[0])


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the shared connections (they would linger for ControlPersist) and remove their dir."""
    for d in _mux_dir:
        for sock in Path(d).iterdir():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    ["ssh", "-F", "/dev/null", "-S", str(sock), "-O", "exit", "mux"],
                    capture_output=True,
                    timeout=5,
                )
        shutil.rmtree(d, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = {id(i) for i in items if _inside(i.path)}
    if not ours:
        return
    if not hosts_requested(config.option):  # explicit file arguments got past the ignore hook
        config.hook.pytest_deselected(items=[i for i in items if id(i) in ours])
        items[:] = [i for i in items if id(i) not in ours]
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        host = _host_of(item) if id(item) in ours else None
        if host is not None:
            _multiplex(host)
        if host is None or _selector.keep(
            host_id(host),
            host,
            getattr(item.module, "ROLE", None),
            item.module.__name__.rsplit(".", 1)[-1],
        ):
            keep.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    if not hosts_requested(config.option):
        here = config.invocation_params.dir
        asked = any(_inside(here / str(a).split("::", 1)[0]) for a in config.args)
        return [NO_HOSTS] if asked else []
    line = _selector.summary()
    return [line] if line else []
