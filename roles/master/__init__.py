"""The master role: `dcos-master` (config `/etc/dcos-core/master.toml`, unit `dcos-master.service`).

Restarts run one master at a time (`_serial=True`), each waiting until the master answers
`/health` on its port before the next one starts; nothing restarts when nothing changed.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra.api import deploy
from pyinfra.operations import files

from roles import settings
from roles.common import activate_code
from roles.service import service

TEMPLATES = Path(__file__).parent / "templates"


def health_wait(s: dict) -> str:
    """The command that waits for a restarted master."""
    return (
        f"{s['wait']} http http://{s['local']}:{s['master_port']}/health"
        f" --timeout {s['restart_timeout']}"
    )


@deploy("dcos-core master", data_defaults=settings.defaults())
def master() -> None:
    """Install the code and run `dcos-core master` as the system user."""
    s = settings.resolve()
    code = activate_code()
    files.directory(
        name="master work dir",
        path=f"{s['data_dir']}/master",
        user=s["system_user"],
        group=s["system_user"],
        mode="750",
    )
    service(s, "master", TEMPLATES, code, health_wait(s), _serial=True)
