"""What Marathon persists, behind the `StateStore` interface (SQLite by default).

Keys (app ids are percent-encoded into one segment):

    marathon/framework_id                        {"id": ...}
    marathon/apps/<app>                          the app's current state (definition + bookkeeping)
    marathon/versions/<app>/<version>            every stored definition (GET .../versions)
    marathon/instances/<task id>                 one instance (task) and its last known state
    marathon/deployments/<id>                    a running deployment

Writes are small and synchronous (one SQLite statement each); a ZooKeeper store comes with high
availability behind the same interface.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote, unquote

from dcos_core.state.store import Delete, Op, Put, StateStore

PREFIX: Final = "marathon"
MAX_VERSIONS: Final = 50


def _app_key(app_id: str) -> str:
    return quote(app_id, safe="")


class Repository:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    # ---- framework id ----------------------------------------------------------------------

    def framework_id(self) -> str | None:
        e = self.store.get(f"{PREFIX}/framework_id")
        return str(e.value["id"]) if e is not None else None

    def save_framework_id(self, fid: str) -> None:
        self.store.put(f"{PREFIX}/framework_id", {"id": fid})

    # ---- apps ------------------------------------------------------------------------------

    def apps(self) -> dict[str, dict[str, Any]]:
        out = {}
        for key, e in self.store.list(f"{PREFIX}/apps").items():
            out[unquote(key.rsplit("/", 1)[1])] = e.value
        return out

    def save_app(
        self,
        app_id: str,
        doc: dict[str, Any],
        version: str | None = None,
        definition: dict[str, Any] | None = None,
    ) -> None:
        """Write the app's state (and, with `version`, its definition as that version)."""
        ops: list[Op] = [Put(f"{PREFIX}/apps/{_app_key(app_id)}", doc)]
        if version is not None and definition is not None:
            ops.append(Put(f"{PREFIX}/versions/{_app_key(app_id)}/{version}", definition))
            old = sorted(self.store.list(f"{PREFIX}/versions/{_app_key(app_id)}"))
            for key in old[: max(0, len(old) + 1 - MAX_VERSIONS)]:
                ops.append(Delete(key))
        self.store.transaction(ops)

    def delete_app(self, app_id: str) -> None:
        ops: list[Op] = [Delete(f"{PREFIX}/apps/{_app_key(app_id)}")]
        ops += [Delete(k) for k in self.store.list(f"{PREFIX}/versions/{_app_key(app_id)}")]
        self.store.transaction(ops)

    def versions(self, app_id: str) -> dict[str, dict[str, Any]]:
        """version -> stored definition, oldest first."""
        return {
            key.rsplit("/", 1)[1]: e.value
            for key, e in sorted(self.store.list(f"{PREFIX}/versions/{_app_key(app_id)}").items())
        }

    # ---- instances -------------------------------------------------------------------------

    def instances(self) -> list[dict[str, Any]]:
        return [e.value for e in self.store.list(f"{PREFIX}/instances").values()]

    def save_instance(self, task_id: str, doc: dict[str, Any]) -> None:
        self.store.put(f"{PREFIX}/instances/{task_id}", doc)

    def save_instances(self, docs: dict[str, dict[str, Any]]) -> None:
        """Write many instances in one transaction."""
        if docs:
            self.store.transaction([Put(f"{PREFIX}/instances/{k}", v) for k, v in docs.items()])

    def delete_instance(self, task_id: str) -> None:
        self.store.delete(f"{PREFIX}/instances/{task_id}")

    # ---- deployments -----------------------------------------------------------------------

    def deployments(self) -> list[dict[str, Any]]:
        return [e.value for e in self.store.list(f"{PREFIX}/deployments").values()]

    def save_deployment(self, doc: dict[str, Any]) -> None:
        self.store.put(f"{PREFIX}/deployments/{doc['id']}", doc)

    def delete_deployment(self, dep_id: str) -> None:
        self.store.delete(f"{PREFIX}/deployments/{dep_id}")
