"""`dcos-core`: the daemons (master, agent, local cluster).

The benchmarks are not part of the package: `python -m bench.<name>` from the repository root.

Settings come from flags, then `DCOS_*` environment variables, then `--config FILE`, then
defaults. A bad value ends the command with a one-line message (exit 2), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dcos_core import __version__
from dcos_core.config import (
    AgentSettings,
    LocalSettings,
    MasterSettings,
    load_settings,
)
from dcos_core.errors import DcosError

app = typer.Typer(
    name="dcos-core",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="dcos-core daemons: a Mesos-compatible master and agents, and a local cluster.",
)

Config = Annotated[Path | None, typer.Option("--config", help="TOML or JSON config file")]
LogLevel = Annotated[str, typer.Option("--log-level", help="debug, info, warning, error")]


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _fail(e: Exception) -> None:
    typer.echo(f"dcos-core: {e}", err=True)
    raise typer.Exit(2)


@app.command()
def master(
    ip: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 5050)")] = None,
    hostname: Annotated[str | None, typer.Option(help="name advertised to frameworks")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="registry and state directory")] = None,
    store: Annotated[str | None, typer.Option(help="registry store: sqlite or memory")] = None,
    allocation_interval: Annotated[
        float | None, typer.Option(help="seconds between batch allocations (1)")
    ] = None,
    offer_timeout: Annotated[float | None, typer.Option(help="rescind offers after N s")] = None,
    min_allocatable_resources: Annotated[
        str | None, typer.Option(help="offer only if one of these fits, e.g. 'cpus:0.01|mem:32'")
    ] = None,
    agent_ping_timeout: Annotated[float | None, typer.Option(help="agent heartbeat (15 s)")] = None,
    max_agent_ping_timeouts: Annotated[
        int | None, typer.Option(help="missed heartbeats before an agent is unreachable (5)")
    ] = None,
    agent_reregister_timeout: Annotated[
        float | None,
        typer.Option(help="after a master restart, seconds for agents to re-register (600)"),
    ] = None,
    heartbeat_interval: Annotated[
        float | None, typer.Option(help="seconds between HEARTBEAT events to frameworks (15)")
    ] = None,
    weights: Annotated[str | None, typer.Option(help="role weights, e.g. 'eng=2,ops=1'")] = None,
    seed: Annotated[int | None, typer.Option(help="allocator random seed")] = None,
    config: Config = None,
    log_level: LogLevel = "info",
) -> None:
    """Run a master (Mesos v1 scheduler and operator APIs on --port)."""
    from dcos_core.master.run import run_master

    flags = {k: v for k, v in locals().items() if k not in ("config", "log_level", "run_master")}
    try:
        settings = load_settings(MasterSettings, flags, config, "master")
    except DcosError as e:
        _fail(e)
    _logging(log_level)
    try:
        asyncio.run(run_master(settings))
    except DcosError as e:
        _fail(e)


@app.command()
def agent(
    master: Annotated[str | None, typer.Option(help="master host:port")] = None,
    ip: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 5051)")] = None,
    hostname: Annotated[str | None, typer.Option(help="name advertised to the master")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="sandboxes and state")] = None,
    resources: Annotated[
        str | None,
        typer.Option(
            help="override discovered resources, e.g. 'cpus:4;mem:8192;ports:[31000-32000]'"
        ),
    ] = None,
    attributes: Annotated[str | None, typer.Option(help="e.g. 'rack:r1;zone:a'")] = None,
    containerizers: Annotated[
        str | None, typer.Option(help="mesos (default), docker, posix, simulated; comma-separated")
    ] = None,
    isolation: Annotated[
        str | None,
        typer.Option(
            help="isolators, e.g. 'cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,"
            "filesystem/linux,disk/du,network/ports' (default: those where the host allows, "
            "else posix/cpu,posix/mem)"
        ),
    ] = None,
    cgroups_mount: Annotated[
        Path | None, typer.Option(help="where the cgroup hierarchies are (/sys/fs/cgroup)")
    ] = None,
    cgroups_root: Annotated[
        str | None, typer.Option(help="cgroup under which task cgroups live (dcos)")
    ] = None,
    cgroups_enable_cfs: Annotated[
        bool | None, typer.Option(help="hard CPU limits (CFS quota = 100 ms x cpus)")
    ] = None,
    cgroups_pids_limit: Annotated[
        int | None, typer.Option(help="max processes per task (4096; 0 = none)")
    ] = None,
    default_user: Annotated[
        str | None, typer.Option(help="user of tasks that name none, when root (nobody)")
    ] = None,
    image_dir: Annotated[
        Path | None, typer.Option(help="root filesystem images for MESOS containers")
    ] = None,
    container_disk_watch_interval: Annotated[
        float | None, typer.Option(help="disk/du check interval in s (15)")
    ] = None,
    enforce_container_disk_quota: Annotated[
        bool | None, typer.Option(help="fail tasks that outgrow their disk")
    ] = None,
    container_ports_watch_interval: Annotated[
        float | None, typer.Option(help="network/ports check interval in s (5)")
    ] = None,
    enforce_container_ports: Annotated[
        bool | None, typer.Option(help="fail tasks listening on ports they were not given")
    ] = None,
    docker_host: Annotated[
        str | None, typer.Option(help="Docker engine URL (unix:///var/run/docker.sock)")
    ] = None,
    recover: Annotated[
        str | None,
        typer.Option(help="reconnect (keep checkpointed tasks) or cleanup (kill all) at start"),
    ] = None,
    system_reserved_mem: Annotated[
        float | None, typer.Option(help="MB of memory kept for the host")
    ] = None,
    status_update_retry_min: Annotated[
        float | None, typer.Option(help="first status update retry after N s (10)")
    ] = None,
    status_update_retry_max: Annotated[
        float | None, typer.Option(help="retry interval cap (600)")
    ] = None,
    executor_shutdown_grace_period: Annotated[
        float | None, typer.Option(help="default kill grace period in s (3)")
    ] = None,
    config: Config = None,
    log_level: LogLevel = "info",
) -> None:
    """Run an agent that offers this machine's resources to a master."""
    from dcos_core.agent.run import run_agent

    flags = {k: v for k, v in locals().items() if k not in ("config", "log_level", "run_agent")}
    try:
        settings = load_settings(AgentSettings, flags, config, "agent")
    except DcosError as e:
        _fail(e)
    _logging(log_level)
    try:
        asyncio.run(run_agent(settings))
    except DcosError as e:
        _fail(e)


@app.command()
def local(
    agents: Annotated[int | None, typer.Option(help="number of agents (1)")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="state of the whole cluster")] = None,
    master_port: Annotated[int | None, typer.Option(help="master port (5050)")] = None,
    agent_port: Annotated[
        int | None, typer.Option(help="first agent port (5051); further agents take the next ports")
    ] = None,
    marathon_port: Annotated[int | None, typer.Option(help="Marathon port (8080)")] = None,
    chronos_port: Annotated[int | None, typer.Option(help="Chronos port (4400)")] = None,
    agent_resources: Annotated[
        str | None, typer.Option(help="resources of each agent (default: discovered)")
    ] = None,
    containerizers: Annotated[
        str | None, typer.Option(help="agents' containerizers (mesos)")
    ] = None,
    isolation: Annotated[str | None, typer.Option(help="agents' isolators")] = None,
    marathon: Annotated[bool | None, typer.Option(help="run Marathon too (default: yes)")] = None,
    chronos: Annotated[bool | None, typer.Option(help="run Chronos too (default: yes)")] = None,
    config: Config = None,
    log_level: LogLevel = "warning",
) -> None:
    """Run a whole cluster on 127.0.0.1: a master and N agents. Ctrl-C stops it."""
    from dcos_core.local import run_local

    flags = {k: v for k, v in locals().items() if k not in ("config", "log_level", "run_local")}
    try:
        settings = load_settings(LocalSettings, flags, config, "local")
    except DcosError as e:
        _fail(e)
    raise typer.Exit(run_local(settings, log_level))


@app.command()
def marathon(
    master: Annotated[str | None, typer.Option(help="master host:port")] = None,
    ip: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8080)")] = None,
    hostname: Annotated[str | None, typer.Option(help="name advertised to clients")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="Marathon's state")] = None,
    store: Annotated[str | None, typer.Option(help="sqlite (default) or memory")] = None,
    framework_name: Annotated[str | None, typer.Option(help="framework name (marathon)")] = None,
    role: Annotated[str | None, typer.Option(help="role of the framework (*)")] = None,
    user: Annotated[str | None, typer.Option(help="default user of tasks (root)")] = None,
    config: Config = None,
    log_level: LogLevel = "info",
) -> None:
    """Run Marathon: long-running services on the cluster (REST API v2 on port 8080)."""
    from dcos_core.frameworks.marathon.run import run_marathon
    from dcos_core.frameworks.marathon.settings import MarathonSettings

    flags = {
        k: v
        for k, v in locals().items()
        if k not in ("config", "log_level", "run_marathon", "MarathonSettings")
    }
    try:
        settings = load_settings(MarathonSettings, flags, config, "marathon")
    except DcosError as e:
        _fail(e)
    _logging(log_level)
    try:
        asyncio.run(run_marathon(settings))
    except DcosError as e:
        _fail(e)


@app.command()
def chronos(
    master: Annotated[str | None, typer.Option(help="master host:port")] = None,
    ip: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 4400)")] = None,
    hostname: Annotated[str | None, typer.Option(help="name advertised to clients")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="Chronos' state and run ledger")] = None,
    store: Annotated[str | None, typer.Option(help="sqlite (default) or memory")] = None,
    framework_name: Annotated[str | None, typer.Option(help="framework name (chronos)")] = None,
    role: Annotated[str | None, typer.Option(help="role of the framework (*)")] = None,
    user: Annotated[str | None, typer.Option(help="default user of jobs (root)")] = None,
    failure_retry_delay: Annotated[
        float | None, typer.Option(help="seconds before a failed job is retried (10)")
    ] = None,
    prelaunch: Annotated[
        float | None,
        typer.Option(
            help="launch runs of jobs without an image up to this many seconds early; the "
            "command still starts on time (15; 0 off)"
        ),
    ] = None,
    config: Config = None,
    log_level: LogLevel = "info",
) -> None:
    """Run Chronos: cron for the cluster (ISO 8601 schedules, dependencies; REST on 4400)."""
    from dcos_core.frameworks.chronos.run import run_chronos
    from dcos_core.frameworks.chronos.settings import ChronosSettings

    flags = {
        k: v
        for k, v in locals().items()
        if k not in ("config", "log_level", "run_chronos", "ChronosSettings")
    }
    try:
        settings = load_settings(ChronosSettings, flags, config, "chronos")
    except DcosError as e:
        _fail(e)
    _logging(log_level)
    try:
        asyncio.run(run_chronos(settings))
    except DcosError as e:
        _fail(e)


@app.command()
def lb(
    marathon: Annotated[
        str | None, typer.Option(help="Marathon URL (http://127.0.0.1:8080)")
    ] = None,
    groups: Annotated[
        str | None, typer.Option(help="HAPROXY_GROUPs served, comma-separated (external)")
    ] = None,
    bind_address: Annotated[
        str | None, typer.Option(help="address of the frontends (127.0.0.1; 0.0.0.0 for all)")
    ] = None,
    http_port: Annotated[int | None, typer.Option(help="port of the vhost frontend (80)")] = None,
    stats_port: Annotated[int | None, typer.Option(help="HAProxy stats port (9090; 0 off)")] = None,
    work_dir: Annotated[Path | None, typer.Option(help="config, pid file and sockets")] = None,
    haproxy: Annotated[str | None, typer.Option(help="the haproxy binary (haproxy)")] = None,
    config: Config = None,
    log_level: LogLevel = "info",
) -> None:
    """Load-balance Marathon's apps with HAProxy (like marathon-lb); reloads without drops."""
    from dcos_core.frameworks.lb.service import run_lb
    from dcos_core.frameworks.lb.settings import LbSettings

    flags = {
        k: v
        for k, v in locals().items()
        if k not in ("config", "log_level", "run_lb", "LbSettings")
    }
    try:
        settings = load_settings(LbSettings, flags, config, "lb")
    except DcosError as e:
        _fail(e)
    _logging(log_level)
    try:
        asyncio.run(_run_until_signal(run_lb(settings.marathon, settings)))
    except DcosError as e:
        _fail(e)


async def _run_until_signal(coro: Any) -> None:
    """Run `coro` until SIGTERM/SIGINT, then cancel it (its cleanup runs)."""
    import signal

    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
