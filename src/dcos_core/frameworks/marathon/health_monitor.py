"""Glue between the health checker and the Marathon service: events and kills."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcos_core.frameworks.marathon.health import HealthChecker
from dcos_core.frameworks.marathon.models import AppDefinition, HealthResult, Instance

if TYPE_CHECKING:
    from dcos_core.frameworks.marathon.service import Marathon


class HealthMonitor:
    """Runs each app's HTTP/HTTPS/TCP/COMMAND checks against its running instances."""

    def __init__(self, marathon: Marathon, checker: HealthChecker | None = None) -> None:
        self.marathon = marathon
        self.checker = checker or HealthChecker(marathon.clock)

    def start(self, inst: Instance, app: AppDefinition) -> None:
        checks = [c for c in app.health_checks if not c.protocol.startswith("MESOS_")]
        if not checks:
            return

        def on_change(task_id: str, index: int, result: HealthResult) -> None:
            self.marathon.events.publish(
                "health_status_changed_event",
                appId=inst.app_id,
                taskId=task_id,
                instanceId=task_id,
                version=inst.version,
                alive=result.alive,
            )
            if not result.alive:
                self.marathon.events.publish(
                    "failed_health_check_event",
                    appId=inst.app_id,
                    taskId=task_id,
                    instanceId=task_id,
                    healthCheck=checks[index].model_dump(by_alias=True, exclude_none=True),
                )
            self.marathon.wake()

        def on_kill(task_id: str, reason: str) -> None:
            self.marathon.on_unhealthy(task_id, reason)

        # Probe the agent's IP from its offers: its hostname may not resolve from here.
        ip = self.marathon.agent_ips.get(inst.agent_id)
        target = inst.model_copy(update={"host": ip}) if ip else inst
        self.checker.start(target, checks, on_change, on_kill)

    def stop(self, task_id: str) -> None:
        self.checker.stop(task_id)

    def results(self, task_id: str) -> list[HealthResult]:
        return self.checker.results(task_id)

    async def close(self) -> None:
        await self.checker.close()
