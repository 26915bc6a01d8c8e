"""The agent -> master half of `dcos_core.protocol.internal`: a Protocol, HTTP and in-memory.

Outcomes callers act on:
* `UnknownAgentError` (404): the master does not know this agent id -> re-register with it;
* `AgentRefusedError` (403): the master will not have this agent (marked gone) -> shut down;
* `MasterUnavailableError`: connection refused, timeout, 5xx or an unexpected answer -> back off.
"""

from __future__ import annotations

import json
from typing import Protocol

from pydantic import ValidationError

from dcos_core.errors import DcosError, NotFoundError
from dcos_core.http11 import HttpClient, HttpError, Response
from dcos_core.protocol.internal import Heartbeat, RegisterAgent, RegisteredAgent, StatusUpdate


class UnknownAgentError(NotFoundError):
    """The master answered 404: it forgot this agent (restart) or removed it."""


class AgentRefusedError(DcosError):
    """The master answered 403: this agent was marked gone and must shut down (Mesos)."""


class MasterUnavailableError(DcosError):
    """The master could not be reached or gave an unusable answer."""


class MasterClient(Protocol):
    """Calls from the agent to the master."""

    async def register(self, msg: RegisterAgent) -> RegisteredAgent:
        """(Re-)register; `msg.agent_info.id` is None the first time. Safe to repeat."""
        ...

    async def heartbeat(self, msg: Heartbeat) -> None:
        """Tell the master this agent is alive. Raises `UnknownAgentError` on 404."""
        ...

    async def status(self, msg: StatusUpdate) -> None:
        """Forward one status update (202). Raises `UnknownAgentError` on 404."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent."""
        ...


def master_url(master: str) -> str:
    """`"10.0.0.1:5050"` -> `"http://10.0.0.1:5050"`; URLs with a scheme are kept.

    Example:
        >>> master_url("127.0.0.1:5050")
        'http://127.0.0.1:5050'
    """
    master = master.strip().rstrip("/")
    return master if "://" in master else f"http://{master}"


class HttpMasterClient:
    """`MasterClient` over HTTP/1.1 keep-alive connections (follows a non-leading master's 307)."""

    def __init__(self, master: str, timeout: float = 5.0) -> None:
        self._http = HttpClient(master_url(master), timeout=timeout, size=8)

    async def _post(self, path: str, body: str) -> Response:
        try:
            resp = await self._http.post(path, body.encode())
        except HttpError as e:
            raise MasterUnavailableError(f"POST {path}: {e}") from None
        if resp.status == 404:
            raise UnknownAgentError(f"POST {path}: master does not know this agent")
        if resp.status == 403:
            raise AgentRefusedError(_message(resp))
        if resp.status >= 300:
            raise MasterUnavailableError(f"POST {path}: HTTP {resp.status}: {resp.text[:200]}")
        return resp

    async def register(self, msg: RegisterAgent) -> RegisteredAgent:
        resp = await self._post("/internal/agent/register", msg.model_dump_json())
        try:
            return RegisteredAgent.model_validate_json(resp.body)
        except ValidationError as e:
            raise MasterUnavailableError(f"bad RegisteredAgent from master: {e}") from None

    async def heartbeat(self, msg: Heartbeat) -> None:
        await self._post("/internal/agent/heartbeat", msg.model_dump_json())

    async def status(self, msg: StatusUpdate) -> None:
        await self._post("/internal/agent/status", msg.model_dump_json())

    async def close(self) -> None:
        await self._http.close()


def _message(resp: Response) -> str:
    try:
        body = json.loads(resp.body)
    except ValueError:
        return resp.text[:500]
    return str(body.get("message", body))[:500] if isinstance(body, dict) else resp.text[:500]


class InMemoryMasterClient:
    """A stand-in master for tests: records calls; `known`/`reachable` steer the answers."""

    def __init__(self, master_id: str = "M1", heartbeat_interval: float = 15.0) -> None:
        self.master_id = master_id
        self.heartbeat_interval = heartbeat_interval
        self.registrations: list[RegisterAgent] = []
        self.heartbeats: list[Heartbeat] = []
        self.statuses: list[StatusUpdate] = []
        self.reachable = True
        self.known: set[str] = set()
        self._next = 0

    def _check(self, agent_id: str | None = None) -> None:
        if not self.reachable:
            raise MasterUnavailableError("master unreachable (in-memory)")
        if agent_id is not None and agent_id not in self.known:
            raise UnknownAgentError(f"unknown agent {agent_id}")

    async def register(self, msg: RegisterAgent) -> RegisteredAgent:
        self._check()
        self.registrations.append(msg)
        agent_id = msg.agent_info.id
        if agent_id is None:
            agent_id = f"{self.master_id}-S{self._next}"
            self._next += 1
        self.known.add(agent_id)
        return RegisteredAgent(
            agent_id=agent_id,
            master_id=self.master_id,
            heartbeat_interval_seconds=self.heartbeat_interval,
        )

    async def heartbeat(self, msg: Heartbeat) -> None:
        self._check(msg.agent_id)
        self.heartbeats.append(msg)

    async def status(self, msg: StatusUpdate) -> None:
        self._check(msg.agent_id)
        self.statuses.append(msg)

    async def close(self) -> None:
        return None
