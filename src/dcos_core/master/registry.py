"""The master's durable registry: agents, frameworks (for failover), weights and quota.

Like Mesos, the master keeps tasks in memory only; after a restart they are rebuilt from the
agents that re-register. What is persisted is what cannot be rebuilt that way.

Keys: `agents/<id>`, `gone/<id>` (agents marked gone by the operator: never admitted again),
`frameworks/<id>`, `weights`, `quota/<role>`.

Reading checks the shape of every document: a registry written by something else (or edited by
hand) is refused with one line naming the key and what is wrong, never half-loaded and never a
traceback.
"""

from __future__ import annotations

from typing import Any, Final

from dcos_core.errors import InvalidError, StoreError
from dcos_core.ids import validate_id
from dcos_core.resources import Resources
from dcos_core.state.store import Delete, Op, Put, StateStore

RECOVER_HINT: Final = "restore it from a backup, or delete it to start a new cluster"


class Registry:
    """Typed access to the master's keys in a `StateStore`."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        path = getattr(store, "path", None)
        self._where = f"registry {path}" if path is not None else "registry"

    def _bad(self, key: str, problem: str) -> StoreError:
        return StoreError(f"{self._where}: key '{key}' {problem}; {RECOVER_HINT}")

    def _object(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._bad(key, f"is {_json_type(value)}, expected an object")
        return value

    def _field(self, key: str, doc: dict[str, Any], name: str, kinds: str) -> None:
        """Check that `doc[name]`, if present, is one of `kinds` ("string number null ...")."""
        if name in doc and _json_type(doc[name]).split()[-1] not in kinds.split():
            raise self._bad(key, f"has '{name}' {_json_type(doc[name])}, expected {kinds}")

    def _id(self, key: str) -> str:
        ident = key.split("/", 1)[1]
        try:
            return validate_id(ident, "id")
        except InvalidError as e:
            raise self._bad(key, f"does not name a valid id ({e})") from None

    # agents ------------------------------------------------------------------------------------
    def agents(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, e in self.store.list("agents/").items():
            doc = self._object(key, e.value)
            for name, kinds in (
                ("hostname", "string"),
                ("ip", "string"),
                ("port", "integer"),
                ("resources", "array"),
                ("attributes", "array"),
                ("registered_time", "integer number"),
                ("unreachable_time", "integer number null"),
                ("deactivated", "boolean"),
            ):
                self._field(key, doc, name, kinds)
            if not 0 <= doc.get("port", 0) <= 65535:
                raise self._bad(key, f"has port {doc['port']}, expected 0-65535")
            try:
                Resources.from_v1(doc.get("resources", []), "resources")
            except InvalidError as e:
                raise self._bad(key, f"has invalid resources ({e})") from None
            if not all(isinstance(a, dict) for a in doc.get("attributes", [])):
                raise self._bad(key, "has 'attributes' that are not all objects")
            out[self._id(key)] = doc
        return out

    def save_agent(self, agent_id: str, data: dict[str, Any]) -> None:
        self.store.put(f"agents/{agent_id}", data)

    def remove_agent(self, agent_id: str) -> None:
        self.store.delete(f"agents/{agent_id}")

    # agents marked gone ------------------------------------------------------------------------
    def mark_gone(self, agent_id: str, data: dict[str, Any]) -> None:
        """Forget the agent and remember it as gone, in one write (both or neither)."""
        self.store.transaction([Delete(f"agents/{agent_id}"), Put(f"gone/{agent_id}", data)])

    def is_gone(self, agent_id: str) -> bool:
        return self.store.get(f"gone/{agent_id}") is not None

    def gone_agents(self) -> dict[str, dict[str, Any]]:
        return {
            self._id(key): self._object(key, e.value) for key, e in self.store.list("gone/").items()
        }

    # frameworks --------------------------------------------------------------------------------
    def frameworks(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, e in self.store.list("frameworks/").items():
            doc = self._object(key, e.value)
            for name, kinds in (
                ("name", "string"),
                ("user", "string"),
                ("role", "string"),
                ("roles", "array"),
                ("capabilities", "array"),
                ("checkpoint", "boolean"),
                ("failover_timeout", "integer number"),
                ("_registered", "integer number"),
            ):
                self._field(key, doc, name, kinds)
            if not all(isinstance(r, str) for r in doc.get("roles", [])):
                raise self._bad(key, "has 'roles' that are not all strings")
            if not all(isinstance(c, dict) for c in doc.get("capabilities", [])):
                raise self._bad(key, "has 'capabilities' that are not all objects")
            out[self._id(key)] = doc
        return out

    def save_framework(self, framework_id: str, info: dict[str, Any]) -> None:
        self.store.put(f"frameworks/{framework_id}", info)

    def remove_framework(self, framework_id: str) -> None:
        self.store.delete(f"frameworks/{framework_id}")

    # weights and quota -------------------------------------------------------------------------
    def weights(self) -> dict[str, float]:
        entry = self.store.get("weights")
        if entry is None:
            return {}
        doc = self._object("weights", entry.value)
        out: dict[str, float] = {}
        for role, w in doc.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
                raise self._bad("weights", f"has weight {w!r} for role '{role}', expected > 0")
            out[str(role)] = float(w)
        return out

    def save_weights(self, weights: dict[str, float]) -> None:
        self.store.put("weights", weights)

    def quotas(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, e in self.store.list("quota/").items():
            doc = self._object(key, e.value)
            role = key.split("/", 1)[1]
            if doc.get("role", role) != role:
                raise self._bad(key, f"is the quota of role {doc.get('role')!r}")
            for part in ("guarantees", "limits"):
                amounts = doc.get(part, {})
                if not isinstance(amounts, dict):
                    raise self._bad(key, f"has '{part}' {_json_type(amounts)}, expected an object")
                for name, amount in amounts.items():
                    v = amount.get("value") if isinstance(amount, dict) else None
                    if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0:
                        raise self._bad(
                            key, f'has {part}.{name} {amount!r}, expected {{"value": >= 0}}'
                        )
            out[role] = doc
        return out

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


def _json_type(value: object) -> str:
    """The JSON type of a decoded value, with an article: "an object", "a string", ...

    Example:
        >>> _json_type([1]), _json_type(True), _json_type(1), _json_type(1.5)
        ('an array', 'a boolean', 'an integer', 'a number')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
