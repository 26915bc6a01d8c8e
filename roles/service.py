"""The pattern every dcos-core service follows (master, agent, Marathon, Chronos, load balancer).

1. its configuration file from a jinja2 template (`/etc/dcos-core/<svc>.toml`, root:dcos 0640);
2. its systemd unit from a template (`/etc/systemd/system/dcos-<svc>.service`);
3. `systemctl daemon-reload`, only if a unit changed;
4. one restart operation, only if the code, the configuration or the unit changed: it restarts
   the unit and waits until the service answers (master `/health`, agent rejoined, `/ping`), so
   with `_serial=True` (masters) or `_parallel=N` (agents) the next host or batch starts only
   once this one is back; a service that does not come back fails the host and stops the deploy;
5. the unit enabled and running (no change when it is).

Nothing runs and nothing waits when nothing changed: every step is fact-checked or guarded by
`_if=any_changed(...)`.

In an appliance image (a host of group `images`, `s["image"]`) only step 2 and 3 run and the unit
is left disabled: the configuration depends on the host the image boots as, so the first boot
(`appliance/firstboot.py`) renders the same templates and enables the services of its role.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

UNIT_DIR = "/etc/systemd/system"


def config_file(s: dict[str, Any], template: Path, svc: str) -> OperationMeta:
    """`<config_dir>/<svc>.toml` from `template` (readable by the system user's group)."""
    return files.template(
        name=f"{svc}.toml",
        src=str(template),
        dest=f"{s['config_dir']}/{svc}.toml",
        user="root",
        group=s["system_user"],
        mode="640",
        create_remote_dir=False,  # made by the common role
        s=s,
    )


def unit_file(s: dict[str, Any], template: Path, unit: str) -> OperationMeta:
    """`/etc/systemd/system/<unit>.service` from `template`."""
    return files.template(
        name=f"{unit}.service",
        src=str(template),
        dest=f"{UNIT_DIR}/{unit}.service",
        user="root",
        group="root",
        mode="644",
        create_remote_dir=False,  # part of systemd
        s=s,
    )


def daemon_reload(*units: OperationMeta) -> OperationMeta:
    """`systemctl daemon-reload` if one of these unit files changed."""
    return systemd.daemon_reload(name="systemctl daemon-reload", _if=any_changed(*units))


def restart(
    unit: str,
    changed: list[OperationMeta],
    wait: str | None,
    **execution: Any,
) -> OperationMeta:
    """Restart `unit` and run the `wait` command, only if one of `changed` changed.

    `execution` takes `_serial=True` or `_parallel=N` (the same on every host).
    """
    commands = [f"systemctl restart {unit}.service"]
    if wait:
        commands.append(wait)
    return server.shell(
        name=f"restart {unit} (its code, configuration or unit changed)",
        commands=commands,
        _if=any_changed(*changed),
        **execution,
    )


def running(unit: str) -> OperationMeta:
    """The unit enabled at boot and running."""
    return systemd.service(
        name=f"{unit} enabled and running", service=f"{unit}.service", running=True, enabled=True
    )


def service(
    s: dict[str, Any],
    svc: str,
    templates: Path,
    code: OperationMeta,
    wait: str | None,
    **execution: Any,
) -> dict[str, OperationMeta]:
    """Steps 1-5 for `dcos-<svc>` with `templates/<svc>.toml.j2` and `dcos-<svc>.service.j2`."""
    unit = f"dcos-{svc}"
    if s["image"]:
        unit_op = unit_file(s, templates / f"{unit}.service.j2", unit)
        daemon_reload(unit_op)
        systemd.service(
            name=f"{unit} disabled (the first boot enables the services of its role)",
            service=f"{unit}.service",
            running=False,
            enabled=False,
        )
        return {"unit": unit_op}
    config = config_file(s, templates / f"{svc}.toml.j2", svc)
    unit_op = unit_file(s, templates / f"{unit}.service.j2", unit)
    daemon_reload(unit_op)
    restarted = restart(unit, [code, config, unit_op], wait, **execution)
    running(unit)
    return {"config": config, "unit": unit_op, "restart": restarted}
