"""The master's durable registry: agents, frameworks (for failover), weights and quota.

Like Mesos, the master keeps tasks in memory only; after a restart they are rebuilt from the
agents that re-register. What is persisted is what cannot be rebuilt that way.

Keys: `agents/<id>`, `frameworks/<id>`, `weights`, `quota/<role>`, `master/id`.
"""

from __future__ import annotations

from typing import Any

from dcos_core.state.store import Delete, Op, Put, StateStore


class Registry:
    """Typed access to the master's keys in a `StateStore`."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    # agents ------------------------------------------------------------------------------------
    def agents(self) -> dict[str, dict[str, Any]]:
        return {k.split("/", 1)[1]: e.value for k, e in self.store.list("agents/").items()}

    def save_agent(self, agent_id: str, data: dict[str, Any]) -> None:
        self.store.put(f"agents/{agent_id}", data)

    def remove_agent(self, agent_id: str) -> None:
        self.store.delete(f"agents/{agent_id}")

    # frameworks --------------------------------------------------------------------------------
    def frameworks(self) -> dict[str, dict[str, Any]]:
        return {k.split("/", 1)[1]: e.value for k, e in self.store.list("frameworks/").items()}

    def save_framework(self, framework_id: str, info: dict[str, Any]) -> None:
        self.store.put(f"frameworks/{framework_id}", info)

    def remove_framework(self, framework_id: str) -> None:
        self.store.delete(f"frameworks/{framework_id}")

    # weights and quota -------------------------------------------------------------------------
    def weights(self) -> dict[str, float]:
        entry = self.store.get("weights")
        return {str(k): float(v) for k, v in entry.value.items()} if entry else {}

    def save_weights(self, weights: dict[str, float]) -> None:
        self.store.put("weights", weights)

    def quotas(self) -> dict[str, dict[str, Any]]:
        return {k.split("/", 1)[1]: e.value for k, e in self.store.list("quota/").items()}

    def save_quotas(self, quotas: dict[str, dict[str, Any] | None]) -> None:
        """Write several roles' quota at once (all-or-nothing, as UPDATE_QUOTA requires)."""
        ops: list[Op] = []
        for role, cfg in quotas.items():
            key = f"quota/{role}"
            if cfg is None:
                if self.store.get(key) is not None:
                    ops.append(Delete(key))
            else:
                ops.append(Put(key, cfg))
        if ops:
            self.store.transaction(ops)
