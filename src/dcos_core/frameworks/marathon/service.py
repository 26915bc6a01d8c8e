"""`Marathon`: apps, instances, deployments and the loop that makes the cluster match them.

The use cases (`create_app`, `update_app`, `delete_app`, `restart_app`, `kill_tasks`, groups,
deployments) change the *target*: app definitions and the deployments that reach them. A tick
(every `tick_interval` seconds and soon after any change) compares each app's instances with its
target and decides what to launch and what to kill; offers are matched against the launch queue
(`frameworks.placement`); status updates from the master move instances through their states.
Nothing here speaks HTTP: `api.py` serves it, `scheduler.py` connects it to the master.

Rolling replacement follows Marathon's upgrade strategy: never fewer than
ceil(instances x minimumHealthCapacity) healthy instances, never more than
floor(instances x (1 + maximumOverCapacity)) in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from dcos_core.clock import Clock, SystemClock
from dcos_core.errors import ConflictError, NotFoundError
from dcos_core.frameworks.marathon.deployments import (
    Action,
    Deployment,
    new_deployment_id,
    order_steps,
)
from dcos_core.frameworks.marathon.events import EventBus, iso_ms, iso_now
from dcos_core.frameworks.marathon.models import (
    AppDefinition,
    HealthResult,
    Instance,
    app_from_storage,
    app_to_storage,
)
from dcos_core.frameworks.marathon.render import render_app, render_task
from dcos_core.frameworks.marathon.repository import Repository
from dcos_core.frameworks.marathon.tasks import (
    app_id_of,
    build_task_info,
    placement_request,
    task_id_for,
)
from dcos_core.frameworks.marathon.upgrade import (
    Candidate,
    kill_order,
    launch_delay,
    replace_step,
)
from dcos_core.frameworks.placement import AgentInfo, OfferMatcher, PlacedInstance, agent_of_offer
from dcos_core.frameworks.runtime import (
    Driver,
    Kill,
    LaunchPlan,
    ReviveTimer,
    execute,
    send_kills,
    tick_loop,
)
from dcos_core.model.task import TERMINAL, TaskState

log = logging.getLogger("dcos_core.marathon")

SERVICE_PORT_MIN: Final = 10000
SERVICE_PORT_MAX: Final = 20000
# Ends that count as a failure of the app (launch backoff, lastTaskFailure): every terminal
# state but a kill (asked for) and GONE_BY_OPERATOR (an operator removed the agent). A long-running
# app's task that FINISHED has failed too: it should not have ended.
FAILED: Final = TERMINAL - {TaskState.KILLED, TaskState.GONE_BY_OPERATOR}
REVIVE_EVERY: Final = 2.0  # seconds between REVIVE calls while instances wait for offers
MIN_TICK: Final = 0.1  # seconds: the shortest time between two ticks
DECLINE_IDLE: Final = 60.0  # refuse_seconds for offers when nothing waits to launch
DECLINE_BUSY: Final = 1.0  # ... and when something waits but did not fit


class HealthMonitor(Protocol):
    def start(self, inst: Instance, app: AppDefinition) -> None: ...
    def stop(self, task_id: str) -> None: ...
    def results(self, task_id: str) -> list[HealthResult]: ...


@dataclass
class AppRuntime:
    """An app's definition and what Marathon keeps about it."""

    app: AppDefinition
    config_version: str  # instances on another config version are replaced
    version_info: dict[str, float]
    service_ports: list[int]
    queued: int = 0  # instances waiting for an offer
    queued_since: float = 0.0
    delay_until: float = 0.0  # backoff: no launch before this
    failures: int = 0
    last_task_failure: dict[str, Any] | None = None
    deleting: bool = False
    held: bool = False  # waiting for an earlier step of its deployment
    rejections: Counter[str] = field(default_factory=Counter)
    offers_processed: int = 0
    last_offer_at: float = 0.0
    unused_offers: list[dict[str, Any]] = field(default_factory=list)

    def to_storage(self) -> dict[str, Any]:
        return {
            "app": app_to_storage(self.app),
            "config_version": self.config_version,
            "version_info": self.version_info,
            "service_ports": self.service_ports,
            "deleting": self.deleting,
            "held": self.held,
        }


@dataclass
class Tracked:
    inst: Instance
    killing: bool = False
    health_checked: bool = False


@dataclass
class Convergence:
    """What one tick decided for one app (`Marathon.converge`); `Marathon._apply` does it."""

    kill: list[tuple[Tracked, str]] = field(default_factory=list)  # instance, why
    forget: list[Tracked] = field(default_factory=list)  # dropped from the store (expunged)
    enqueue: int = 0  # instances to queue for launch
    unqueue: int = 0  # queued instances no longer wanted
    finish_delete: bool = False  # a deleted app with no instance left: remove it


class Marathon:
    """The service. `attach(driver)` once the scheduler is subscribed; `run()` ticks."""

    def __init__(
        self,
        repo: Repository,
        *,
        clock: Clock | None = None,
        events: EventBus | None = None,
        health: HealthMonitor | None = None,
        role: str = "*",
        tick_interval: float = 0.5,
    ) -> None:
        self.repo = repo
        self.clock = clock or SystemClock()
        self.events = events or EventBus()
        self.health = health
        self.role = role
        self.tick_interval = tick_interval
        self.apps: dict[str, AppRuntime] = {}
        self.instances: dict[str, Tracked] = {}
        self.deployments: dict[str, Deployment] = {}
        self.agents: dict[str, AgentInfo] = {}
        self.agent_ips: dict[str, str] = {}  # agent id -> the IP in its offers (for probes)
        self.driver: Driver | None = None
        self.framework_id: str | None = None
        self._wake = asyncio.Event()
        self.launched_total = 0
        self.started = self.clock.time()
        self._kills: list[Tracked] = []
        self._revive = ReviveTimer(REVIVE_EVERY)

    # ---- lifecycle -------------------------------------------------------------------------

    def load(self) -> None:
        """Read apps, instances and deployments from the store (at start)."""
        self.framework_id = self.repo.framework_id()
        for app_id, doc in self.repo.apps().items():
            app = app_from_storage(doc["app"])
            self.apps[app_id] = AppRuntime(
                app=app,
                config_version=doc["config_version"],
                version_info=doc["version_info"],
                service_ports=list(doc.get("service_ports", [])),
                deleting=bool(doc.get("deleting")),
                held=bool(doc.get("held")),
            )
        for d in self.repo.instances():
            inst = Instance.model_validate(d["instance"])
            self.instances[inst.task_id] = Tracked(inst, killing=bool(d.get("killing")))
        for d in self.repo.deployments():
            dep = Deployment.from_storage(d)
            self.deployments[dep.id] = dep
        log.info(
            "loaded %d apps, %d instances, %d deployments",
            len(self.apps),
            len(self.instances),
            len(self.deployments),
        )

    async def attach(self, driver: Driver, framework_id: str) -> None:
        """The scheduler subscribed: remember the framework id and reconcile every instance."""
        self.driver = driver
        if framework_id != self.framework_id:
            self.framework_id = framework_id
            self.repo.save_framework_id(framework_id)
        tasks = [(t.inst.task_id, t.inst.agent_id or None) for t in self.instances.values()]
        with contextlib.suppress(Exception):
            await driver.reconcile(tasks)
            await driver.reconcile([])
        if self.queued_total():
            with contextlib.suppress(Exception):
                await driver.revive()
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Tick until cancelled: every `tick_interval`, and soon after a change, but at most
        every `MIN_TICK` seconds (a burst of status updates makes one tick, not thousands)."""
        await tick_loop(
            self.tick, self._wake, self.tick_interval, min_gap=MIN_TICK, name="marathon"
        )

    # ---- queries ---------------------------------------------------------------------------

    def get(self, app_id: str) -> AppRuntime:
        rt = self.apps.get(app_id)
        if rt is None:
            raise NotFoundError(f"App '{app_id}' does not exist")
        return rt

    def instances_of(self, app_id: str) -> list[Instance]:
        return [t.inst for t in self.instances.values() if t.inst.app_id == app_id]

    def healthy(self, t: Tracked, app: AppDefinition) -> bool:
        if t.inst.state != TaskState.RUNNING or t.killing:
            return False
        if not app.health_checks:
            return True
        results = self.health.results(t.inst.task_id) if self.health else []
        return len(results) == len(app.health_checks) and all(r.alive for r in results)

    def deployments_of(self, app_id: str) -> list[Deployment]:
        return [d for d in self.deployments.values() if app_id in d.affected_apps]

    def queued_total(self) -> int:
        return sum(rt.queued for rt in self.apps.values())

    def render(self, rt: AppRuntime, *, embed_tasks: bool = True) -> dict[str, Any]:
        insts = [self._with_health(i) for i in self.instances_of(rt.app.id)]
        return render_app(
            rt.app,
            instances=insts,
            deployments=[d.id for d in self.deployments_of(rt.app.id)],
            version_info=rt.version_info,
            last_task_failure=rt.last_task_failure,
            embed_tasks=embed_tasks,
            service_ports=rt.service_ports,
        )

    def render_task(self, inst: Instance) -> dict[str, Any]:
        rt = self.apps.get(inst.app_id)
        return render_task(self._with_health(inst), rt.service_ports if rt else [])

    def _with_health(self, inst: Instance) -> Instance:
        if self.health is None:
            return inst
        results = self.health.results(inst.task_id)
        return inst.model_copy(update={"health": results}) if results else inst

    # ---- use cases: apps -------------------------------------------------------------------

    def _check_unlocked(self, app_ids: list[str], force: bool) -> None:
        locked = [d for d in self.deployments.values() if set(app_ids) & set(d.affected_apps)]
        if locked and not force:
            raise AppLockedError([d.id for d in locked])
        if locked and force:
            for d in locked:  # force: the new deployment replaces (cancels) the old ones
                self._drop_deployment(d, "canceled by a forced change")

    def _new_version(self) -> str:
        """The clock's time, to the millisecond; a millisecond later than any app's version
        taken already (two changes in one millisecond, or a clock that stands still)."""
        taken = {rt.app.version for rt in self.apps.values()}
        ms = int(self.clock.time() * 1000)
        while iso_ms(ms) in taken:
            ms += 1
        return iso_ms(ms)

    def _service_ports(self, app: AppDefinition, keep: list[int] | None = None) -> list[int]:
        owner = {
            p: rt.app.id
            for rt in self.apps.values()
            if rt.app.id != app.id
            for p in rt.service_ports
        }
        used = set(owner)
        out: list[int] = []
        wanted = [p.port for p in app.port_definitions]
        if app.container and app.container.docker and app.container.docker.network == "BRIDGE":
            mappings = app.container.docker.port_mappings or app.container.port_mappings or []
            wanted = [m.service_port for m in mappings]
        keep = list(keep or [])
        nxt = SERVICE_PORT_MIN
        for i, w in enumerate(wanted):
            if w:
                if w in used:
                    raise ConflictError(
                        f"service port {w} is already used by app {owner[w]}: choose another"
                        " port, or 0 to have one assigned"
                    )
                out.append(w)
                continue
            if i < len(keep) and keep[i] and keep[i] not in used:
                out.append(keep[i])
                continue
            while nxt in used or nxt in out or nxt in wanted:
                nxt += 1
            if nxt > SERVICE_PORT_MAX:
                raise ConflictError(
                    f"no free service port left between {SERVICE_PORT_MIN} and"
                    f" {SERVICE_PORT_MAX}: delete apps or give them fewer ports"
                )
            out.append(nxt)
            nxt += 1
        return out

    def deploy(
        self, new_apps: list[AppDefinition], deleted: Sequence[str] = (), *, force: bool = False
    ) -> Deployment:
        """Create or change `new_apps` and delete `deleted` in one deployment."""
        # All or nothing: if anything fails (a conflict, the store), memory is left as it was.
        apps_before = {k: copy.copy(v) for k, v in self.apps.items()}
        deployments_before = dict(self.deployments)
        try:
            return self._deploy(new_apps, deleted, force)
        except BaseException:
            self.apps = apps_before
            self.deployments = deployments_before
            raise

    def _deploy(
        self, new_apps: list[AppDefinition], deleted: Sequence[str], force: bool
    ) -> Deployment:
        ids = [a.id for a in new_apps] + list(deleted)
        self._check_unlocked(ids, force)
        now = self.clock.time()
        version = self._new_version()
        actions: dict[str, str] = {}
        original: dict[str, dict[str, Any]] = {}
        target: dict[str, dict[str, Any]] = {}
        deps: dict[str, list[str]] = {}
        for app in new_apps:
            old = self.apps.get(app.id)
            app = app.model_copy(update={"version": version})
            deps[app.id] = list(app.dependencies)
            if old is None:
                actions[app.id] = "StartApplication"
                rt = AppRuntime(
                    app=app,
                    config_version=version,
                    version_info={"lastScalingAt": now, "lastConfigChangeAt": now},
                    service_ports=self._service_ports(app),
                )
            else:
                original[app.id] = self.render(old, embed_tasks=False)
                if _config_equal(old.app, app):
                    actions[app.id] = "ScaleApplication"
                    rt = old
                    rt.app = app
                    rt.version_info = {**rt.version_info, "lastScalingAt": now}
                else:
                    actions[app.id] = "RestartApplication"
                    rt = old
                    rt.app = app
                    rt.config_version = version
                    rt.version_info = {"lastScalingAt": now, "lastConfigChangeAt": now}
                    rt.service_ports = self._service_ports(app, old.service_ports)
                    rt.failures, rt.delay_until = 0, 0.0
                rt.deleting = False
            self.apps[app.id] = rt
            target[app.id] = self.render(rt, embed_tasks=False)
        for app_id in deleted:
            rt = self.get(app_id)
            original[app_id] = self.render(rt, embed_tasks=False)
            actions[app_id] = "StopApplication"
            rt.deleting = True
        steps = order_steps(actions, deps)
        dep = Deployment(new_deployment_id(), version, steps, original, target, 0, now)
        for i, step in enumerate(steps):
            for a in step:
                if a.app in self.apps:
                    self.apps[a.app].held = i > 0
        for app_id in actions:
            rt = self.apps[app_id]
            self.repo.save_app(
                app_id,
                rt.to_storage(),
                version if app_id not in deleted else None,
                app_to_storage(rt.app) if app_id not in deleted else None,
            )
        self.deployments[dep.id] = dep
        self.repo.save_deployment(dep.to_storage())
        self.events.publish(
            "deployment_info",
            plan=dep.plan(),
            currentStep={"actions": [a.json() for a in dep.steps[0]]} if dep.steps else {},
        )
        self.wake()
        return dep

    def scale(self, app_id: str, instances: int, *, force: bool = False) -> Deployment:
        rt = self.get(app_id)
        return self.deploy([rt.app.model_copy(update={"instances": instances})], force=force)

    def restart(self, app_id: str, *, force: bool = False) -> Deployment:
        """A rolling restart: the same definition as a new config version."""
        rt = self.get(app_id)
        self._check_unlocked([app_id], force)
        now = self.clock.time()
        version = self._new_version()
        original = {app_id: self.render(rt, embed_tasks=False)}
        rt.app = rt.app.model_copy(update={"version": version})
        rt.config_version = version
        rt.version_info = {"lastScalingAt": now, "lastConfigChangeAt": now}
        steps = [[Action("RestartApplication", app_id)]]
        dep = Deployment(
            new_deployment_id(),
            version,
            steps,
            original,
            {app_id: self.render(rt, embed_tasks=False)},
            0,
            now,
        )
        self.repo.save_app(app_id, rt.to_storage(), version, app_to_storage(rt.app))
        self.deployments[dep.id] = dep
        self.repo.save_deployment(dep.to_storage())
        self.events.publish(
            "deployment_info",
            plan=dep.plan(),
            currentStep={"actions": [a.json() for a in steps[0]]},
        )
        self.wake()
        return dep

    def delete(self, app_id: str, *, force: bool = False) -> Deployment:
        return self.deploy([], [app_id], force=force)

    def rollback(self, app_id: str, version: str, *, force: bool = False) -> Deployment:
        stored = self.repo.versions(app_id).get(version)
        if stored is None:
            raise NotFoundError(f"App '{app_id}' does not exist in version {version}")
        return self.deploy([app_from_storage(stored)], force=force)

    def kill_tasks(
        self, task_ids: list[str], *, scale: bool = False, wipe: bool = False, force: bool = False
    ) -> Deployment | list[Instance]:
        """Kill instances; with `scale` the apps shrink by as many (a deployment)."""
        insts = []
        for tid in task_ids:
            t = self.instances.get(tid)
            if t is None:
                raise NotFoundError(f"Task '{tid}' does not exist")
            insts.append(t)
        if scale:
            counts = Counter(t.inst.app_id for t in insts)
            apps = []
            for app_id, n in counts.items():
                rt = self.get(app_id)
                apps.append(rt.app.model_copy(update={"instances": max(0, rt.app.instances - n)}))
            for t in insts:
                self._kill(t, "scaled down by a task kill")
            return self.deploy(apps, force=force)
        for t in insts:
            self._kill(t, "killed through the API")
            if wipe:
                self._forget(t)
        self.wake()
        return [t.inst for t in insts]

    # ---- deployments -----------------------------------------------------------------------

    def cancel_deployment(self, dep_id: str, *, force: bool = False) -> Deployment | None:
        """DELETE /v2/deployments/<id>: `force` just stops it; else a rollback deployment."""
        dep = self.deployments.get(dep_id)
        if dep is None:
            raise NotFoundError(f"DeploymentPlan {dep_id} does not exist")
        self._drop_deployment(dep, "canceled")
        if force:
            return None
        originals = [app_from_storage(_storage_of(v)) for v in dep.original.values()]
        new_ids = [a for a in dep.affected_apps if a not in dep.original]
        return self.deploy(originals, new_ids, force=True)

    def _drop_deployment(self, dep: Deployment, why: str) -> None:
        self.deployments.pop(dep.id, None)
        self.repo.delete_deployment(dep.id)
        for app_id in dep.affected_apps:
            rt = self.apps.get(app_id)
            if rt is not None and rt.held:
                rt.held = False
                self.repo.save_app(app_id, rt.to_storage())
        self.events.publish("deployment_failed", id=dep.id, plan=dep.plan(), reason=why)

    def _goal_reached(self, action: Action) -> bool:
        rt = self.apps.get(action.app)
        if action.action == "StopApplication":
            return rt is None
        if rt is None:
            return True
        if rt.queued:
            return False
        # Instances being killed count until they are gone: a deployment is done when the old
        # ones have ended, not when they were asked to (as in Marathon).
        live = [
            t
            for t in self.instances.values()
            if t.inst.app_id == rt.app.id and t.inst.state not in TERMINAL
        ]
        if any(t.inst.version != rt.config_version or t.killing for t in live):
            return False
        if len(live) != rt.app.instances:
            return False
        return all(self.healthy(t, rt.app) for t in live)

    def _advance_deployments(self) -> None:
        for dep in list(self.deployments.values()):
            while not dep.done and all(self._goal_reached(a) for a in dep.current_actions()):
                step = dep.current_actions()
                dep.current_step += 1
                self.events.publish(
                    "deployment_step_success",
                    plan=dep.plan(),
                    currentStep={"actions": [a.json() for a in step]},
                )
                for a in dep.current_actions():
                    rt = self.apps.get(a.app)
                    if rt is not None and rt.held:
                        rt.held = False
                        self.repo.save_app(a.app, rt.to_storage())
                self.repo.save_deployment(dep.to_storage())
                self.wake()
            if dep.done:
                self.deployments.pop(dep.id, None)
                self.repo.delete_deployment(dep.id)
                self.events.publish("deployment_success", id=dep.id, plan=dep.plan())
                self.events.publish("group_change_success", groupId="/", version=dep.version)
                log.info("deployment %s done", dep.id)

    # ---- the tick --------------------------------------------------------------------------

    async def tick(self) -> None:
        now = self.clock.time()
        for rt in list(self.apps.values()):
            if rt.held:
                continue
            self._apply(rt, self.converge(rt, now), now)
        self._advance_deployments()
        if self.driver is not None:
            if self._revive.due(waiting=self.queued_total() > 0, now=self.clock.monotonic()):
                with contextlib.suppress(Exception):
                    await self.driver.revive()
            await self._send_kills()

    def converge(self, rt: AppRuntime, now: float) -> Convergence:
        """What one app needs now to match its target; nothing is changed (see `_apply`).

        Unreachable instances past expungeAfterSeconds are killed and forgotten; a deleted app
        has its instances killed and is gone once none is left; an app with instances of an
        older config version is replaced step by step (`upgrade.replace_step`); otherwise
        instances are queued or killed (`upgrade.kill_order`) to match `instances`.
        """
        app = rt.app
        tracked = [t for t in self.instances.values() if t.inst.app_id == app.id]
        expunged = self._expunged(rt, tracked, now)
        gone = {t.inst.task_id for t in expunged}
        out = Convergence(
            kill=[(t, "unreachable past expungeAfterSeconds") for t in expunged if not t.killing],
            forget=expunged,
        )
        active = [
            t
            for t in tracked
            if not t.killing
            and t.inst.task_id not in gone
            and t.inst.state not in TERMINAL
            and not self._inactive(t, app, now)
        ]
        if rt.deleting:
            out.unqueue = rt.queued
            out.kill += [(t, "app deleted") for t in active]
            out.finish_delete = all(t.inst.state in TERMINAL for t in tracked)
            return out
        new = [t for t in active if t.inst.version == rt.config_version]
        old = [t for t in active if t.inst.version != rt.config_version]
        if old:
            by_id = {t.inst.task_id: t for t in old}
            step = replace_step(  # one step of a rolling replacement (TaskReplaceActor)
                app.instances,
                app.upgrade_strategy,
                [self._candidate(t, app) for t in old],
                new_started=len(new),
                new_healthy=sum(1 for t in new if self.healthy(t, app)),
                new_pending=rt.queued,
                kill_selection=app.kill_selection,
            )
            out.kill += [(by_id[tid], "replaced by a new version") for tid in step.kill]
            out.enqueue = step.start
            return out
        have = len(new) + rt.queued
        if have < app.instances:
            out.enqueue = app.instances - have
        elif have > app.instances:
            extra = have - app.instances
            out.unqueue = min(extra, rt.queued)
            out.kill += [
                (t, "scaled down") for t in self._kill_order(new, app)[: extra - out.unqueue]
            ]
        return out

    def _apply(self, rt: AppRuntime, c: Convergence, now: float) -> None:
        """Carry out what `converge` decided for `rt`."""
        for t, why in c.kill:
            self._kill(t, why)
        for t in c.forget:
            self._forget(t)
        rt.queued -= c.unqueue
        if c.enqueue:
            if rt.queued == 0:
                rt.queued_since = now
            rt.queued += c.enqueue
        if c.finish_delete:
            self._finish_delete(rt)

    def _candidate(self, t: Tracked, app: AppDefinition) -> Candidate:
        healthy: bool | None = None
        if app.health_checks:
            healthy = self.healthy(t, app)
        return Candidate(
            task_id=t.inst.task_id,
            state=t.inst.state,
            healthy=healthy,
            staged_at=t.inst.staged_at or 0.0,
            started_at=t.inst.started_at,
            killing=t.killing,
        )

    def _kill_order(self, ts: list[Tracked], app: AppDefinition) -> list[Tracked]:
        """Unreachable, unhealthy and staging first, then per killSelection (`upgrade.py`)."""
        by_id = {t.inst.task_id: t for t in ts}
        order = kill_order([self._candidate(t, app) for t in ts], app.kill_selection)
        return [by_id[c.task_id] for c in order]

    def _inactive(self, t: Tracked, app: AppDefinition, now: float) -> bool:
        """An unreachable instance past inactiveAfterSeconds no longer counts (it is replaced)."""
        if t.inst.state != TaskState.UNREACHABLE or t.inst.unreachable_since is None:
            return False
        strategy = app.unreachable_strategy
        if strategy == "disabled":
            return False
        return now - t.inst.unreachable_since >= strategy.inactive_after_seconds

    def _expunged(self, rt: AppRuntime, tracked: list[Tracked], now: float) -> list[Tracked]:
        """The unreachable instances past expungeAfterSeconds (killed and forgotten)."""
        strategy = rt.app.unreachable_strategy
        if strategy == "disabled":
            return []
        limit = max(strategy.expunge_after_seconds, strategy.inactive_after_seconds)
        return [
            t
            for t in tracked
            if t.inst.state == TaskState.UNREACHABLE
            and t.inst.unreachable_since is not None
            and now - t.inst.unreachable_since >= limit
        ]

    def _finish_delete(self, rt: AppRuntime) -> None:
        app_id = rt.app.id
        for t in [t for t in self.instances.values() if t.inst.app_id == app_id]:
            self._forget(t)
        self.apps.pop(app_id, None)
        self.repo.delete_app(app_id)
        self.events.publish("app_terminated_event", appId=app_id)
        log.info("app %s deleted", app_id)

    # ---- kills -----------------------------------------------------------------------------

    def _kill(self, t: Tracked, why: str) -> None:
        if t.killing or t.inst.state in TERMINAL:
            return
        t.killing = True
        self._save(t)
        log.info("killing %s: %s", t.inst.task_id, why)
        self._kills.append(t)

    async def _send_kills(self) -> None:
        if self.driver is None:
            return
        kills, self._kills = self._kills, []
        await send_kills(self.driver, [self._kill_of(t) for t in kills])

    def _kill_of(self, t: Tracked) -> Kill:
        rt = self.apps.get(t.inst.app_id)
        grace = rt.app.task_kill_grace_period_seconds if rt else None
        return Kill(t.inst.task_id, t.inst.agent_id or None, grace)

    def _forget(self, t: Tracked) -> None:
        self.instances.pop(t.inst.task_id, None)
        self.repo.delete_instance(t.inst.task_id)
        if self.health is not None:
            self.health.stop(t.inst.task_id)

    def _save(self, t: Tracked) -> None:
        self.repo.save_instance(t.inst.task_id, self._doc(t))

    @staticmethod
    def _doc(t: Tracked) -> dict[str, Any]:
        return {"instance": t.inst.model_dump(mode="json"), "killing": t.killing}

    # ---- offers ----------------------------------------------------------------------------

    async def handle_offers(self, offers: list[dict[str, Any]]) -> None:
        """Match queued instances to `offers`; accept what fits, decline the rest."""
        if self.driver is None:
            raise RuntimeError("offers before attach(): no driver to answer them")
        now = self.clock.time()
        for o in offers:
            info = agent_of_offer(o)
            self.agents[info.agent_id] = info
            ip = ((o.get("url") or {}).get("address") or {}).get("ip")
            if ip:
                self.agent_ips[info.agent_id] = str(ip)
        by_offer, launched = await self._match(offers, now)
        # Written before the ACCEPTs go out (one transaction), so a restart knows every task.
        self.repo.save_instances({t.inst.task_id: self._doc(t) for t in launched})
        plan = LaunchPlan.of(
            offers,
            by_offer,
            accept_refuse_seconds=DECLINE_BUSY,
            decline_refuse_seconds=DECLINE_BUSY if self.queued_total() else DECLINE_IDLE,
        )
        await execute(self.driver, plan)

    async def _match(
        self, offers: list[dict[str, Any]], now: float
    ) -> tuple[dict[str, list[dict[str, Any]]], list[Tracked]]:
        """Place queued instances on `offers`, oldest queue first: the TaskInfos per offer id
        and the instances they start (tracked STAGING, taken off their apps' queues)."""
        matcher = OfferMatcher(
            offers, default_roles=("*", self.role) if self.role != "*" else ("*",)
        )
        by_offer: dict[str, list[dict[str, Any]]] = {}
        launched: list[Tracked] = []
        waiting = sorted(
            (rt for rt in self.apps.values() if rt.queued > 0 and not rt.held and not rt.deleting),
            key=lambda rt: rt.queued_since,
        )
        for rt in waiting:
            rt.offers_processed += len(offers)
            rt.last_offer_at = now
            if now < rt.delay_until:
                continue
            req = placement_request(rt.app)
            placed = [
                PlacedInstance(
                    t.inst.agent_id,
                    t.inst.host,
                    self.agents[t.inst.agent_id].attributes
                    if t.inst.agent_id in self.agents
                    else {},
                )
                for t in self.instances.values()
                if t.inst.app_id == rt.app.id and t.inst.state not in TERMINAL and not t.killing
            ]
            while rt.queued > 0:
                m = matcher.match(rt.app.id, req, placed)
                if m is None:
                    break
                if len(launched) % 200 == 199:
                    await asyncio.sleep(0)  # let the API and the event stream breathe
                agent = self.agents.get(m.agent_id)
                host = agent.hostname if agent else ""
                task_id = task_id_for(rt.app.id)
                task = build_task_info(
                    rt.app, rt.config_version, task_id, m, host, rt.service_ports
                )
                by_offer.setdefault(m.offer_id, []).append(task)
                inst = Instance(
                    task_id=task_id,
                    app_id=rt.app.id,
                    version=rt.config_version,
                    agent_id=m.agent_id,
                    host=host,
                    ports=list(m.host_ports),
                    state=TaskState.STAGING,
                    staged_at=now,
                )
                t = Tracked(inst)
                self.instances[task_id] = t
                launched.append(t)
                # (the matcher itself remembers what it placed in this round)
                rt.queued -= 1
                self.launched_total += 1
            rt.rejections = Counter(matcher.rejections(rt.app.id))
        return by_offer, launched

    # ---- status updates --------------------------------------------------------------------

    def on_status(self, status: dict[str, Any]) -> None:
        task_id = status["task_id"]["value"]
        state = str(status["state"])
        now = self.clock.time()
        t = self.instances.get(task_id)
        if t is None:
            if state not in TERMINAL and app_id_of(task_id) not in ("/",):
                # A task of ours we do not know (lost from the store): Marathon kills it.
                agent = (status.get("agent_id") or {}).get("value")
                fake = Tracked(
                    Instance(
                        task_id=task_id,
                        app_id=app_id_of(task_id),
                        version="",
                        agent_id=agent or "",
                        host="",
                        ports=[],
                        state=state,
                    )
                )
                self._kills.append(fake)
                self.events.publish(
                    "unknown_instance_terminated_event",
                    instanceId=task_id,
                    runSpecId=app_id_of(task_id),
                    condition=state,
                )
                self.wake()
            return
        inst = t.inst
        changed: dict[str, Any] = {"state": state}
        if state == TaskState.RUNNING and inst.started_at is None:
            changed["started_at"] = now
        if state == TaskState.UNREACHABLE:
            changed["unreachable_since"] = inst.unreachable_since or now
        elif inst.unreachable_since is not None:
            changed["unreachable_since"] = None
        agent_id = (status.get("agent_id") or {}).get("value")
        if agent_id and not inst.agent_id:
            changed["agent_id"] = agent_id
        t.inst = inst.model_copy(update=changed)
        rt = self.apps.get(inst.app_id)
        self.events.publish(
            "status_update_event",
            slaveId=t.inst.agent_id,
            taskId=task_id,
            taskStatus=state,
            message=status.get("message", ""),
            appId=inst.app_id,
            host=t.inst.host,
            ipAddresses=[],
            ports=t.inst.ports,
            version=inst.version,
        )
        if state == TaskState.RUNNING and rt is not None:
            rt.failures = 0
            rt.delay_until = 0.0
            if self.health is not None and rt.app.health_checks and not t.health_checked:
                t.health_checked = True
                self.health.start(t.inst, rt.app)
        if state in TERMINAL:
            if rt is not None and state in FAILED and not t.killing:
                rt.failures += 1
                rt.delay_until = now + launch_delay(
                    rt.failures,
                    rt.app.backoff_seconds,
                    rt.app.backoff_factor,
                    rt.app.max_launch_delay_seconds,
                )
                rt.last_task_failure = {
                    "appId": inst.app_id,
                    "host": t.inst.host,
                    "message": str(status.get("message", "")),
                    "state": state,
                    "taskId": task_id,
                    "timestamp": iso_now(now),
                    "version": inst.version,
                    "slaveId": t.inst.agent_id,
                }
            self._forget(t)
        else:
            self._save(t)
        self.wake()

    def on_unhealthy(self, task_id: str, reason: str) -> None:
        """The health checker gave up on an instance: kill it (it is replaced)."""
        t = self.instances.get(task_id)
        if t is None or t.killing:
            return
        self.events.publish(
            "unhealthy_task_kill_event",
            appId=t.inst.app_id,
            taskId=task_id,
            version=t.inst.version,
            reason=reason,
            host=t.inst.host,
            slaveId=t.inst.agent_id,
        )
        self._kill(t, f"unhealthy: {reason}")
        self.wake()

    # ---- queue -----------------------------------------------------------------------------

    def queue(self) -> list[dict[str, Any]]:
        """`GET /v2/queue` items, with why each waiting app got no offer that fit."""
        now = self.clock.time()
        out = []
        for rt in self.apps.values():
            if rt.queued <= 0:
                continue
            left = max(0.0, rt.delay_until - now)
            summary = [
                {"reason": r, "declined": n, "processed": rt.offers_processed}
                for r, n in sorted(rt.rejections.items())
            ]
            out.append(
                {
                    "count": rt.queued,
                    "delay": {"timeLeftSeconds": math.ceil(left), "overdue": left == 0},
                    "overdue": now - rt.queued_since > 60,
                    "since": iso_now(rt.queued_since),
                    "app": self.render(rt, embed_tasks=False),
                    "processedOffersSummary": {
                        "processedOffersCount": rt.offers_processed,
                        "unusedOffersCount": sum(rt.rejections.values()),
                        "lastUnusedOfferAt": iso_now(rt.last_offer_at)
                        if rt.last_offer_at
                        else None,
                        "rejectSummaryLastOffers": summary,
                        "rejectSummaryLaunchAttempt": summary,
                    },
                }
            )
        return out

    def reset_delay(self, app_id: str) -> None:
        rt = self.get(app_id)
        rt.delay_until = 0.0
        rt.failures = 0
        self.wake()


class AppLockedError(ConflictError):
    """An app is locked by running deployments (HTTP 409 with their ids)."""

    def __init__(self, deployment_ids: list[str]) -> None:
        self.deployment_ids = deployment_ids
        super().__init__(
            "App is locked by one or more deployments. Override with the option '?force=true'. "
            "View details at '/v2/deployments/<DEPLOYMENT_ID>'."
        )


_SCALE_ONLY = {"instances", "version"}


def _config_equal(a: AppDefinition, b: AppDefinition) -> bool:
    """True if `a` and `b` differ only in instances (a scale, not a restart)."""
    return a.model_dump(exclude=_SCALE_ONLY) == b.model_dump(exclude=_SCALE_ONLY)


def _storage_of(rendered: dict[str, Any]) -> dict[str, Any]:
    """A rendered app (from a deployment's original) back into storage form."""
    from dcos_core.frameworks.marathon.validation import parse_app

    keep = {k: v for k, v in rendered.items() if k not in _READ_ONLY}
    return app_to_storage(parse_app(keep))


_READ_ONLY = {
    "tasks",
    "tasksRunning",
    "tasksStaged",
    "tasksHealthy",
    "tasksUnhealthy",
    "deployments",
    "versionInfo",
    "lastTaskFailure",
    "taskStats",
    "readinessCheckResults",
    "version",
}
