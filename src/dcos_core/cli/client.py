"""A typed HTTP client for the master's legacy JSON, the v1 operator API and agents' sandboxes.

No printing here: every method returns data or raises a `CliError` whose text is fit for a user
(`MasterUnreachable` when nothing listens, `ApiError` with the server's own message on 4xx/5xx).
The read models (`Node`, `Task`, `Framework`, `Role`, `QuotaConfig`, `ClusterSummary`) are built
from the Mesos-shaped documents the master serves; the raw documents stay available for `--json`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import httpx

JsonObject = dict[str, Any]

DEFAULT_MASTER: Final = "http://127.0.0.1:5050"
TERMINAL_STATES: Final = frozenset(
    {
        "TASK_FINISHED",
        "TASK_FAILED",
        "TASK_KILLED",
        "TASK_ERROR",
        "TASK_LOST",
        "TASK_DROPPED",
        "TASK_GONE",
        "TASK_GONE_BY_OPERATOR",
    }
)
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
# read models


def _scalar(res: Any, name: str) -> float:
    """A scalar out of v0 (`{"cpus": 2.0}`) or v1 (`[{"name", "scalar": {"value"}}]`) resources."""
    if isinstance(res, dict):
        value = res.get(name, 0.0)
        if isinstance(value, dict):  # quota maps: {"cpus": {"value": 2}}
            value = value.get("value", 0.0)
        return float(value) if isinstance(value, int | float) else 0.0
    if isinstance(res, list):
        return sum(
            float((r.get("scalar") or {}).get("value", 0.0))
            for r in res
            if isinstance(r, dict) and r.get("name") == name and r.get("type", "SCALAR") == "SCALAR"
        )
    return 0.0


def scalar_map(res: Any) -> dict[str, float]:
    """`{"cpus": {"value": 2}}` (quota shape) as `{"cpus": 2.0}`."""
    if not isinstance(res, dict):
        return {}
    return {name: _scalar(res, name) for name in sorted(res)}


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    port: int
    address: str
    active: bool
    deactivated: bool
    drain_state: str | None
    cpus: tuple[float, float]  # used, total
    mem: tuple[float, float]
    disk: tuple[float, float]
    tasks: int

    @property
    def status(self) -> str:
        if self.drain_state:
            return self.drain_state.lower()
        if self.deactivated or not self.active:
            return "deactivated"
        return "active"

    @classmethod
    def from_v0(cls, slave: JsonObject, tasks: int = 0) -> Node:
        used, total = slave.get("used_resources") or {}, slave.get("resources") or {}
        hostname, port = str(slave.get("hostname", "")), int(slave.get("port", 0))
        pid = str(slave.get("pid", ""))
        address = pid.split("@", 1)[1] if "@" in pid else f"{hostname}:{port}"
        drain = slave.get("drain_info")
        return cls(
            id=str(slave["id"]),
            hostname=hostname,
            port=port,
            address=address,
            active=bool(slave.get("active", False)),
            deactivated=bool(slave.get("deactivated", False)),
            drain_state=str(drain.get("state")) if isinstance(drain, dict) else None,
            cpus=(_scalar(used, "cpus"), _scalar(total, "cpus")),
            mem=(_scalar(used, "mem"), _scalar(total, "mem")),
            disk=(_scalar(used, "disk"), _scalar(total, "disk")),
            tasks=tasks,
        )


@dataclass(frozen=True)
class Task:
    id: str
    name: str
    framework_id: str
    agent_id: str
    state: str
    cpus: float
    mem: float
    raw: JsonObject = field(repr=False, compare=False)
    message: str = ""  # of the task's last status update
    reason: str = ""  # e.g. REASON_COMMAND_EXECUTOR_FAILED (none for many updates)
    source: str = ""  # SOURCE_EXECUTOR, SOURCE_AGENT or SOURCE_MASTER

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def why(self) -> str:
        """The last status' message and reason, for a table cell (`""` if neither)."""
        reason = self.reason.removeprefix("REASON_")
        if self.message and reason:
            return f"{self.message} ({reason})"
        return self.message or reason

    @classmethod
    def from_v0(cls, task: JsonObject) -> Task:
        res = task.get("resources") or {}
        statuses = task.get("statuses")
        last = statuses[-1] if isinstance(statuses, list) and statuses else {}
        if not isinstance(last, dict):
            last = {}
        return cls(
            id=str(task.get("id", "")),
            name=str(task.get("name", "")),
            framework_id=str(task.get("framework_id", "")),
            agent_id=str(task.get("slave_id", "")),
            state=str(task.get("state", "")),
            cpus=_scalar(res, "cpus"),
            mem=_scalar(res, "mem"),
            raw=task,
            message=str(last.get("message") or ""),
            reason=str(last.get("reason") or ""),
            source=str(last.get("source") or ""),
        )


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    roles: list[str]
    active: bool
    connected: bool
    completed: bool
    tasks: int
    cpus: float
    mem: float
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_v0(cls, fw: JsonObject, completed: bool = False) -> Framework:
        used = fw.get("used_resources") or {}
        roles = fw.get("roles") or [fw.get("role", "*")]
        return cls(
            id=str(fw.get("id", "")),
            name=str(fw.get("name", "")),
            roles=[str(r) for r in roles],
            active=bool(fw.get("active", False)) and not completed,
            connected=bool(fw.get("connected", False)) and not completed,
            completed=completed,
            tasks=len(fw.get("tasks") or []),
            cpus=_scalar(used, "cpus"),
            mem=_scalar(used, "mem"),
            raw=fw,
        )


@dataclass(frozen=True)
class QuotaConfig:
    role: str
    guarantees: dict[str, float]
    limits: dict[str, float]

    @classmethod
    def from_v1(cls, cfg: JsonObject) -> QuotaConfig:
        return cls(
            role=str(cfg.get("role", "")),
            guarantees=scalar_map(cfg.get("guarantees")),
            limits=scalar_map(cfg.get("limits")),
        )


@dataclass(frozen=True)
class Role:
    name: str
    weight: float
    frameworks: int
    cpus: float
    mem: float
    quota: QuotaConfig | None

    @classmethod
    def from_v1(cls, role: JsonObject) -> Role:
        alloc = role.get("allocated") or role.get("resources") or []
        quota = role.get("quota")
        return cls(
            name=str(role.get("name", "")),
            weight=float(role.get("weight", 1.0)),
            frameworks=len(role.get("frameworks") or []),
            cpus=_scalar(alloc, "cpus"),
            mem=_scalar(alloc, "mem"),
            quota=QuotaConfig.from_v1(quota) if isinstance(quota, dict) else None,
        )


@dataclass(frozen=True)
class ClusterSummary:
    master_id: str
    leader: str
    version: str
    dcos_core_version: str
    agents_active: int
    agents_inactive: int
    agents_unreachable: int
    frameworks_active: int
    frameworks_inactive: int
    frameworks_completed: int
    tasks_by_state: dict[str, int]
    cpus: tuple[float, float]  # used, total
    mem: tuple[float, float]
    disk: tuple[float, float]

    def to_json(self) -> JsonObject:
        return {
            "master_id": self.master_id,
            "leader": self.leader,
            "version": self.version,
            "dcos_core_version": self.dcos_core_version,
            "agents": {
                "active": self.agents_active,
                "inactive": self.agents_inactive,
                "unreachable": self.agents_unreachable,
            },
            "frameworks": {
                "active": self.frameworks_active,
                "inactive": self.frameworks_inactive,
                "completed": self.frameworks_completed,
            },
            "tasks": dict(self.tasks_by_state),
            "resources": {
                name: {"used": used, "total": total}
                for name, (used, total) in (
                    ("cpus", self.cpus),
                    ("mem", self.mem),
                    ("disk", self.disk),
                )
            },
        }


def all_tasks(state: JsonObject, include_completed: bool = True) -> list[Task]:
    """Tasks of `/master/state`: active and unreachable (and completed, of live and done fws)."""
    out: list[Task] = []
    frameworks = list(state.get("frameworks") or [])
    if include_completed:
        frameworks += list(state.get("completed_frameworks") or [])
    for fw in frameworks:
        keys = ["tasks", "unreachable_tasks"] + (["completed_tasks"] if include_completed else [])
        for key in keys:
            out.extend(Task.from_v0(t) for t in fw.get(key) or [])
    return out


def nodes(state: JsonObject) -> list[Node]:
    """The agents of `/master/state` with their count of non-terminal tasks."""
    per_agent = Counter(
        t.agent_id for t in all_tasks(state, include_completed=False) if not t.terminal
    )
    return [Node.from_v0(s, per_agent.get(str(s.get("id")), 0)) for s in state.get("slaves") or []]


def frameworks(state: JsonObject, include_completed: bool = False) -> list[Framework]:
    out = [Framework.from_v0(f) for f in state.get("frameworks") or []]
    if include_completed:
        out += [
            Framework.from_v0(f, completed=True) for f in state.get("completed_frameworks") or []
        ]
    return out


def summarize(state: JsonObject, metrics: JsonObject) -> ClusterSummary:
    """The `dcos cluster state` summary from `/master/state` and `/metrics/snapshot`."""
    fws = list(state.get("frameworks") or [])

    def used_total(name: str) -> tuple[float, float]:
        if f"master/{name}_total" in metrics:
            return (
                float(metrics.get(f"master/{name}_used", 0.0)),
                float(metrics[f"master/{name}_total"]),
            )
        ns = nodes(state)
        return (sum(getattr(n, name)[0] for n in ns), sum(getattr(n, name)[1] for n in ns))

    by_state = Counter(t.state for t in all_tasks(state))
    return ClusterSummary(
        master_id=str(state.get("id", "")),
        leader=str(state.get("leader", "")),
        version=str(state.get("version", "")),
        dcos_core_version=str(state.get("dcos_core_version", "")),
        agents_active=int(state.get("activated_slaves", 0)),
        agents_inactive=int(state.get("deactivated_slaves", 0)),
        agents_unreachable=int(state.get("unreachable_slaves", 0)),
        frameworks_active=sum(1 for f in fws if f.get("active")),
        frameworks_inactive=sum(1 for f in fws if not f.get("active")),
        frameworks_completed=len(state.get("completed_frameworks") or []),
        tasks_by_state=dict(sorted(by_state.items())),
        cpus=used_total("cpus"),
        mem=used_total("mem"),
        disk=used_total("disk"),
    )


def parse_resources(text: str) -> dict[str, float]:
    """`cpus=2,mem=1024` as `{"cpus": 2.0, "mem": 1024.0}`; `ValueError` on anything else."""
    out: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"expected NAME=VALUE, got {part!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"{name}: {value.strip()!r} is not a number") from None
    return out


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
