"""How the master talks to agents: the master->agent half of `protocol.internal`."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx

from dcos_core.protocol.internal import Acknowledge, KillTask, RunTask, ShutdownFramework

log = logging.getLogger(__name__)


class AgentUnreachable(Exception):
    """The agent could not be reached: the message was certainly not delivered."""


class AgentClient(Protocol):
    """Sends the master's calls to an agent at `address` (host:port). Raises AgentUnreachable."""

    async def run_task(self, address: str, msg: RunTask) -> None: ...
    async def kill_task(self, address: str, msg: KillTask) -> None: ...
    async def acknowledge(self, address: str, msg: Acknowledge) -> None: ...
    async def shutdown_framework(self, address: str, msg: ShutdownFramework) -> None: ...
    async def close(self) -> None: ...


class HttpAgentClient:
    """`AgentClient` over HTTP/1.1 with keep-alive connections."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=2000, max_keepalive_connections=500),
        )

    async def _post(self, address: str, path: str, body: str) -> None:
        try:
            r = await self._http.post(
                f"http://{address}{path}",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except httpx.ConnectError as e:
            raise AgentUnreachable(f"{address}: {e}") from None
        if r.status_code >= 400:
            log.warning("agent %s answered %s to %s: %s", address, r.status_code, path, r.text)

    async def run_task(self, address: str, msg: RunTask) -> None:
        await self._post(address, "/internal/run_task", msg.model_dump_json())

    async def kill_task(self, address: str, msg: KillTask) -> None:
        await self._post(address, "/internal/kill_task", msg.model_dump_json())

    async def acknowledge(self, address: str, msg: Acknowledge) -> None:
        await self._post(address, "/internal/acknowledge", msg.model_dump_json())

    async def shutdown_framework(self, address: str, msg: ShutdownFramework) -> None:
        await self._post(address, "/internal/shutdown_framework", msg.model_dump_json())

    async def close(self) -> None:
        await self._http.aclose()
