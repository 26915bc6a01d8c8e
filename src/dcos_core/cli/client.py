"""A typed HTTP client for the master's legacy JSON, the v1 operator API and agents' sandboxes.

No printing here: every method returns data or raises a `CliError` whose text is fit for a user
(`MasterUnreachable` when nothing listens, `ApiError` with the server's own message on 4xx/5xx).
The documents are read into the models of `dcos_core.cli.models`; the raw ones stay available for
`--json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import httpx

from dcos_core.cli.models import ClusterSummary, JsonObject, Node, Task, all_tasks, summarize

DEFAULT_MASTER: Final = "http://127.0.0.1:5050"
_READ_CHUNK: Final = 64 * 1024
_READ_MAX: Final = 1024 * 1024  # bytes asked of /files/read at once


# ----------------------------------------------------------------------------------------------
# errors


class CliError(Exception):
    """An error to show the user as `dcos: <message>` (exit code 1)."""


class Unreachable(CliError):
    """Nothing answers at a master's or agent's address."""

    def __init__(self, what: str, url: str, detail: str = "") -> None:
        self.url = url
        hint = " (is it running?)"
        super().__init__(
            f"cannot reach the {what} at {url}{hint}" + (f": {detail}" if detail else "")
        )


class MasterUnreachable(Unreachable):
    def __init__(self, url: str) -> None:
        super().__init__("master", url)


class ApiError(CliError):
    """The server refused the request: `message` is its own words."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        text = message or f"the server answered HTTP {status}"
        if field and field not in text:
            text = f"{text} (field: {field})"
        super().__init__(text)


class NotFound(CliError):
    """A task, agent or framework the user named is not known to the cluster."""


def _server_message(response: httpx.Response) -> tuple[str, str | None]:
    """The error text of a response: `{"message","field"}` JSON, or the plain-text body."""
    text = response.text.strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        fld = body.get("field")
        return body["message"], fld if isinstance(fld, str) else None
    if isinstance(body, dict) and "detail" in body:  # FastAPI's own errors
        return json.dumps(body["detail"]), None
    return text, None


# ----------------------------------------------------------------------------------------------
# the client


@dataclass(frozen=True)
class Sandbox:
    """Where a task's files live: the agent's base URL and the executor's directory."""

    task: Task
    agent_url: str
    directory: str


class DcosClient:
    """Calls to one master (and, for sandboxes, to its agents)."""

    def __init__(
        self,
        master_url: str = DEFAULT_MASTER,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = master_url.strip().rstrip("/")
        if "://" not in url:
            url = f"http://{url}"
        self.master_url = url
        self._http = httpx.Client(timeout=timeout, follow_redirects=True, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DcosClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, *, what: str = "master", base: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        base = base or self.master_url
        try:
            response = self._http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            if what == "master":
                raise MasterUnreachable(base) from e
            raise Unreachable(what, base) from e
        except httpx.TimeoutException as e:
            raise CliError(f"the {what} at {base} did not answer in time") from e
        except httpx.HTTPError as e:
            raise CliError(f"error talking to the {what} at {base}: {e}") from e
        if response.status_code >= 400:
            message, fld = _server_message(response)
            raise ApiError(response.status_code, message, fld)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{response.request.url} answered something that is not JSON") from None

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self._request("GET", self.master_url + path, params=params or None))

    def operator(self, call: JsonObject) -> JsonObject | None:
        """POST a v1 operator call; the JSON answer of GET_* calls, `None` for updates."""
        response = self._request(
            "POST", f"{self.master_url}/api/v1", json=call, headers={"Accept": "application/json"}
        )
        if not response.content:
            return None
        body = self._json(response)
        return body if isinstance(body, dict) else None

    def _get_call(self, call_type: str) -> JsonObject:
        body = self.operator({"type": call_type}) or {}
        part = body.get(call_type.lower())
        return part if isinstance(part, dict) else {}

    # --- legacy JSON --------------------------------------------------------------------------

    def version(self) -> JsonObject:
        return dict(self.get("/version"))

    def state(self) -> JsonObject:
        return dict(self.get("/master/state"))

    def slaves(self) -> JsonObject:
        return dict(self.get("/master/slaves"))

    def metrics(self) -> JsonObject:
        return dict(self.get("/metrics/snapshot"))

    def allocation(self, framework_id: str) -> JsonObject:
        """Why a framework got no offers, per role: `{"framework_id", "roles": {role: {...}}}`."""
        return dict(self.get(f"/master/frameworks/{framework_id}/allocation"))

    def summary(self) -> ClusterSummary:
        return summarize(self.state(), self.metrics())

    # --- operator API -------------------------------------------------------------------------

    def get_roles(self) -> list[JsonObject]:
        return list(self._get_call("GET_ROLES").get("roles") or [])

    def get_weights(self) -> list[JsonObject]:
        return list(self._get_call("GET_WEIGHTS").get("weight_infos") or [])

    def get_quota(self) -> list[JsonObject]:
        status = self._get_call("GET_QUOTA").get("status") or {}
        return list(status.get("configs") or [])

    def update_weight(self, role: str, weight: float) -> None:
        self.operator(
            {
                "type": "UPDATE_WEIGHTS",
                "update_weights": {"weight_infos": [{"role": role, "weight": weight}]},
            }
        )

    def update_quota(
        self,
        role: str,
        guarantees: dict[str, float],
        limits: dict[str, float] | None,
        force: bool = False,
    ) -> None:
        config: JsonObject = {
            "role": role,
            "guarantees": {k: {"value": v} for k, v in guarantees.items()},
        }
        if limits:
            config["limits"] = {k: {"value": v} for k, v in limits.items()}
        self.operator(
            {"type": "UPDATE_QUOTA", "update_quota": {"force": force, "quota_configs": [config]}}
        )

    def _agent_call(self, call_type: str, agent_id: str, **extra: Any) -> None:
        self.operator(
            {"type": call_type, call_type.lower(): {"agent_id": {"value": agent_id}, **extra}}
        )

    def deactivate_agent(self, agent_id: str) -> None:
        self._agent_call("DEACTIVATE_AGENT", agent_id)

    def reactivate_agent(self, agent_id: str) -> None:
        self._agent_call("REACTIVATE_AGENT", agent_id)

    def mark_agent_gone(self, agent_id: str) -> None:
        self._agent_call("MARK_AGENT_GONE", agent_id)

    def drain_agent(
        self, agent_id: str, max_grace_period: float | None = None, mark_gone: bool = False
    ) -> None:
        extra: JsonObject = {"mark_gone": mark_gone}
        if max_grace_period is not None:
            extra["max_grace_period"] = {"nanoseconds": int(max_grace_period * 1e9)}
        self._agent_call("DRAIN_AGENT", agent_id, **extra)

    def teardown(self, framework_id: str) -> None:
        self.operator({"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}})

    # --- sandboxes ----------------------------------------------------------------------------

    def find_task(self, task_id: str, state: JsonObject | None = None) -> Task:
        """The task with the id `task_id` (the most recent one, if the id was reused)."""
        tasks = [t for t in all_tasks(state or self.state()) if t.id == task_id]
        if not tasks:
            raise NotFound(f"task {task_id} is not known to the master")
        live = [t for t in tasks if not t.terminal]
        return (live or tasks)[-1]

    def sandbox(self, task: Task, state: JsonObject | None = None) -> Sandbox:
        """Find a task's agent and its executor's sandbox directory (from the agent's /state)."""
        state = state or self.state()
        task_id = task.id
        slave = next((s for s in state.get("slaves") or [] if s.get("id") == task.agent_id), None)
        if slave is None:
            raise NotFound(f"the agent {task.agent_id} of task {task_id} is not connected")
        agent_url = f"http://{Node.from_v0(slave).address}"
        agent_state = self._json(
            self._request("GET", f"{agent_url}/state", what="agent", base=agent_url)
        )
        for fw in (agent_state.get("frameworks") or []) + (
            agent_state.get("completed_frameworks") or []
        ):
            if fw.get("id") != task.framework_id:
                continue
            for ex in (fw.get("executors") or []) + (fw.get("completed_executors") or []):
                ids = {
                    t.get("id")
                    for key in ("tasks", "completed_tasks", "queued_tasks")
                    for t in ex.get(key) or []
                }
                if task_id in ids or ex.get("id") == task_id:
                    return Sandbox(task, agent_url, str(ex["directory"]))
        raise NotFound(f"the agent {task.agent_id} has no sandbox for task {task_id}")

    def read_file(
        self, agent_url: str, path: str, offset: int = 0, length: int | None = None
    ) -> JsonObject:
        """`/files/read` of an agent: `{"data", "offset"}` (`offset=-1`: the size only)."""
        params: JsonObject = {"path": path, "offset": offset}
        if length is not None:
            params["length"] = length
        response = self._request(
            "GET", f"{agent_url}/files/read", params=params, what="agent", base=agent_url
        )
        return dict(self._json(response))

    def file_size(self, agent_url: str, path: str) -> int:
        return int(self.read_file(agent_url, path, -1)["offset"])

    def read_range(self, agent_url: str, path: str, start: int, end: int) -> str:
        """The bytes `[start, end)` of a sandbox file as text, in chunks the agent accepts."""
        chunks: list[str] = []
        offset = start
        while offset < end:
            n = min(end - offset, _READ_MAX)
            chunks.append(str(self.read_file(agent_url, path, offset, n)["data"]))
            offset += n
        return "".join(chunks)

    def tail(self, agent_url: str, path: str, lines: int | None) -> tuple[str, int]:
        """The last `lines` lines of a sandbox file (all if `None`) and its size when read."""
        size = self.file_size(agent_url, path)
        if lines is None:
            return self.read_range(agent_url, path, 0, size), size
        if lines <= 0:
            return "", size
        start, text, step = size, "", _READ_CHUNK
        while start > 0:
            start = max(0, start - step)
            step *= 2
            text = self.read_range(agent_url, path, start, size)
            body = text[:-1] if text.endswith("\n") else text
            if body.count("\n") >= lines:
                break
        return "".join(text.splitlines(keepends=True)[-lines:]), size
