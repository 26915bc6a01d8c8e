"""`dcos`: the operator's command line for a dcos-core cluster (typer commands, rich output).

All HTTP goes through `dcos_core.cli.client.DcosClient`; this module only parses arguments and
prints. Errors become `dcos: <message>` on stderr with exit code 1 (never a traceback); bad
arguments get typer's usage message and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from dcos_core import MESOS_COMPAT_VERSION, __version__
from dcos_core.cli.client import (
    DEFAULT_MASTER,
    CliError,
    DcosClient,
    Node,
    QuotaConfig,
    Role,
    Task,
    all_tasks,
    frameworks,
    nodes,
    parse_resources,
)

# ----------------------------------------------------------------------------------------------
# plumbing: consoles, the client of the invocation, errors


def _console(stderr: bool = False) -> Console:
    """A console on the current stdout/stderr; wide when not a terminal so ids never wrap."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = 250
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def _fail(message: str) -> None:
    typer.echo(f"dcos: {message}", err=True)


class _DcosGroup(TyperGroup):
    """The root command: `CliError` anywhere below becomes `dcos: <message>` and exit code 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as e:
            _fail(str(e))
            raise typer.Exit(1) from None


@dataclass
class _Session:
    master: str
    _client: DcosClient | None = field(default=None, repr=False)

    @property
    def client(self) -> DcosClient:
        if self._client is None:
            self._client = DcosClient(self.master)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _client(ctx: typer.Context) -> DcosClient:
    session = ctx.find_object(_Session)
    if session is None:  # a sub-app invoked on its own (tests): use the environment
        session = _Session(os.environ.get("DCOS_URL", DEFAULT_MASTER))
        ctx.obj = session
        ctx.call_on_close(session.close)
    return session.client


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def _used(pair: tuple[float, float]) -> str:
    used, total = pair
    return f"{_num(used)}/{_num(total)}"


def _pct(pair: tuple[float, float]) -> str:
    used, total = pair
    return f"{100 * used / total:.0f}%" if total else "-"


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        title=title,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        header_style="bold",
    )
    for col in columns:
        numeric = bool(set(col.split()) & _NUMERIC)
        table.add_column(col, justify="right" if numeric else "left", no_wrap=True)
    return table


_NUMERIC = {"CPUS", "MEM", "DISK", "TASKS", "WEIGHT", "FRAMEWORKS"}


def _show(renderable: Any) -> None:
    """Print a rich renderable on stdout, without the trailing blanks of padded cells."""
    console = _console()
    with console.capture() as captured:
        console.print(renderable)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _resources_text(res: dict[str, float]) -> str:
    return ",".join(f"{k}={_num(v)}" for k, v in sorted(res.items())) or "-"


def _state_style(state: str) -> str:
    return {
        "TASK_RUNNING": "green",
        "TASK_FINISHED": "dim",
        "TASK_FAILED": "red",
        "TASK_ERROR": "red",
        "TASK_LOST": "red",
        "TASK_KILLED": "yellow",
        "TASK_UNREACHABLE": "magenta",
        "TASK_STAGING": "cyan",
        "TASK_STARTING": "cyan",
    }.get(state, "")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON instead of a table.")]


# ----------------------------------------------------------------------------------------------
# the app


app = typer.Typer(
    cls=_DcosGroup,
    name="dcos",
    help="Operate a dcos-core cluster: nodes, tasks, frameworks, roles and quota.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
cluster_app = typer.Typer(help="The cluster as a whole.", no_args_is_help=True)
node_app = typer.Typer(help="Agents: list, deactivate, reactivate, drain.", no_args_is_help=True)
task_app = typer.Typer(help="Tasks: list, read their sandbox logs.", no_args_is_help=True)
framework_app = typer.Typer(
    help="Frameworks: list, tear down, explain offers.", no_args_is_help=True
)
role_app = typer.Typer(help="Roles and their weights.", no_args_is_help=True)
quota_app = typer.Typer(help="Quota: guarantees and limits per role.", no_args_is_help=True)
for _sub, _name in (
    (cluster_app, "cluster"),
    (node_app, "node"),
    (task_app, "task"),
    (framework_app, "framework"),
    (role_app, "role"),
    (quota_app, "quota"),
):
    app.add_typer(_sub, name=_name)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dcos {__version__} (dcos-core, Mesos API {MESOS_COMPAT_VERSION})")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    master: Annotated[
        str,
        typer.Option(
            "--master",
            envvar="DCOS_URL",
            metavar="URL",
            show_default=True,
            help="The master's URL (or set DCOS_URL).",
        ),
    ] = DEFAULT_MASTER,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    session = _Session(master)
    ctx.obj = session
    ctx.call_on_close(session.close)


# ----------------------------------------------------------------------------------------------
# cluster


@cluster_app.command("state")
def cluster_state(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Summary: master, version, agents, frameworks, tasks by state, resources."""
    client = _client(ctx)
    if as_json:
        _print_json(client.state())
        return
    s = client.summary()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("master", f"{s.master_id}  ({s.leader})")
    grid.add_row("url", client.master_url)
    grid.add_row("version", f"{s.version} (dcos-core {s.dcos_core_version})")
    grid.add_row(
        "agents",
        f"{s.agents_active} active, {s.agents_inactive} inactive, "
        f"{s.agents_unreachable} unreachable",
    )
    grid.add_row(
        "frameworks",
        f"{s.frameworks_active} active, {s.frameworks_inactive} inactive, "
        f"{s.frameworks_completed} completed",
    )
    tasks = Text(
        ", ".join(f"{n} {st.removeprefix('TASK_').lower()}" for st, n in s.tasks_by_state.items())
        or "none"
    )
    grid.add_row("tasks", tasks)
    grid.add_row("cpus", f"{_used(s.cpus)} used ({_pct(s.cpus)})")
    grid.add_row("mem", f"{_used(s.mem)} MiB used ({_pct(s.mem)})")
    grid.add_row("disk", f"{_used(s.disk)} MiB used ({_pct(s.disk)})")
    _show(grid)


# ----------------------------------------------------------------------------------------------
# node


@node_app.command("list")
def node_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The agents: address, status, resources used/total, running tasks."""
    client = _client(ctx)
    if as_json:
        _print_json(client.slaves()["slaves"])
        return
    agents: list[Node] = nodes(client.state())
    table = _table("ID", "ADDRESS", "ACTIVE", "CPUS", "MEM (MiB)", "DISK (MiB)", "TASKS")
    for n in sorted(agents, key=lambda n: (n.hostname, n.port)):
        status = (
            Text("yes", style="green")
            if n.status == "active"
            else Text(f"no ({n.status})", style="yellow")
        )
        table.add_row(
            n.id,
            f"{n.hostname}:{n.port}",
            status,
            _used(n.cpus),
            _used(n.mem),
            _used(n.disk),
            str(n.tasks),
        )
    _show(table if agents else "no agents are registered")


AgentId = Annotated[str, typer.Argument(help="The agent's id (node list).")]


@node_app.command("deactivate")
def node_deactivate(ctx: typer.Context, agent_id: AgentId) -> None:
    """Stop offering the agent's resources (its tasks keep running)."""
    _client(ctx).deactivate_agent(agent_id)
    typer.echo(f"agent {agent_id} deactivated: no new offers; its tasks keep running")


@node_app.command("reactivate")
def node_reactivate(ctx: typer.Context, agent_id: AgentId) -> None:
    """Offer the agent's resources again (after deactivate or drain)."""
    _client(ctx).reactivate_agent(agent_id)
    typer.echo(f"agent {agent_id} reactivated")


@node_app.command("drain")
def node_drain(
    ctx: typer.Context,
    agent_id: AgentId,
    max_grace_period: Annotated[
        float | None,
        typer.Option(
            "--max-grace-period",
            metavar="SECONDS",
            min=0,
            help="Longest kill grace period given to the agent's tasks.",
        ),
    ] = None,
    mark_gone: Annotated[
        bool, typer.Option("--mark-gone", help="Mark the agent gone once drained.")
    ] = False,
) -> None:
    """Deactivate the agent and kill its tasks (frameworks reschedule them elsewhere)."""
    _client(ctx).drain_agent(agent_id, max_grace_period, mark_gone)
    typer.echo(f"agent {agent_id} is draining: no new offers, its tasks are being killed")


# ----------------------------------------------------------------------------------------------
# task


@task_app.command("list")
def task_list(
    ctx: typer.Context,
    include_all: Annotated[
        bool, typer.Option("--all", "-a", help="Include completed tasks.")
    ] = False,
    framework: Annotated[
        str | None,
        typer.Option("--framework", metavar="ID", help="Only the tasks of this framework."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Tasks (running and unreachable; completed too with --all)."""
    tasks: list[Task] = all_tasks(_client(ctx).state(), include_completed=include_all)
    if framework is not None:
        tasks = [t for t in tasks if t.framework_id == framework]
    if as_json:
        _print_json([t.raw for t in tasks])
        return
    table = _table("ID", "NAME", "FRAMEWORK", "AGENT", "STATE")
    for t in tasks:
        table.add_row(
            t.id, t.name, t.framework_id, t.agent_id, Text(t.state, style=_state_style(t.state))
        )
    _show(
        table if tasks else "no tasks" + ("" if include_all else " (--all shows completed tasks)")
    )


@task_app.command("log")
def task_log(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(help="The task's id (task list).")],
    stderr: Annotated[bool, typer.Option("--stderr", help="Read stderr, not stdout.")] = False,
    lines: Annotated[
        int | None, typer.Option("--lines", "-n", metavar="N", min=0, help="Only the last N lines.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output until the task ends.")
    ] = False,
) -> None:
    """Print a task's stdout (or stderr) from its sandbox on the agent."""
    client = _client(ctx)
    box_ = client.sandbox(task_id)
    path = f"{box_.directory}/{'stderr' if stderr else 'stdout'}"
    text, offset = client.tail(box_.agent_url, path, lines)
    typer.echo(text, nl=False)
    if not follow:
        return
    try:
        done = box_.task.terminal
        while True:
            size = client.file_size(box_.agent_url, path)
            if size > offset:
                typer.echo(client.read_range(box_.agent_url, path, offset, size), nl=False)
                offset = size
            elif done:
                return
            else:
                time.sleep(0.5)
                done = client.find_task(task_id).terminal
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


# ----------------------------------------------------------------------------------------------
# framework


@framework_app.command("list")
def framework_list(
    ctx: typer.Context,
    include_all: Annotated[
        bool, typer.Option("--all", "-a", help="Include completed (torn down) frameworks.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Frameworks: roles, state, running tasks, resources used."""
    fws = frameworks(_client(ctx).state(), include_completed=include_all)
    if as_json:
        _print_json([f.raw for f in fws])
        return
    table = _table("ID", "NAME", "ROLES", "STATE", "TASKS", "CPUS", "MEM (MiB)")
    for f in fws:
        if f.completed:
            status = Text("completed", style="dim")
        elif f.active:
            status = Text("active", style="green")
        else:
            status = Text("inactive" if f.connected else "disconnected", style="yellow")
        table.add_row(
            f.id, f.name, ",".join(f.roles), status, str(f.tasks), _num(f.cpus), _num(f.mem)
        )
    _show(table if fws else "no frameworks are registered")


@framework_app.command("teardown")
def framework_teardown(
    ctx: typer.Context,
    framework_id: Annotated[str, typer.Argument(help="The framework's id (framework list).")],
) -> None:
    """Remove a framework and kill all its tasks."""
    _client(ctx).teardown(framework_id)
    typer.echo(f"framework {framework_id} torn down")


_REASONS = {
    "NO_AGENTS": "no agent is registered and active",
    "NO_AGENT_FITS": "no agent had unallocated resources for the role",
    "INACTIVE": "the framework is inactive (disconnected)",
    "SUPPRESSED": "the framework suppressed offers for the role",
    "FILTERED": "its refuse filters (declines) hide the agents with resources",
    "QUOTA_LIMIT": "the role reached its quota limit",
    "QUOTA_HEADROOM": "free resources are held back for other roles' quota guarantees",
    "MIN_ALLOCATABLE": "what is left is below the minimum allocatable resources",
    "RESERVED_FOR_OTHER_ROLE": "free resources are reserved for other roles",
}


def _ago(at: Any) -> str:
    if not isinstance(at, int | float) or at <= 0:
        return "-"
    secs = max(0.0, time.time() - float(at))
    return f"{secs:.0f}s ago" if secs < 120 else f"{secs / 60:.0f}m ago"


@framework_app.command("why")
def framework_why(
    ctx: typer.Context,
    framework_id: Annotated[str, typer.Argument(help="The framework's id (framework list).")],
    as_json: JsonOpt = False,
) -> None:
    """Why the framework got no offers in the last allocation cycle, per role."""
    why = _client(ctx).allocation(framework_id)
    if as_json:
        _print_json(why)
        return
    roles: dict[str, Any] = why.get("roles") or {}
    if not roles:
        typer.echo(
            f"framework {framework_id}: nothing held it back in the last allocation "
            "cycle (it got offers, or there was nothing to offer)"
        )
        return
    table = _table(
        "ROLE",
        "REASON",
        "EXPLANATION",
        "DETAIL",
        "SINCE",
        title=f"framework {framework_id} got no offers for:",
    )
    for role, r in sorted(roles.items()):
        reason = str(r.get("reason", ""))
        table.add_row(
            role,
            Text(reason, style="yellow"),
            _REASONS.get(reason, ""),
            str(r.get("detail") or ""),
            _ago(r.get("at")),
        )
    _show(table)


# ----------------------------------------------------------------------------------------------
# role and quota


@role_app.command("list")
def role_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Roles: weight, frameworks, allocated resources, quota."""
    raw = _client(ctx).get_roles()
    if as_json:
        _print_json(raw)
        return
    roles = [Role.from_v1(r) for r in raw]
    table = _table(
        "ROLE", "WEIGHT", "FRAMEWORKS", "ALLOC CPUS", "ALLOC MEM (MiB)", "GUARANTEE", "LIMIT"
    )
    for r in roles:
        table.add_row(
            r.name,
            _num(r.weight),
            str(r.frameworks),
            _num(r.cpus),
            _num(r.mem),
            _resources_text(r.quota.guarantees) if r.quota else "-",
            _resources_text(r.quota.limits) if r.quota else "-",
        )
    _show(table if roles else "no roles")


@role_app.command("weight")
def role_weight(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="A role name.")],
    weight: Annotated[float, typer.Argument(help="A positive number.")],
) -> None:
    """Set the weight of a role (its fair share grows with it)."""
    _client(ctx).update_weight(role, weight)
    typer.echo(f"weight of role {role} set to {_num(weight)}")


def _resources_option(value: str | None) -> dict[str, float] | None:
    if value is None:
        return None
    try:
        return parse_resources(value)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


@quota_app.command("set")
def quota_set(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="A role name.")],
    guarantee: Annotated[
        str | None,
        typer.Option(
            "--guarantee",
            "-g",
            metavar="NAME=VALUE,...",
            help="Resources guaranteed to the role, e.g. cpus=2,mem=1024.",
        ),
    ] = None,
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit",
            "-l",
            metavar="NAME=VALUE,...",
            help="Most the role may consume, e.g. cpus=4.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Set limits even below what the role consumes now.")
    ] = False,
) -> None:
    """Set the quota of a role (replaces its guarantees and limits)."""
    guarantees = _resources_option(guarantee) or {}
    limits = _resources_option(limit)
    if not guarantees and not limits:
        raise typer.BadParameter("give --guarantee and/or --limit (or use: dcos quota remove)")
    _client(ctx).update_quota(role, guarantees, limits, force)
    typer.echo(
        f"quota of role {role}: guarantee {_resources_text(guarantees)}, "
        f"limit {_resources_text(limits or {})}"
    )


@quota_app.command("remove")
def quota_remove(
    ctx: typer.Context, role: Annotated[str, typer.Argument(help="A role name.")]
) -> None:
    """Remove the quota of a role."""
    _client(ctx).update_quota(role, {}, None)
    typer.echo(f"quota of role {role} removed")


@quota_app.command("list")
def quota_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Quota configured per role."""
    client = _client(ctx)
    raw = client.get_quota()
    if as_json:
        _print_json(raw)
        return
    configs = [QuotaConfig.from_v1(c) for c in raw]
    allocated = {r.name: r for r in (Role.from_v1(x) for x in client.get_roles())}
    table = _table("ROLE", "GUARANTEE", "LIMIT", "ALLOC CPUS", "ALLOC MEM (MiB)")
    for q in configs:
        r = allocated.get(q.role)
        table.add_row(
            q.role,
            _resources_text(q.guarantees),
            _resources_text(q.limits),
            _num(r.cpus) if r else "0",
            _num(r.mem) if r else "0",
        )
    _show(table if configs else "no quota is set")


def main() -> None:
    """The `dcos` console script."""
    app(prog_name="dcos")


if __name__ == "__main__":
    main()
