"""namespaces/pid (and namespaces/ipc): the task is pid 1 of its own pid namespace, with a
private mount namespace and its own `/proc`. Killing pid 1 kills every process of the task."""

from __future__ import annotations

from dcos_core.containerizer.isolators.base import LaunchFragment, NoOpIsolator
from dcos_core.containerizer.spec import LaunchSpec


class PidNamespaceIsolator(NoOpIsolator):
    name = "namespaces/pid"

    async def prepare(self, spec: LaunchSpec) -> LaunchFragment:
        hostname = spec.container.hostname
        ns = {"pid", "mount"} | ({"uts"} if hostname else set())
        return LaunchFragment(namespaces=ns, hostname=hostname)


class IpcNamespaceIsolator(NoOpIsolator):
    name = "namespaces/ipc"

    async def prepare(self, spec: LaunchSpec) -> LaunchFragment:
        return LaunchFragment(namespaces={"ipc"})
