"""`ComposingContainerizer`: several containerizers behind one (`--containerizers=mesos,docker`).

A DOCKER `ContainerInfo` goes to the `docker` containerizer; everything else to the first other
one. Each container is remembered with the containerizer that runs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.spec import LaunchSpec, Termination
from dcos_core.errors import InvalidError, NotFoundError


class ComposingContainerizer:
    def __init__(self, named: dict[str, Containerizer]) -> None:
        if not named:
            raise InvalidError("needs at least one containerizer", "containerizers")
        self.named = named
        self._owner: dict[str, Containerizer] = {}

    def _for_spec(self, spec: LaunchSpec) -> Containerizer:
        if spec.container.type == "DOCKER":
            c = self.named.get("docker")
            if c is None:
                raise InvalidError(
                    "DOCKER containers need the docker containerizer on this agent "
                    "(--containerizers=mesos,docker)",
                    "task.container.type",
                )
            return c
        for name, c in self.named.items():
            if name != "docker":
                return c
        raise InvalidError(
            "MESOS containers need the mesos containerizer on this agent", "task.container.type"
        )

    def _of(self, container_id: str) -> Containerizer:
        c = self._owner.get(container_id)
        if c is None:
            raise NotFoundError(f"unknown container {container_id}")
        return c

    async def check(self) -> None:
        for c in self.named.values():
            check = getattr(c, "check", None)
            if check is not None:
                await check()

    async def launch(self, spec: LaunchSpec) -> int | None:
        c = self._for_spec(spec)
        self._owner[spec.container_id] = c
        try:
            return await c.launch(spec)
        except BaseException:
            self._owner.pop(spec.container_id, None)
            raise

    async def wait(self, container_id: str) -> Termination:
        return await self._of(container_id).wait(container_id)

    async def destroy(self, container_id: str, grace_period: float) -> None:
        c = self._owner.get(container_id)
        if c is None:
            return
        await c.destroy(container_id, grace_period)
        if container_id not in c.containers():
            self._owner.pop(container_id, None)

    async def usage(self, container_id: str) -> dict[str, Any]:
        return await self._of(container_id).usage(container_id)

    def containers(self) -> list[str]:
        return [cid for c in self.named.values() for cid in c.containers()]

    async def recover(self, keep: Collection[str]) -> set[str]:
        found = await asyncio.gather(*(c.recover(keep) for c in self.named.values()))
        out: set[str] = set()
        for c, ids in zip(self.named.values(), found, strict=True):
            for cid in ids:
                self._owner[cid] = c
            out |= ids
        return out
