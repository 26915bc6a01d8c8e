"""Which isolators run: `--isolation` parsed, checked against this host, and built.

Without `--isolation` the agent picks `cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,
filesystem/linux` when it runs as root on a host with usable cgroups (v1 or v2), else
`posix/cpu,posix/mem`, and logs which and why. An isolator named explicitly that cannot work here
stops the agent's start with `IsolationError` saying what to change.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dcos_core.containerizer.cgroups import Cgroups, CgroupsHost, detect, open_cgroups
from dcos_core.containerizer.isolators.base import Isolator
from dcos_core.containerizer.isolators.cgroups import (
    CgroupsCpuIsolator,
    CgroupsMemIsolator,
    CgroupsPidsIsolator,
)
from dcos_core.containerizer.isolators.disk import DiskDuIsolator
from dcos_core.containerizer.isolators.filesystem import (
    ImageStore,
    LinuxFilesystemIsolator,
    PosixFilesystemIsolator,
)
from dcos_core.containerizer.isolators.namespaces import (
    IpcNamespaceIsolator,
    PidNamespaceIsolator,
)
from dcos_core.containerizer.isolators.ports import PortsIsolator
from dcos_core.containerizer.isolators.posix import PosixCpuIsolator, PosixMemIsolator
from dcos_core.containerizer.spec import ContainerizerConfig
from dcos_core.errors import IsolationError

log = logging.getLogger("dcos_core.containerizer.isolation")

FULL: Final = ("cgroups/cpu", "cgroups/mem", "cgroups/pids", "namespaces/pid", "filesystem/linux")
POSIX: Final = ("posix/cpu", "posix/mem")
_CGROUP_CONTROLLER: Final = {"cgroups/cpu": "cpu", "cgroups/mem": "memory", "cgroups/pids": "pids"}
_NEEDS_ROOT: Final = ("cgroups/", "namespaces/", "filesystem/linux")


@dataclass(frozen=True)
class HostFacts:
    """What decides which isolators can work here (gathered once, at start)."""

    root: bool
    cgroups: CgroupsHost | None
    cgroups_problem: str = ""


def host_facts(cgroups_mount: Path) -> HostFacts:
    root = os.geteuid() == 0
    try:
        return HostFacts(root, detect(cgroups_mount))
    except IsolationError as e:
        return HostFacts(root, None, str(e))


def choose_isolation(configured: tuple[str, ...] | None, facts: HostFacts) -> tuple[str, ...]:
    """The isolators to run: `configured` checked against `facts`, or the best default.

    Raises `IsolationError` for a configured isolator this host cannot run.

    Example:
        >>> choose_isolation(None, HostFacts(root=False, cgroups=None))
        ('posix/cpu', 'posix/mem', 'filesystem/posix')
    """
    if configured is None:
        problem = _full_problem(facts)
        if problem:
            log.warning(
                "isolation: using posix/cpu,posix/mem (no resource limits, no pid namespace) "
                "because %s; pass --isolation to choose explicitly",
                problem,
            )
            names: tuple[str, ...] = POSIX
        else:
            names = FULL
    else:
        names = configured
        for name in names:
            problem = _problem(name, facts)
            if problem:
                advice = (
                    ""
                    if "--isolation" in problem
                    else (f"; remove it from --isolation (or use --isolation={','.join(POSIX)})")
                )
                raise IsolationError(f"isolator {name} cannot work on this host: {problem}{advice}")
    if not any(n.startswith("filesystem/") for n in names):
        names = (*names, "filesystem/posix")
    log.info("isolation: %s", ",".join(names))
    return names


def _full_problem(facts: HostFacts) -> str:
    for name in FULL:
        problem = _problem(name, facts)
        if problem:
            return problem
    return ""


def _problem(name: str, facts: HostFacts) -> str:
    if name.startswith(_NEEDS_ROOT) and not facts.root:
        return "the agent does not run as root"
    controller = _CGROUP_CONTROLLER.get(name)
    if controller is not None:
        if facts.cgroups is None:
            return facts.cgroups_problem or "no cgroup file system is mounted"
        if controller not in facts.cgroups.controllers:
            return (
                f"the cgroup v{facts.cgroups.version} controller '{controller}' is not usable "
                f"under {facts.cgroups.mount} (not mounted, not enabled or read-only); "
                "pass --cgroups-mount"
            )
    if name.startswith("namespaces/") and not Path("/proc/self/ns/pid").exists():
        return "the kernel has no pid namespaces"
    return ""


def build_isolators(
    names: tuple[str, ...],
    config: ContainerizerConfig,
    facts: HostFacts,
    agent_port_ranges: list[tuple[int, int]],
) -> tuple[list[Isolator], Cgroups | None]:
    """Build the isolators `names` (already chosen); returns them and the shared cgroups handle."""
    cgroups: Cgroups | None = None
    if any(n.startswith("cgroups/") for n in names):
        assert facts.cgroups is not None  # choose_isolation checked it
        cgroups = open_cgroups(facts.cgroups, config.cgroups_root)
    images = ImageStore(config.image_dir)
    cg = cgroups
    factories: dict[str, Callable[[], Isolator]] = {
        "cgroups/cpu": lambda: CgroupsCpuIsolator(_need(cg), config.cgroups_enable_cfs),
        "cgroups/mem": lambda: CgroupsMemIsolator(_need(cg)),
        "cgroups/pids": lambda: CgroupsPidsIsolator(_need(cg), config.pids_limit),
        "namespaces/pid": PidNamespaceIsolator,
        "namespaces/ipc": IpcNamespaceIsolator,
        "filesystem/linux": lambda: LinuxFilesystemIsolator(config.runtime_dir, images),
        "filesystem/posix": PosixFilesystemIsolator,
        "disk/du": lambda: DiskDuIsolator(config.disk_watch_interval, config.enforce_disk_quota),
        "network/ports": lambda: PortsIsolator(
            config.ports_watch_interval, config.enforce_ports, agent_port_ranges
        ),
        "posix/cpu": PosixCpuIsolator,
        "posix/mem": PosixMemIsolator,
    }
    return [factories[n]() for n in names], cgroups


def _need(cgroups: Cgroups | None) -> Cgroups:
    if cgroups is None:
        raise IsolationError("cgroups are not available")
    return cgroups
