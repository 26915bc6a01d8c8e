"""How the master talks to agents: the master->agent half of `protocol.internal`."""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Protocol

import httpx

from dcos_core.protocol.internal import Acknowledge, KillTask, RunTask, ShutdownFramework

log = logging.getLogger(__name__)

# A few keep-alive connections per agent: enough for bursts, and small enough that the HTTP pool
# never scans hundreds of idle connections per request (measured: a single shared pool of 2,000
# connections cost >80 % of the master's CPU under load; see docs/benchmarks.md).
CONNECTIONS_PER_AGENT: Final = 8


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
    """`AgentClient` over HTTP/1.1: one small keep-alive pool and one send queue per agent."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}

    def _client(self, address: str) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        client = self._clients.get(address)
        if client is None:
            limits = httpx.Limits(
                max_connections=CONNECTIONS_PER_AGENT,
                max_keepalive_connections=CONNECTIONS_PER_AGENT,
            )
            client = httpx.AsyncClient(timeout=self._timeout, limits=limits)
            self._clients[address] = client
            self._slots[address] = asyncio.Semaphore(CONNECTIONS_PER_AGENT)
        return client, self._slots[address]

    async def _post(self, address: str, path: str, body: str, *, idempotent: bool) -> None:
        client, slot = self._client(address)
        attempts = 2 if idempotent else 1
        async with slot:
            for attempt in range(attempts):
                try:
                    r = await client.post(
                        f"http://{address}{path}",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                except httpx.ConnectError as e:
                    raise AgentUnreachable(f"{address}: {e}") from None
                except (httpx.ReadError, httpx.RemoteProtocolError) as e:
                    # A kept-alive connection closed by the agent under us: resend once if the
                    # call is idempotent, otherwise report it (the agent may have it).
                    if attempt + 1 < attempts:
                        continue
                    log.warning("agent %s: %s failed: %r", address, path, e)
                    return
                except httpx.HTTPError as e:
                    log.warning("agent %s: %s failed: %r", address, path, e)
                    return
                if r.status_code >= 400:
                    log.warning(
                        "agent %s answered %s to %s: %s", address, r.status_code, path, r.text
                    )
                return

    async def run_task(self, address: str, msg: RunTask) -> None:
        # Not resent: a duplicate launch would be reported to the framework as TASK_ERROR.
        await self._post(address, "/internal/run_task", msg.model_dump_json(), idempotent=False)

    async def kill_task(self, address: str, msg: KillTask) -> None:
        await self._post(address, "/internal/kill_task", msg.model_dump_json(), idempotent=True)

    async def acknowledge(self, address: str, msg: Acknowledge) -> None:
        await self._post(address, "/internal/acknowledge", msg.model_dump_json(), idempotent=True)

    async def shutdown_framework(self, address: str, msg: ShutdownFramework) -> None:
        body = msg.model_dump_json()
        await self._post(address, "/internal/shutdown_framework", body, idempotent=True)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
