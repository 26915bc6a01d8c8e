"""Framework SDK: an asyncio client of the Mesos v1 scheduler HTTP API.

`SchedulerDriver` subscribes to `POST /api/v1/scheduler`, decodes the RecordIO event stream,
calls a `Scheduler`'s async callbacks, acknowledges status updates, re-subscribes after drops and
follows leader redirects. It speaks the real Mesos wire protocol (JSON), so a framework built on
it runs against dcos-core and against Apache Mesos alike.

Example:
    >>> class Hello(Scheduler):
    ...     async def on_offers(self, driver, offers):
    ...         await driver.decline([offer_id(o) for o in offers])
    >>> driver = SchedulerDriver("127.0.0.1:5050", {"user": "root", "name": "hello"}, Hello())
    >>> # asyncio.run(driver.run())  # until ERROR, stop() or teardown()

Ordering guarantee: events are handled one at a time, in stream order; a callback that awaits
delays the next event (and thus heartbeat detection), so long work belongs in a separate task.
Calls (`accept`, `decline`, ...) use their own connection, as the API requires, and may be made
from callbacks or from any other task while `run()` is active.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import enum
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import httpx

from dcos_core.errors import DcosError, InvalidError
from dcos_core.frameworks.sdk_protocol import (
    DEFAULT_HEARTBEAT_INTERVAL,
    SCHEDULER_PATH,
    Backoff,
    Json,
    default_executor,
    filters,
    launch,
    launch_group,
    master_url,
    needs_ack,
    offer_agent_id,
    offer_id,
    offer_resources,
    offer_role,
    optional_id,
    reserve,
    resolve_redirect,
    task_info,
    unreserve,
)
from dcos_core.http11 import HttpClient, HttpError
from dcos_core.protocol.v1 import wrap
from dcos_core.recordio import Decoder

__all__ = [
    "Backoff",
    "Scheduler",
    "SchedulerDriver",
    "SdkError",
    "default_executor",
    "launch",
    "launch_group",
    "master_url",
    "needs_ack",
    "offer_agent_id",
    "offer_id",
    "offer_resources",
    "offer_role",
    "reserve",
    "resolve_redirect",
    "task_info",
    "unreserve",
]

log = logging.getLogger(__name__)

CALL_TIMEOUT: Final = 75.0
ACK_CONCURRENCY: Final = 16  # acknowledgements in flight at once
ACK_DRAIN_TIMEOUT: Final = 5.0  # seconds run() waits for them when it ends
"""Mesos docs: use "a similar timeout (e.g., 75s) for receiving responses to any HTTP requests"."""
MAX_REDIRECTS: Final = 5
"""Redirects followed in a row without backing off (a leader election in progress)."""


class SdkError(DcosError):
    """A scheduler call failed: HTTP status >= 300, a network error, or not subscribed.

    Attributes:
        call: the call type, e.g. "ACCEPT".
        status: the HTTP status code, or None if no response arrived.
        body: the response body text ("" if none).
    """

    def __init__(self, call: str, message: str, status: int | None = None, body: str = "") -> None:
        self.call = call
        self.status = status
        self.body = body
        super().__init__(f"{call}: {message}")


class Scheduler:
    """Base class of a framework's scheduler: override the callbacks you need (all no-ops).

    Callbacks run in the driver's task, one event at a time. An exception in a callback is logged
    and does not stop the driver; for UPDATE it also withholds the acknowledgement, so the agent
    delivers the update again later (at-least-once).
    """

    async def on_subscribed(
        self, driver: SchedulerDriver, framework_id: str, master_info: Json | None
    ) -> None:
        """Subscribed (first time or again after a drop). A good moment to reconcile."""

    async def on_offers(self, driver: SchedulerDriver, offers: list[Json]) -> None:
        """New offers (v1 `Offer` dicts): accept or decline each, or they are held until rescind."""

    async def on_rescind(self, driver: SchedulerDriver, offer_id: str) -> None:
        """An offer is no longer valid."""

    async def on_update(self, driver: SchedulerDriver, status: Json) -> None:
        """A task status update (v1 `TaskStatus`); acknowledged after this returns (if auto)."""

    async def on_message(
        self, driver: SchedulerDriver, agent_id: str | None, executor_id: str | None, data: bytes
    ) -> None:
        """A framework message from an executor."""

    async def on_failure(
        self,
        driver: SchedulerDriver,
        agent_id: str | None,
        executor_id: str | None,
        status: int | None,
    ) -> None:
        """An agent was removed (no executor_id) or an executor terminated (waitpid status)."""

    async def on_error(self, driver: SchedulerDriver, message: str) -> None:
        """The master sent ERROR (or refused the subscription); `run()` returns afterwards."""

    async def on_heartbeat(self, driver: SchedulerDriver) -> None:
        """A HEARTBEAT event arrived."""

    async def on_disconnected(self, driver: SchedulerDriver) -> None:
        """The subscription stream was lost; the driver re-subscribes if `reconnect`."""


class _End(enum.Enum):
    """How one subscription attempt ended."""

    DROPPED = "dropped"  # network error, stream closed, heartbeats missed, 5xx: back off, retry
    REDIRECTED = "redirected"  # 307: retry at once at the new leader
    FATAL = "fatal"  # ERROR event or 4xx refusal: stop


Handler = Callable[[Json], Awaitable[_End | None]]


class SchedulerDriver:
    """Drives a `Scheduler` against a master's v1 scheduler API.

    Args:
        master: "host:port" or "http://host:port".
        framework_info: v1 `FrameworkInfo` (`user`, `name`, `roles`/`role`, `failover_timeout`,
            `capabilities`, ...). Set `id` to fail over to an existing framework.
        scheduler: the callbacks.
        auto_acknowledge: acknowledge every UPDATE carrying a uuid after `on_update` returns.
        reconnect: re-subscribe (same framework id) after a drop; False makes `run()` return.
        backoff_max: cap in seconds of the exponential re-subscription backoff.
        heartbeat_misses: the stream counts as dead after this many heartbeat intervals without
            any event.
        backoff_initial: first re-subscription delay in seconds.
        call_timeout: timeout in seconds of each call other than SUBSCRIBE.

    Attributes:
        framework_id, stream_id, master_info, heartbeat_interval: from the current subscription.
        base_url: the master in use (changes when a 307 points at the leader).
    """

    def __init__(
        self,
        master: str,
        framework_info: Mapping[str, Any],
        scheduler: Scheduler,
        *,
        auto_acknowledge: bool = True,
        reconnect: bool = True,
        backoff_max: float = 15.0,
        heartbeat_misses: int = 5,
        backoff_initial: float = 0.5,
        call_timeout: float = CALL_TIMEOUT,
    ) -> None:
        if heartbeat_misses < 1:
            raise InvalidError("must be >= 1", "heartbeat_misses")
        self.base_url = master_url(master)
        self.framework_info: Json = copy.deepcopy(dict(framework_info))
        self.scheduler = scheduler
        self.auto_acknowledge = auto_acknowledge
        self.reconnect = reconnect
        self.heartbeat_misses = heartbeat_misses
        self.call_timeout = call_timeout
        self.framework_id: str | None = optional_id(self.framework_info.get("id"))
        self.stream_id: str | None = None
        self.master_info: Json | None = None
        self.heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL
        self.error: str | None = None
        self._backoff = Backoff(min(backoff_initial, backoff_max), backoff_max)
        self._suppressed: set[str] = set()
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()  # clear while an event is being handled
        self._idle.set()
        self._client: httpx.AsyncClient | None = None
        self._ack_tasks: set[asyncio.Task[None]] = set()
        self._calls: HttpClient | None = None
        self._calls_base = ""
        self._ack_slots = asyncio.Semaphore(ACK_CONCURRENCY)
        self._handlers: dict[str, Handler] = {
            "SUBSCRIBED": self._on_subscribed,
            "OFFERS": self._on_offers,
            "INVERSE_OFFERS": self._ignore,
            "RESCIND": self._on_rescind,
            "RESCIND_INVERSE_OFFER": self._ignore,
            "UPDATE": self._on_update,
            "UPDATE_OPERATION_STATUS": self._ignore,
            "MESSAGE": self._on_message,
            "FAILURE": self._on_failure,
            "ERROR": self._on_error,
            "HEARTBEAT": self._on_heartbeat,
        }

    # ---- lifecycle -----------------------------------------------------------------------------

    @property
    def subscribed(self) -> bool:
        """True while a subscription stream is open."""
        return self.stream_id is not None

    @property
    def endpoint(self) -> str:
        """The scheduler API URL at the current master."""
        return self.base_url + SCHEDULER_PATH

    async def run(self) -> None:
        """Subscribe and handle events until ERROR, `stop()`, `teardown()` or (without
        `reconnect`) the first drop.

        Example:
            >>> # await driver.run()
        """
        self._stop.clear()
        stream_timeout = httpx.Timeout(connect=10.0, read=None, write=10.0, pool=10.0)
        async with (
            httpx.AsyncClient(timeout=self.call_timeout) as calls,
            httpx.AsyncClient(timeout=stream_timeout) as stream,
        ):
            self._client = calls
            try:
                await self._loop(stream)
            finally:
                if self._ack_tasks:  # deliver the acknowledgements still in flight
                    await asyncio.wait(set(self._ack_tasks), timeout=ACK_DRAIN_TIMEOUT)
                if self._calls is not None:
                    await self._calls.close()
                    self._calls = None
                self._client = None
                self.stream_id = None

    def stop(self) -> None:
        """Make `run()` return soon: closes the stream (the master starts the failover timeout).

        Safe to call from callbacks, other tasks and signal handlers of the loop.
        """
        self._stop.set()

    async def _loop(self, stream: httpx.AsyncClient) -> None:
        redirects = 0
        while not self._stop.is_set():
            session = asyncio.create_task(self._session(stream))
            stopper = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if session not in done:
                # stop() during an event (e.g. from on_update): let that event finish, so its
                # acknowledgement goes out; the session returns right after it.
                if not self._idle.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._idle.wait(), self.call_timeout)
                session.cancel()
                await asyncio.gather(session, return_exceptions=True)
                self.stream_id = None  # stopped on purpose: no on_disconnected
                return
            stopper.cancel()
            end = session.result()
            if end is _End.FATAL or self._stop.is_set():
                self.stream_id = None  # ended on purpose (ERROR, stop()): no on_disconnected
                return
            await self._lost()
            if end is _End.REDIRECTED and redirects < MAX_REDIRECTS:
                redirects += 1
                continue
            redirects = 0
            if not self.reconnect:
                return
            delay = self._backoff.next()
            log.info("re-subscribing to %s in %.2fs", self.base_url, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _lost(self) -> None:
        if self.stream_id is None:
            return
        self.stream_id = None
        await self._callback("on_disconnected", self.scheduler.on_disconnected(self))

    def subscribe_body(self) -> Json:
        """The SUBSCRIBE call sent now (framework_info carries `id` once we have one)."""
        info = copy.deepcopy(self.framework_info)
        if self.framework_id is not None:
            info["id"] = wrap(self.framework_id)
        body: Json = {"framework_info": info}
        if self._suppressed:
            body["suppressed_roles"] = sorted(self._suppressed)
        return {"type": "SUBSCRIBE", "subscribe": body}

    async def _session(self, http: httpx.AsyncClient) -> _End:
        """One subscription: POST SUBSCRIBE, then read events until the stream ends."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        url = self.endpoint
        try:
            async with http.stream(
                "POST", url, content=json.dumps(self.subscribe_body()), headers=headers
            ) as resp:
                if resp.status_code in (301, 302, 303, 307, 308):
                    location = resp.headers.get("Location")
                    try:
                        self.base_url = resolve_redirect(self.base_url, location)
                    except InvalidError as e:
                        log.warning("SUBSCRIBE to %s: bad redirect: %s", url, e)
                        return _End.DROPPED
                    log.info("SUBSCRIBE redirected to the leader at %s", self.base_url)
                    return _End.REDIRECTED
                if resp.status_code != 200:
                    text = (await resp.aread()).decode(errors="replace").strip()
                    message = f"SUBSCRIBE to {url} refused: {resp.status_code} {text}"
                    if 400 <= resp.status_code < 500 and resp.status_code not in (408, 429):
                        return await self._fatal(message)
                    log.warning("%s", message)
                    return _End.DROPPED
                return await self._read_events(resp)
        except (httpx.HTTPError, OSError) as e:
            log.warning("subscription stream to %s lost: %s", url, e or type(e).__name__)
            return _End.DROPPED

    async def _read_events(self, resp: httpx.Response) -> _End:
        self.stream_id = resp.headers.get("Mesos-Stream-Id")
        if not self.stream_id:
            log.warning("SUBSCRIBE response without Mesos-Stream-Id; calls will be refused")
            self.stream_id = ""
        decoder = Decoder()
        chunks = resp.aiter_raw().__aiter__()
        loop = asyncio.get_running_loop()
        last_event = loop.time()
        while True:
            deadline = last_event + self.heartbeat_misses * self.heartbeat_interval
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                log.warning("subscription stream closed by %s", self.base_url)
                return _End.DROPPED
            except TimeoutError:
                log.warning(
                    "no event for %.1fs (%d heartbeats): reconnecting",
                    self.heartbeat_misses * self.heartbeat_interval,
                    self.heartbeat_misses,
                )
                return _End.DROPPED
            try:
                records = decoder.feed(chunk)
            except InvalidError as e:
                log.warning("bad RecordIO from %s: %s", self.base_url, e)
                return _End.DROPPED
            for record in records:
                last_event = loop.time()
                try:
                    event = json.loads(record)
                except ValueError as e:
                    log.warning("event is not JSON (%s): %r", e, record[:200])
                    continue
                if not isinstance(event, dict):
                    log.warning("event is not an object: %r", record[:200])
                    continue
                self._idle.clear()
                try:
                    end = await self.dispatch(event)
                finally:
                    self._idle.set()
                if end is _End.FATAL or self._stop.is_set():
                    return _End.FATAL

    # ---- events --------------------------------------------------------------------------------

    async def dispatch(self, event: Json) -> _End | None:
        """Handle one decoded event (public so tests and replays can feed events directly).

        Unknown event types are logged and ignored (newer masters add types).
        """
        etype = event.get("type")
        handler = self._handlers.get(etype) if isinstance(etype, str) else None
        if handler is None:
            log.warning("ignoring unknown event type %r", etype)
            return None
        return await handler(event)

    async def _callback(self, name: str, coro: Awaitable[None]) -> bool:
        try:
            await coro
        except Exception:
            log.exception("scheduler callback %s failed", name)
            return False
        return True

    async def _ignore(self, event: Json) -> None:
        log.debug("ignoring %s event", event.get("type"))

    async def _on_subscribed(self, event: Json) -> None:
        sub = event.get("subscribed") or {}
        fid = optional_id(sub.get("framework_id"))
        if fid is None:
            log.warning("SUBSCRIBED without framework_id: %r", event)
            return
        self.framework_id = fid
        self.framework_info["id"] = wrap(fid)
        interval = sub.get("heartbeat_interval_seconds")
        if isinstance(interval, (int, float)) and interval > 0:
            self.heartbeat_interval = float(interval)
        master_info = sub.get("master_info")
        self.master_info = master_info if isinstance(master_info, dict) else None
        self._backoff.reset()
        log.info("subscribed as framework %s (stream %s)", fid, self.stream_id)
        await self._callback(
            "on_subscribed", self.scheduler.on_subscribed(self, fid, self.master_info)
        )

    async def _on_offers(self, event: Json) -> None:
        body = event.get("offers")
        # The proto nests `offers.offers`; one Mesos doc example shows a bare list.
        offers = body.get("offers", []) if isinstance(body, dict) else body
        if isinstance(offers, list) and offers:
            await self._callback("on_offers", self.scheduler.on_offers(self, offers))

    async def _on_rescind(self, event: Json) -> None:
        oid = optional_id((event.get("rescind") or {}).get("offer_id"))
        if oid is not None:
            await self._callback("on_rescind", self.scheduler.on_rescind(self, oid))

    async def _on_update(self, event: Json) -> None:
        status = (event.get("update") or {}).get("status")
        if not isinstance(status, dict):
            log.warning("UPDATE without status: %r", event)
            return
        handled = await self._callback("on_update", self.scheduler.on_update(self, status))
        if not (handled and self.auto_acknowledge and needs_ack(status)):
            return
        agent_id = optional_id(status.get("agent_id"))
        task_id = optional_id(status.get("task_id"))
        if agent_id is None or task_id is None:
            log.warning("cannot acknowledge update without agent_id/task_id: %r", status)
            return
        # Acknowledge in the background (a few at a time) so that the next events are read at
        # once: an agent sends a task's next update only after this ack, so waiting here would
        # serialize every task's updates behind one HTTP round trip each.
        task = asyncio.create_task(self._ack(agent_id, task_id, str(status["uuid"])))
        self._ack_tasks.add(task)
        task.add_done_callback(self._ack_tasks.discard)

    async def _ack(self, agent_id: str, task_id: str, uuid: str) -> None:
        async with self._ack_slots:
            try:
                await self.acknowledge(agent_id, task_id, uuid)
            except SdkError as e:
                # The agent retries unacknowledged updates, so a lost ack costs only a duplicate.
                log.warning("acknowledgement failed: %s", e)

    async def _on_message(self, event: Json) -> None:
        msg = event.get("message") or {}
        try:
            data = base64.b64decode(msg.get("data", ""), validate=True)
        except ValueError:
            log.warning("MESSAGE data is not base64: %r", msg.get("data"))
            return
        await self._callback(
            "on_message",
            self.scheduler.on_message(
                self, optional_id(msg.get("agent_id")), optional_id(msg.get("executor_id")), data
            ),
        )

    async def _on_failure(self, event: Json) -> None:
        f = event.get("failure") or {}
        status = f.get("status")
        await self._callback(
            "on_failure",
            self.scheduler.on_failure(
                self,
                optional_id(f.get("agent_id")),
                optional_id(f.get("executor_id")),
                status if isinstance(status, int) else None,
            ),
        )

    async def _on_error(self, event: Json) -> _End:
        err = event.get("error")
        # The proto nests `error.message`; the Mesos doc example puts `message` at the top.
        message = err.get("message") if isinstance(err, dict) else event.get("message")
        return await self._fatal(str(message or "unspecified error"))

    async def _fatal(self, message: str) -> _End:
        log.error("master error: %s", message)
        self.error = message
        await self._callback("on_error", self.scheduler.on_error(self, message))
        self.stop()
        return _End.FATAL

    async def _on_heartbeat(self, event: Json) -> None:
        await self._callback("on_heartbeat", self.scheduler.on_heartbeat(self))

    # ---- calls ---------------------------------------------------------------------------------

    def _calls_client(self) -> HttpClient:
        """Kept-alive connections to the current master for calls (recreated on a redirect)."""
        if self._calls is None or self._calls_base != self.base_url:
            self._calls = HttpClient(
                self.base_url, timeout=self.call_timeout, size=16, follow_redirects=False
            )
            self._calls_base = self.base_url
        return self._calls

    async def _call(self, call: str, body: Json | None = None) -> None:
        """POST one call with framework_id and Mesos-Stream-Id; SdkError on failure.

        Calls go over `dcos_core.http11` (a few kept-alive connections): a framework makes one
        ACKNOWLEDGE per status update, so the client's cost per request matters.
        """
        if self._client is None or self.framework_id is None or self.stream_id is None:
            raise SdkError(call, "not subscribed (calls need an open subscription)")
        payload: Json = {"framework_id": wrap(self.framework_id), "type": call}
        if body is not None:
            payload[call.lower()] = body
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Mesos-Stream-Id": self.stream_id,
        }
        client = self._calls_client()
        try:
            resp = await client.request(
                "POST", SCHEDULER_PATH, json.dumps(payload).encode(), headers
            )
        except HttpError as e:
            raise SdkError(call, f"request to {self.endpoint} failed: {e}") from e
        if resp.status >= 300:
            text = resp.text.strip()
            raise SdkError(call, f"master answered {resp.status}: {text}", resp.status, text)

    async def accept(
        self,
        offer_ids: Sequence[str],
        operations: Sequence[Json],
        refuse_seconds: float | None = None,
    ) -> None:
        """Accept offers with operations (`launch(...)`, `reserve(...)`); the rest is declined.

        Example:
            >>> # await driver.accept([offer_id(o)], [launch([task])], refuse_seconds=5)
        """
        body: Json = {
            "offer_ids": [wrap(o) for o in offer_ids],
            "operations": [dict(op) for op in operations],
        }
        f = filters(refuse_seconds)
        if f is not None:
            body["filters"] = f
        await self._call("ACCEPT", body)

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        """Decline offers; `refuse_seconds` keeps them away that long (master default 5 s)."""
        body: Json = {"offer_ids": [wrap(o) for o in offer_ids]}
        f = filters(refuse_seconds)
        if f is not None:
            body["filters"] = f
        await self._call("DECLINE", body)

    def _roles(self) -> set[str]:
        roles = self.framework_info.get("roles")
        if isinstance(roles, list) and roles:
            return {str(r) for r in roles}
        return {str(self.framework_info.get("role", "*"))}

    async def revive(self, roles: Sequence[str] | None = None) -> None:
        """Clear offer filters and un-suppress `roles` (all roles if None)."""
        await self._call("REVIVE", {"roles": list(roles)} if roles else None)
        self._suppressed -= set(roles) if roles else self._suppressed

    async def suppress(self, roles: Sequence[str] | None = None) -> None:
        """Stop offers for `roles` (all roles if None); remembered across re-subscription."""
        await self._call("SUPPRESS", {"roles": list(roles)} if roles else None)
        self._suppressed |= set(roles) if roles else self._roles()

    async def kill(
        self, task_id: str, agent_id: str | None = None, grace_period: float | None = None
    ) -> None:
        """Kill a task; `grace_period` seconds between SIGTERM and SIGKILL overrides the task's."""
        body: Json = {"task_id": wrap(task_id)}
        if agent_id is not None:
            body["agent_id"] = wrap(agent_id)
        if grace_period is not None:
            if grace_period < 0:
                raise InvalidError(f"{grace_period} is negative", "grace_period")
            body["kill_policy"] = {"grace_period": {"nanoseconds": round(grace_period * 1e9)}}
        await self._call("KILL", body)

    async def acknowledge(self, agent_id: str, task_id: str, uuid: str) -> None:
        """Acknowledge a status update (`uuid` exactly as received, base64)."""
        await self._call(
            "ACKNOWLEDGE", {"agent_id": wrap(agent_id), "task_id": wrap(task_id), "uuid": uuid}
        )

    async def reconcile(self, tasks: Sequence[tuple[str, str | None]] = ()) -> None:
        """Ask for the state of `tasks` (task_id, agent_id or None); empty = all known tasks.

        Answers arrive as UPDATE events with reason REASON_RECONCILIATION.
        """
        items: list[Json] = []
        for task_id, agent_id in tasks:
            item: Json = {"task_id": wrap(task_id)}
            if agent_id is not None:
                item["agent_id"] = wrap(agent_id)
            items.append(item)
        await self._call("RECONCILE", {"tasks": items})

    async def message(self, agent_id: str, executor_id: str, data: bytes) -> None:
        """Send an (unreliable) framework message to an executor."""
        await self._call(
            "MESSAGE",
            {
                "agent_id": wrap(agent_id),
                "executor_id": wrap(executor_id),
                "data": base64.b64encode(data).decode(),
            },
        )

    async def teardown(self) -> None:
        """Remove the framework: the master kills all its tasks. Then `run()` returns."""
        try:
            await self._call("TEARDOWN")
        finally:
            self.stop()

    async def update_framework(
        self, framework_info: Mapping[str, Any], suppressed_roles: Sequence[str] | None = None
    ) -> None:
        """Change the framework's info (roles, name, ...) without re-subscribing (synchronous)."""
        info = copy.deepcopy(dict(framework_info))
        if self.framework_id is not None:
            info["id"] = wrap(self.framework_id)
        body: Json = {"framework_info": info}
        if suppressed_roles is not None:
            body["suppressed_roles"] = list(suppressed_roles)
        await self._call("UPDATE_FRAMEWORK", body)
        self.framework_info = info
        if suppressed_roles is not None:
            self._suppressed = set(suppressed_roles)
