"""Which containerizers exist, by the names given in `--containerizers` (comma-separated).

* `mesos`: the isolator pipeline (cgroups, namespaces, filesystem, disk, ports), recoverable;
* `docker`: the Docker engine through the `docker` SDK, recoverable;
* `posix`: a process group per task, no isolation, not recoverable (kept for simple hosts);
* `simulated`: no processes at all, for scale tests and benchmarks.

Several names give a `ComposingContainerizer` (DOCKER tasks to docker, the rest to the first).
"""

from __future__ import annotations

from dcos_core.clock import Clock
from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.composing import ComposingContainerizer
from dcos_core.containerizer.spec import ContainerizerConfig
from dcos_core.isolation_names import parse_containerizers


def create_containerizer(
    names: str,
    config: ContainerizerConfig,
    clock: Clock | None = None,
    *,
    isolation: tuple[str, ...] | None = None,
    agent_port_ranges: list[tuple[int, int]] | None = None,
) -> Containerizer:
    """Build the containerizers named in `names`; one is returned as is, several composed."""
    built: dict[str, Containerizer] = {}
    for name in parse_containerizers(names):
        if name == "mesos":
            from dcos_core.containerizer.mesos import MesosContainerizer

            built[name] = MesosContainerizer.create(config, clock, agent_port_ranges, isolation)
        elif name == "docker":
            from dcos_core.containerizer.docker import DockerContainerizer

            built[name] = DockerContainerizer(config, clock)
        elif name == "posix":
            from dcos_core.containerizer.posix import PosixContainerizer

            built[name] = PosixContainerizer(clock)
        else:
            from dcos_core.containerizer.simulated import SimulatedContainerizer

            built[name] = SimulatedContainerizer(clock)
    if len(built) == 1:
        return next(iter(built.values()))
    return ComposingContainerizer(built)
