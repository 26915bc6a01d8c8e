"""Deployments: plans of steps in dependency order, and their JSON (pure).

A deployment changes a set of apps from an original to a target state. Its steps are layers of a
topological order of the apps' `dependencies`: an app starts only once every app it depends on has
reached its goal (running, healthy, on its new version). Each action is Marathon's:
StartApplication, ScaleApplication, RestartApplication, StopApplication.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from dcos_core.errors import InvalidError


@dataclass
class Action:
    action: str  # StartApplication | ScaleApplication | RestartApplication | StopApplication
    app: str

    def json(self) -> dict[str, Any]:
        return {"action": self.action, "app": self.app}


@dataclass
class Deployment:
    id: str
    version: str
    steps: list[list[Action]]
    original: dict[str, dict[str, Any]]  # app id -> rendered definition before (missing: new)
    target: dict[str, dict[str, Any]]  # app id -> rendered definition after (missing: deleted)
    current_step: int = 0  # index into steps
    created: float = 0.0
    rollback_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def affected_apps(self) -> list[str]:
        return sorted({a.app for step in self.steps for a in step})

    @property
    def done(self) -> bool:
        return self.current_step >= len(self.steps)

    def current_actions(self) -> list[Action]:
        return [] if self.done else self.steps[self.current_step]

    def json(self) -> dict[str, Any]:
        """`GET /v2/deployments` item (Marathon 1.x shape; `currentStep` is 1-based)."""
        return {
            "id": self.id,
            "version": self.version,
            "affectedApps": self.affected_apps,
            "affectedPods": [],
            "steps": [{"actions": [a.json() for a in step]} for step in self.steps],
            "currentActions": [
                {**a.json(), "readinessCheckResults": []} for a in self.current_actions()
            ],
            "currentStep": min(self.current_step + 1, len(self.steps)),
            "totalSteps": len(self.steps),
        }

    def plan(self) -> dict[str, Any]:
        """The "heavy" plan of deployment events (marathon-python needs original and target)."""
        return {
            "id": self.id,
            "version": self.version,
            "original": _group_state(self.original, self.version),
            "target": _group_state(self.target, self.version),
            "steps": [{"actions": [a.json() for a in step]} for step in self.steps],
        }

    def to_storage(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "steps": [[a.json() for a in step] for step in self.steps],
            "original": self.original,
            "target": self.target,
            "current_step": self.current_step,
            "created": self.created,
            "rollback_of": self.rollback_of,
        }

    @classmethod
    def from_storage(cls, d: dict[str, Any]) -> Deployment:
        return cls(
            id=d["id"],
            version=d["version"],
            steps=[[Action(a["action"], a["app"]) for a in step] for step in d["steps"]],
            original=d["original"],
            target=d["target"],
            current_step=int(d.get("current_step", 0)),
            created=float(d.get("created", 0.0)),
            rollback_of=d.get("rollback_of"),
        )


def _group_state(apps: dict[str, dict[str, Any]], version: str) -> dict[str, Any]:
    return {
        "id": "/",
        "apps": [apps[k] for k in sorted(apps)],
        "groups": [],
        "dependencies": [],
        "version": version,
    }


def order_steps(actions: dict[str, str], dependencies: dict[str, list[str]]) -> list[list[Action]]:
    """Layers of `actions` (app -> action) so that an app comes after the apps it depends on.

    Dependencies on apps outside the deployment are already satisfied. A cycle is an
    `InvalidError` naming the apps involved.

    Example:
        >>> steps = order_steps({"/a": "StartApplication", "/b": "StartApplication"},
        ...                     {"/b": ["/a"]})
        >>> [[x.app for x in step] for step in steps]
        [['/a'], ['/b']]
    """
    remaining = set(actions)
    deps = {a: {d for d in dependencies.get(a, []) if d in actions and d != a} for a in actions}
    steps: list[list[Action]] = []
    while remaining:
        ready = sorted(a for a in remaining if not (deps[a] & remaining))
        if not ready:
            raise InvalidError(
                f"dependency cycle between {', '.join(sorted(remaining))}", "dependencies"
            )
        # Stopping apps first keeps resources free for what starts (Marathon does the same).
        steps.append([Action(actions[a], a) for a in ready])
        remaining -= set(ready)
    return steps


def new_deployment_id() -> str:
    return str(uuid.uuid4())
