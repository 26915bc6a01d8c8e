"""The frameworks on the masters: `dcos-marathon` and `dcos-chronos`, pointing at the master.

Each has its config (`/etc/dcos-core/marathon.toml`, `chronos.toml`) and unit, runs as the system
user with its work dir (SQLite state) owned by it, and restarts (one host at a time, waiting for
`/ping`) only when its code, configuration or unit changed.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra.api import deploy
from pyinfra.operations import files

from roles import settings
from roles.common import activate_code
from roles.service import service

TEMPLATES = Path(__file__).parent / "templates"


def ping_wait(s: dict, svc: str) -> str:
    """The command that waits for a restarted Marathon or Chronos."""
    return (
        f"{s['wait']} http http://{s['local']}:{s[svc + '_port']}/ping"
        f" --timeout {s['restart_timeout']}"
    )


@deploy("dcos-core frameworks", data_defaults=settings.defaults())
def frameworks() -> None:
    """Marathon and Chronos on this (master) host."""
    s = settings.resolve()
    code = activate_code()
    for svc in ("marathon", "chronos"):
        files.directory(
            name=f"{svc} work dir",
            path=f"{s['data_dir']}/{svc}",
            user=s["system_user"],
            group=s["system_user"],
            mode="750",
        )
    service(s, "marathon", TEMPLATES, code, ping_wait(s, "marathon"), _serial=True)
    service(s, "chronos", TEMPLATES, code, ping_wait(s, "chronos"), _serial=True)
