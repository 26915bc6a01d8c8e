"""How the master talks to agents: the master->agent half of `protocol.internal`."""

from __future__ import annotations

import logging
from typing import Final, Protocol

from dcos_core.http11 import HttpClient, HttpConnectError, HttpError
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
        self._clients: dict[str, HttpClient] = {}

    def _client(self, address: str) -> HttpClient:
        client = self._clients.get(address)
        if client is None:
            client = HttpClient(
                f"http://{address}", timeout=self._timeout, size=CONNECTIONS_PER_AGENT
            )
            self._clients[address] = client
        return client

    async def _post(self, address: str, path: str, body: str, *, idempotent: bool) -> None:
        # A kept-alive connection closed by the agent under us is resent once if the call is
        # idempotent; otherwise the failure is reported (the agent may have it).
        try:
            r = await self._client(address).post(path, body.encode(), idempotent=idempotent)
        except HttpConnectError as e:
            raise AgentUnreachable(f"{address}: {e}") from None
        except HttpError as e:
            log.warning("agent %s: %s failed: %s", address, path, e)
            return
        if r.status >= 400:
            log.warning("agent %s answered %s to %s: %s", address, r.status, path, r.text)

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
            await client.close()
        self._clients.clear()
