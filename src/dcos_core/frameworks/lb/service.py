"""`run_lb`: keep HAProxy in step with Marathon, like marathon-lb.

The full state is read with `GET /v2/apps?embed=apps.tasks` at start, after every relevant
event of `GET /v2/events` (used only as cache invalidation, as Marathon advises), after every
reconnect of the event stream, and every `resync_interval` seconds. Bursts of events are
coalesced: at most one render per `min_reload_interval`. HAProxy is reloaded only when the
rendered config changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Final

import httpx

from dcos_core.frameworks.lb.config import backends_from_apps, render_haproxy
from dcos_core.frameworks.lb.reload import HAProxy, HAProxyError
from dcos_core.frameworks.lb.settings import LbSettings
from dcos_core.frameworks.sdk_protocol import Backoff

__all__ = ["RELEVANT_EVENTS", "fetch_apps", "parse_sse_data", "run_lb"]

log = logging.getLogger(__name__)

RELEVANT_EVENTS: Final = (
    "api_post_event",
    "status_update_event",
    "health_status_changed_event",
    "deployment_success",
)


async def fetch_apps(client: httpx.AsyncClient, marathon_url: str) -> list[dict[str, Any]]:
    """`GET /v2/apps?embed=apps.tasks` -> the apps list."""
    r = await client.get(
        f"{marathon_url.rstrip('/')}/v2/apps",
        params={"embed": "apps.tasks"},
        headers={"Accept": "application/json"},
    )
    r.raise_for_status()
    apps = r.json().get("apps")
    if not isinstance(apps, list):
        raise ValueError("GET /v2/apps: no `apps` list in the answer")
    return apps


def parse_sse_data(line: str) -> list[dict[str, Any]]:
    """The events of one `data:` line (Marathon may put several JSON documents in one)."""
    if not line.startswith("data:"):
        return []
    events = []
    for part in line[5:].split("\r\n"):
        part = part.strip()
        if not part:
            continue
        try:
            doc = json.loads(part)
        except ValueError:
            log.debug("event stream: not JSON: %r", part[:200])
            continue
        if isinstance(doc, dict):
            events.append(doc)
    return events


async def _watch_events(
    client: httpx.AsyncClient, marathon_url: str, settings: LbSettings, dirty: asyncio.Event
) -> None:
    """Set `dirty` on every relevant event and after every (re)connect; reconnect forever."""
    url = f"{marathon_url.rstrip('/')}/v2/events"
    params = httpx.QueryParams({"event_type": list(RELEVANT_EVENTS), "plan-format": "light"})
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    timeout = httpx.Timeout(10.0, read=settings.event_read_timeout)
    backoff = Backoff(0.2, 10.0)
    while True:
        try:
            async with client.stream(
                "GET", url, params=params, headers=headers, timeout=timeout
            ) as r:
                r.raise_for_status()
                log.info("event stream attached to %s", url)
                backoff.reset()
                dirty.set()  # events may have been missed while disconnected
                async for line in r.aiter_lines():
                    for event in parse_sse_data(line):
                        if event.get("eventType") in RELEVANT_EVENTS:
                            dirty.set()
            log.warning("event stream ended, reconnecting")
        except (httpx.HTTPError, OSError) as e:
            log.warning("event stream: %s, reconnecting", e or type(e).__name__)
        await asyncio.sleep(backoff.next())


async def _resync(settings: LbSettings, dirty: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(settings.resync_interval)
        dirty.set()


async def _update_loop(
    client: httpx.AsyncClient,
    marathon_url: str,
    settings: LbSettings,
    haproxy: HAProxy,
    dirty: asyncio.Event,
) -> None:
    backoff = Backoff(0.2, 10.0)
    last = float("-inf")
    while True:
        await dirty.wait()
        # Coalesce: at most one render per min_reload_interval, whatever the event rate.
        wait = last + settings.min_reload_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        dirty.clear()
        last = time.monotonic()
        try:
            apps = await fetch_apps(client, marathon_url)
        except (httpx.HTTPError, OSError, ValueError) as e:
            delay = backoff.next()
            log.warning("cannot read apps from %s: %s; retrying in %.1fs", marathon_url, e, delay)
            await asyncio.sleep(delay)
            dirty.set()
            continue
        backoff.reset()
        text = render_haproxy(backends_from_apps(apps), settings)
        if text != haproxy.current_config or not haproxy.running:
            try:
                await asyncio.to_thread(haproxy.apply, text)
            except HAProxyError as e:
                log.error("%s", e)
                dirty.set()
                await asyncio.sleep(backoff.next())


async def run_lb(
    marathon_url: str, settings: LbSettings, *, haproxy: HAProxy | None = None
) -> None:
    """Run until cancelled; the HAProxy started here is stopped on the way out.

    Args:
        marathon_url: Marathon's base URL (settings.marathon is the CLI's default for it).
        settings: the balancer's settings.
        haproxy: a process manager to use (tests pass one to inspect it); default: a new one
            in `settings.work_dir`.
    """
    proxy = haproxy or HAProxy(settings.work_dir, settings.haproxy)
    dirty = asyncio.Event()
    dirty.set()
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=True) as client:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_update_loop(client, marathon_url, settings, proxy, dirty))
                tg.create_task(_watch_events(client, marathon_url, settings, dirty))
                tg.create_task(_resync(settings, dirty))
        finally:
            await asyncio.to_thread(proxy.stop)
