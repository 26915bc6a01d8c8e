"""Read models of the CLI: typed views of the Mesos-shaped documents the master serves.

`Node`, `Task`, `Framework`, `Role`, `QuotaConfig` and `ClusterSummary` are built from
`/master/state` (v0 JSON) and from the v1 operator API's answers; the raw documents stay on them
for `--json`. Pure: no HTTP here (`dcos_core.cli.client` fetches the documents).

Example:
    >>> state = {"slaves": [{"id": "S0", "hostname": "a1", "port": 5051, "active": True,
    ...                      "resources": {"cpus": 4.0}, "used_resources": {"cpus": 1.0}}],
    ...          "frameworks": [{"id": "F0", "tasks": [
    ...              {"id": "t1", "slave_id": "S0", "state": "TASK_RUNNING"},
    ...              {"id": "t2", "slave_id": "S0", "state": "TASK_FINISHED"}]}]}
    >>> [(n.id, n.address, n.status, n.cpus, n.tasks) for n in nodes(state)]
    [('S0', 'a1:5051', 'active', (1.0, 4.0), 1)]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dcos_core.model.task import TERMINAL, TaskState

JsonObject = dict[str, Any]


def task_state(text: str) -> TaskState | None:
    """The `TaskState` of `TASK_RUNNING` or of its table form `RUNNING`; None for other text.

    Example:
        >>> task_state("TASK_KILLED") is task_state("KILLED") is TaskState.KILLED, task_state("-")
        (True, None)
    """
    if text in TaskState.__members__:
        return TaskState[text]
    try:
        return TaskState(text)
    except ValueError:
        return None


def short_state(text: str) -> str:
    """A task state as tables show it (`TASK_GONE_BY_OPERATOR` -> `GONE_BY_OPERATOR`).

    Example:
        >>> short_state("TASK_GONE_BY_OPERATOR"), short_state("RUNNING"), short_state("")
        ('GONE_BY_OPERATOR', 'RUNNING', '')
    """
    state = task_state(text)
    return state.name if state is not None else text


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
        """Whether the task has ended (`dcos_core.model.task.TERMINAL`)."""
        return self.state in TERMINAL

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
