"""Which containerizers exist, by the name given in `--containerizer`.

The next issue adds `"mesos"` (isolator pipeline: cgroups, namespaces) and `"docker"` here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from dcos_core.clock import Clock
from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.posix import PosixContainerizer
from dcos_core.containerizer.simulated import SimulatedContainerizer
from dcos_core.errors import InvalidError

CONTAINERIZERS: Final[dict[str, Callable[[Clock | None], Containerizer]]] = {
    "posix": PosixContainerizer,
    "simulated": SimulatedContainerizer,
}


def create_containerizer(name: str, clock: Clock | None = None) -> Containerizer:
    """Build the containerizer registered as `name`; unknown names raise `InvalidError`."""
    factory = CONTAINERIZERS.get(name)
    if factory is None:
        known = ", ".join(sorted(CONTAINERIZERS))
        raise InvalidError(f"unknown containerizer '{name}' (known: {known})", "containerizer")
    return factory(clock)
