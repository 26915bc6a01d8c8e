"""`run_agent(settings)`: build the agent, serve its API, register, and stop cleanly.

`dcos-core agent` calls `asyncio.run(run_agent(settings))`. At start the agent recovers the tasks
of checkpointing frameworks (`--recover=reconnect`) or destroys every old container
(`--recover=cleanup`). SIGTERM/SIGINT (or cancelling the coroutine) stops the agent within about
10 s, killing the tasks of non-checkpointing frameworks and leaving the others running for the next
agent to recover; SIGUSR1 kills every task first (Mesos semantics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from dcos_core.agent.api import create_agent_app
from dcos_core.agent.master_client import AgentRefusedError, HttpMasterClient, master_url
from dcos_core.agent.probe import agent_resources, parse_attributes, probe_host
from dcos_core.agent.service import Agent, AgentConfig
from dcos_core.clock import Clock, SystemClock
from dcos_core.config import AgentSettings
from dcos_core.containerizer.posix import make_subreaper
from dcos_core.containerizer.registry import create_containerizer
from dcos_core.containerizer.spec import ContainerizerConfig
from dcos_core.errors import DcosError
from dcos_core.isolation_names import parse_isolation
from dcos_core.serve import listen, uvicorn_server
from dcos_core.web import limit_request_bodies

log = logging.getLogger("dcos_core.agent.run")

_SERVER_STOP_TIMEOUT = 3.0


def build_agent(settings: AgentSettings, clock: Clock) -> Agent:
    """Probe the host and wire the agent's parts from `settings`."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    facts = probe_host(settings.work_dir)
    resources = agent_resources(facts, settings.system_reserved_mem, settings.resources)
    hostname = settings.hostname or settings.ip
    config = AgentConfig(
        hostname=hostname,
        ip="" if settings.ip in ("0.0.0.0", "::") else settings.ip,
        port=settings.port,
        work_dir=settings.work_dir,
        resources=resources,
        master_hostname=master_url(settings.master).split("://", 1)[1].rsplit(":", 1)[0],
        attributes=parse_attributes(settings.attributes),
        executor_shutdown_grace_period=settings.executor_shutdown_grace_period,
        status_update_retry_min=settings.status_update_retry_min,
        status_update_retry_max=settings.status_update_retry_max,
        registration_backoff_max=settings.registration_backoff_max,
        default_user=settings.default_user if os.geteuid() == 0 else None,
    )
    if "posix" in settings.containerizers.split(",") and not make_subreaper():
        log.warning("cannot become a child subreaper; orphaned task processes may linger")
    cconfig = ContainerizerConfig(
        runtime_dir=settings.work_dir / "containers",
        cgroups_mount=settings.cgroups_mount,
        cgroups_root=settings.cgroups_root,
        cgroups_enable_cfs=settings.cgroups_enable_cfs,
        pids_limit=settings.cgroups_pids_limit,
        default_user=config.default_user,
        image_dir=settings.image_dir,
        disk_watch_interval=settings.container_disk_watch_interval,
        enforce_disk_quota=settings.enforce_container_disk_quota,
        ports_watch_interval=settings.container_ports_watch_interval,
        enforce_ports=settings.enforce_container_ports,
        docker_host=settings.docker_host,
    )
    isolation = parse_isolation(settings.isolation) if settings.isolation else None
    containerizer = create_containerizer(
        settings.containerizers,
        cconfig,
        clock,
        isolation=isolation,
        agent_port_ranges=[(lo, hi) for lo, hi in resources.ranges("ports")],
    )
    isolation_used = getattr(containerizer, "isolation", None)
    if isolation_used is None and hasattr(containerizer, "named"):  # composing
        mesos = containerizer.named.get("mesos")
        isolation_used = getattr(mesos, "isolation", None)
    config.flags.update(
        containerizers=settings.containerizers,
        isolation=",".join(isolation_used or []),
        cgroups_root=settings.cgroups_root,
        cgroups_enable_cfs=str(settings.cgroups_enable_cfs).lower(),
        recover=settings.recover,
    )
    return Agent(
        config,
        master=HttpMasterClient(settings.master),
        containerizer=containerizer,
        clock=clock,
    )


async def run_agent(
    settings: AgentSettings, *, clock: Clock | None = None, install_signal_handlers: bool = True
) -> None:
    """Run an agent until SIGTERM/SIGINT or cancellation, then kill its tasks and return."""
    clock = clock or SystemClock()
    sock = listen(settings.ip, settings.port, "agent")  # before recovery touches any task
    agent = build_agent(settings, clock)
    app = create_agent_app(agent)
    limit_request_bodies(app, settings.max_body_size)
    server = uvicorn_server(app, settings.ip, settings.port)
    check = getattr(agent.containerizer, "check", None)
    if check is not None:
        await check()
    await agent.recover(cleanup=settings.recover == "cleanup")
    stop = asyncio.Event()
    kill_all = not install_signal_handlers
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1) if install_signal_handlers else ()

    def on_signal(sig: signal.Signals) -> None:
        nonlocal kill_all
        kill_all = kill_all or sig == signal.SIGUSR1
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="agent-http")
    running: asyncio.Task[None] | None = None
    refused: DcosError | None = None  # the master will not have us (marked gone): exit 2
    try:
        while not server.started:  # register only once the master can reach us
            if serving.done():
                serving.result()  # raises the bind error, if any
                return
            await asyncio.sleep(0.01)
        log.info("agent listening on %s:%d", settings.ip, settings.port)
        running = asyncio.create_task(agent.run(), name="agent-run")
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, running, serving}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if running.done() and not running.cancelled():
            e = running.exception()
            refused = e if isinstance(e, AgentRefusedError) else None
    finally:
        log.info("agent stopping")
        for sig in signals:
            loop.remove_signal_handler(sig)
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        try:
            await asyncio.shield(agent.stop(kill_all=kill_all))
        finally:
            server.should_exit = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(serving), _SERVER_STOP_TIMEOUT)
    if refused is not None:
        raise refused
