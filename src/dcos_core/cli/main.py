"""`dcos`: the operator's command line for a dcos-core cluster (typer commands, rich output).

All HTTP goes through `dcos_core.cli.client.DcosClient`; what the user typed is turned into ids
by `dcos_core.cli.resolve` (ids, prefixes, names), tables are laid out by `dcos_core.cli.render`
(they fit the terminal: ids shorten, text folds). This module only parses arguments and prints.
Errors become `dcos: <message>` on stderr with exit code 1 (never a traceback); bad arguments
get typer's usage message and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Final

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer._completion_shared import get_completion_script
from typer.core import TyperGroup

from dcos_core import MESOS_COMPAT_VERSION, __version__
from dcos_core.cli.client import DEFAULT_MASTER, CliError, DcosClient, NotFound
from dcos_core.cli.models import (
    Framework,
    JsonObject,
    Node,
    QuotaConfig,
    Role,
    Task,
    all_tasks,
    frameworks,
    nodes,
    short_state,
    task_state,
)
from dcos_core.cli.render import Col, Output, render
from dcos_core.cli.resolve import (
    parse_resources,
    resolve_agent,
    resolve_framework,
    resolve_or_keep,
    resolve_task,
)
from dcos_core.model.task import TaskState

# ----------------------------------------------------------------------------------------------
# plumbing: the client of the invocation, errors, output


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


def _terminal_width() -> int | None:
    """Columns to fit tables in: the terminal's (or `COLUMNS`); None when stdout is not a
    terminal and `COLUMNS` is unset (pipes get whole lines, so ids never wrap)."""
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return None
    return Console(file=sys.stdout).width


def _table(
    columns: Sequence[Col],
    rows: Sequence[Sequence[str]],
    output: Output = Output.table,
    title: str | None = None,
) -> None:
    """Print a table: fitted to the terminal (`table`) or whole (`wide`)."""
    width = None if output == Output.wide else _terminal_width()
    typer.echo(render(columns, rows, width, title, color=sys.stdout.isatty()))


def _show(renderable: Any) -> None:
    """Print a rich renderable on stdout, without the trailing blanks of padded cells."""
    console = Console(file=sys.stdout, width=_terminal_width() or 250, highlight=False)
    with console.capture() as captured:
        console.print(renderable)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _resources_text(res: dict[str, float]) -> str:
    return ",".join(f"{k}={_num(v)}" for k, v in sorted(res.items())) or "-"


_STATE_STYLES: Final[dict[TaskState | None, str]] = {
    TaskState.RUNNING: "green",
    TaskState.FINISHED: "dim",
    TaskState.FAILED: "red",
    TaskState.ERROR: "red",
    TaskState.LOST: "red",
    TaskState.KILLED: "yellow",
    TaskState.UNREACHABLE: "magenta",
    TaskState.STAGING: "cyan",
    TaskState.STARTING: "cyan",
}


def _state_style(state: str) -> str:
    """The style of a state cell, whole (`TASK_RUNNING`) or as tables show it (`RUNNING`)."""
    return _STATE_STYLES.get(task_state(state), "")


def _status_style(status: str) -> str:
    if status in ("yes", "active"):
        return "green"
    return "dim" if status == "completed" else "yellow"


JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the raw JSON instead of a table (= -o json).")
]
OutputOpt = Annotated[
    Output,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="table (fits the terminal), wide (every column, whole ids) or json.",
    ),
]


def _output(output: Output, as_json: bool) -> Output:
    return Output.json if as_json else output


# ----------------------------------------------------------------------------------------------
# shell completion of ids and names (asks the master; silent when it cannot)


def _complete(
    ctx: typer.Context, incomplete: str, words: Callable[[JsonObject], list[tuple[str, str]]]
) -> list[tuple[str, str]]:
    master = os.environ.get("DCOS_URL", DEFAULT_MASTER)
    root = ctx.find_root()
    if isinstance(root.params.get("master"), str):
        master = root.params["master"]
    try:
        with DcosClient(master, timeout=2.0) as client:
            state = client.state()
    except (CliError, httpx.HTTPError, OSError):
        return []
    seen: dict[str, str] = {}
    for word, help_ in words(state):
        if word and word.startswith(incomplete) and word not in seen:
            seen[word] = help_
    return sorted(seen.items())


def _complete_task(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    def words(state: JsonObject) -> list[tuple[str, str]]:
        tasks = all_tasks(state)
        return [(t.id, f"{t.name} {t.state}") for t in tasks] + [
            (t.name, "task name") for t in tasks
        ]

    return _complete(ctx, incomplete, words)


def _complete_agent(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    def words(state: JsonObject) -> list[tuple[str, str]]:
        return [(n.id, f"{n.hostname}:{n.port}") for n in nodes(state)] + [
            (n.hostname, "hostname") for n in nodes(state)
        ]

    return _complete(ctx, incomplete, words)


def _complete_framework(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    def words(state: JsonObject) -> list[tuple[str, str]]:
        fws = frameworks(state)
        return [(f.id, f.name) for f in fws] + [(f.name, "framework name") for f in fws]

    return _complete(ctx, incomplete, words)


# ----------------------------------------------------------------------------------------------
# the app


app = typer.Typer(
    cls=_DcosGroup,
    name="dcos",
    help="Operate a dcos-core cluster: nodes, tasks, frameworks, roles and quota.",
    no_args_is_help=True,
    add_completion=True,
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


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("completion")
def completion(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.", case_sensitive=False)],
) -> None:
    """Print the shell completion script (commands, options, and ids and names from the master).

    bash: `eval "$(dcos completion bash)"` (or save it under
    /etc/bash_completion.d/dcos); zsh: `dcos completion zsh > "${fpath[1]}/_dcos"`;
    fish: `dcos completion fish > ~/.config/fish/completions/dcos.fish`.
    """
    typer.echo(get_completion_script(prog_name="dcos", complete_var="_DCOS_COMPLETE", shell=shell))


# ----------------------------------------------------------------------------------------------
# cluster


@cluster_app.command("state")
def cluster_state(
    ctx: typer.Context, as_json: JsonOpt = False, output: OutputOpt = Output.table
) -> None:
    """Summary: master, version, agents, frameworks, tasks by state, resources."""
    client = _client(ctx)
    if _output(output, as_json) == Output.json:
        _print_json(client.state())
        return
    s = client.summary()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
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
        ", ".join(f"{n} {short_state(st).lower()}" for st, n in s.tasks_by_state.items()) or "none"
    )
    grid.add_row("tasks", tasks)
    grid.add_row("cpus", f"{_used(s.cpus)} used ({_pct(s.cpus)})")
    grid.add_row("mem", f"{_used(s.mem)} MiB used ({_pct(s.mem)})")
    grid.add_row("disk", f"{_used(s.disk)} MiB used ({_pct(s.disk)})")
    _show(grid)


# ----------------------------------------------------------------------------------------------
# node


@node_app.command("list")
def node_list(
    ctx: typer.Context, as_json: JsonOpt = False, output: OutputOpt = Output.table
) -> None:
    """The agents: address, status, resources used/total, running tasks."""
    client = _client(ctx)
    out = _output(output, as_json)
    if out == Output.json:
        _print_json(client.slaves()["slaves"])
        return
    agents: list[Node] = nodes(client.state())
    if not agents:
        typer.echo("no agents are registered")
        return
    columns = [
        Col("ID", kind="short_id"),
        Col("ADDRESS", fold=True),
        Col("ACTIVE", style=lambda v: _status_style(v.split()[0])),
        Col("CPUS", kind="num"),
        Col("MEM (MiB)", kind="num"),
        Col("DISK (MiB)", kind="num"),
        Col("TASKS", kind="num"),
    ]
    rows = [
        [
            n.id,
            f"{n.hostname}:{n.port}",
            "yes" if n.status == "active" else f"no ({n.status})",
            _used(n.cpus),
            _used(n.mem),
            _used(n.disk),
            str(n.tasks),
        ]
        for n in sorted(agents, key=lambda n: (n.hostname, n.port))
    ]
    _table(columns, rows, out)


AgentRef = Annotated[
    str,
    typer.Argument(
        help="The agent: its id, hostname, host:port, an id prefix or the id's end (S0).",
        autocompletion=_complete_agent,
    ),
]


def _resolved_id(
    ctx: typer.Context, ref: str, resolve: Callable[[JsonObject, str], Node | Framework]
) -> str:
    """The id of the agent or framework `ref` names (`ref` itself when none: the master says so)."""
    client = _client(ctx)
    return resolve_or_keep(lambda: resolve(client.state(), ref), ref, lambda found: found.id)


def _agent_id(ctx: typer.Context, ref: str) -> str:
    return _resolved_id(ctx, ref, resolve_agent)


@node_app.command("deactivate")
def node_deactivate(ctx: typer.Context, agent: AgentRef) -> None:
    """Stop offering the agent's resources (its tasks keep running)."""
    agent_id = _agent_id(ctx, agent)
    _client(ctx).deactivate_agent(agent_id)
    typer.echo(f"agent {agent_id} deactivated: no new offers; its tasks keep running")


@node_app.command("reactivate")
def node_reactivate(ctx: typer.Context, agent: AgentRef) -> None:
    """Offer the agent's resources again (after deactivate or drain)."""
    agent_id = _agent_id(ctx, agent)
    _client(ctx).reactivate_agent(agent_id)
    typer.echo(f"agent {agent_id} reactivated")


@node_app.command("drain")
def node_drain(
    ctx: typer.Context,
    agent: AgentRef,
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
    agent_id = _agent_id(ctx, agent)
    _client(ctx).drain_agent(agent_id, max_grace_period, mark_gone)
    typer.echo(f"agent {agent_id} is draining: no new offers, its tasks are being killed")


@node_app.command("decommission")
def node_decommission(ctx: typer.Context, agent: AgentRef) -> None:
    """Mark the agent gone for good (MARK_AGENT_GONE): its tasks end TASK_GONE_BY_OPERATOR and
    it may never register again. For a machine that was removed or will be wiped."""
    agent_id = _agent_id(ctx, agent)
    _client(ctx).mark_agent_gone(agent_id)
    typer.echo(f"agent {agent_id} has been marked as gone: its tasks are gone, it cannot return")


# ----------------------------------------------------------------------------------------------
# task


def _task_columns(wide: bool, universe: Sequence[str] = ()) -> list[Col]:
    state = Col("STATE", kind="state", style=_state_style)
    if not wide:
        return [
            Col("ID", kind="task_id", universe=universe),
            Col("NAME", fold=True),
            state,
            Col("FRAMEWORK", kind="short_id"),
            Col("AGENT", kind="short_id"),
            Col("MESSAGE", fold=True),
        ]
    return [
        Col("ID"),
        Col("NAME"),
        state,
        Col("FRAMEWORK"),
        Col("FRAMEWORK NAME"),
        Col("AGENT"),
        Col("HOST"),
        Col("CPUS", kind="num"),
        Col("MEM (MiB)", kind="num"),
        Col("SOURCE"),
        Col("REASON"),
        Col("MESSAGE"),
    ]


def _task_row(t: Task, wide: bool, fw_names: dict[str, str], hosts: dict[str, str]) -> list[str]:
    if not wide:
        return [t.id, t.name, t.state, t.framework_id, t.agent_id, t.why]
    return [
        t.id,
        t.name,
        t.state,
        t.framework_id,
        fw_names.get(t.framework_id, ""),
        t.agent_id,
        hosts.get(t.agent_id, ""),
        _num(t.cpus),
        _num(t.mem),
        t.source.removeprefix("SOURCE_"),
        t.reason,
        t.message,
    ]


@task_app.command("list")
def task_list(
    ctx: typer.Context,
    include_all: Annotated[
        bool, typer.Option("--all", "-a", help="Include completed tasks.")
    ] = False,
    framework: Annotated[
        str | None,
        typer.Option(
            "--framework",
            metavar="FRAMEWORK",
            help="Only the tasks of this framework (id, name or id prefix).",
            autocompletion=_complete_framework,
        ),
    ] = None,
    as_json: JsonOpt = False,
    output: OutputOpt = Output.table,
) -> None:
    """Tasks (running and unreachable; completed too with --all), with the message and reason
    of each task's last status update (why it failed or was killed)."""
    state = _client(ctx).state()
    tasks: list[Task] = all_tasks(state, include_completed=include_all)
    if framework is not None:
        fid = resolve_or_keep(
            lambda: resolve_framework(state, framework, include_completed=True),
            framework,
            lambda f: f.id,
        )
        tasks = [t for t in tasks if t.framework_id == fid]
    out = _output(output, as_json)
    if out == Output.json:
        _print_json([t.raw for t in tasks])
        return
    if not tasks:
        typer.echo("no tasks" + ("" if include_all else " (--all shows completed tasks)"))
        return
    wide = out == Output.wide
    fw_names = {f.id: f.name for f in frameworks(state, include_completed=True)}
    hosts = {n.id: f"{n.hostname}:{n.port}" for n in nodes(state)}
    rows = [_task_row(t, wide, fw_names, hosts) for t in tasks]
    every_id = [t.id for t in all_tasks(state)]  # a shortened id must name one task of all
    _table(_task_columns(wide, every_id), rows, out)


@task_app.command("log")
def task_log(
    ctx: typer.Context,
    task: Annotated[
        str,
        typer.Argument(
            help="The task: its id, an id prefix, its name or its Marathon app id (web, /web).",
            autocompletion=_complete_task,
        ),
    ],
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
    state = client.state()
    found = resolve_task(state, task)
    box_ = client.sandbox(found, state)
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
                done = client.find_task(found.id).terminal
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


# ----------------------------------------------------------------------------------------------
# framework


def _framework_status(f: Framework) -> str:
    if f.completed:
        return "completed"
    if f.active:
        return "active"
    return "inactive" if f.connected else "disconnected"


@framework_app.command("list")
def framework_list(
    ctx: typer.Context,
    include_all: Annotated[
        bool, typer.Option("--all", "-a", help="Include completed (torn down) frameworks.")
    ] = False,
    as_json: JsonOpt = False,
    output: OutputOpt = Output.table,
) -> None:
    """Frameworks: roles, state, running tasks, resources used."""
    fws = frameworks(_client(ctx).state(), include_completed=include_all)
    out = _output(output, as_json)
    if out == Output.json:
        _print_json([f.raw for f in fws])
        return
    if not fws:
        typer.echo("no frameworks are registered")
        return
    wide = out == Output.wide
    columns = [
        Col("ID", kind="short_id"),
        Col("NAME", fold=True),
        Col("ROLES", fold=True),
        Col("STATE", style=_status_style),
        Col("TASKS", kind="num"),
        Col("CPUS", kind="num"),
        Col("MEM (MiB)", kind="num"),
    ]
    if wide:
        columns += [Col("HOSTNAME"), Col("WEB UI")]
    rows = []
    for f in fws:
        row = [
            f.id,
            f.name,
            ",".join(f.roles),
            _framework_status(f),
            str(f.tasks),
            _num(f.cpus),
            _num(f.mem),
        ]
        if wide:
            row += [str(f.raw.get("hostname") or ""), str(f.raw.get("webui_url") or "")]
        rows.append(row)
    _table(columns, rows, out)


FrameworkRef = Annotated[
    str,
    typer.Argument(
        help="The framework: its id, its name (marathon), an id prefix or the id's end (0000).",
        autocompletion=_complete_framework,
    ),
]


def _framework_id(ctx: typer.Context, ref: str) -> str:
    return _resolved_id(ctx, ref, resolve_framework)


@framework_app.command("teardown")
def framework_teardown(ctx: typer.Context, framework: FrameworkRef) -> None:
    """Remove a framework and kill all its tasks."""
    framework_id = _framework_id(ctx, framework)
    _client(ctx).teardown(framework_id)
    typer.echo(f"framework {framework_id} torn down")


_REASONS = {
    "NO_AGENTS": "no agent is registered and active",
    "NO_AGENT_FITS": "nothing is free on the agents (used by tasks or offered to others)",
    "INACTIVE": "the framework is inactive (disconnected)",
    "SUPPRESSED": "the framework suppressed offers for the role",
    "INSUFFICIENT_RESOURCES": "too little is left on the agents for its tasks (it declined it)",
    "FILTERED": "it declined whole unused agents (its refuse filters hide them)",
    "QUOTA_LIMIT": "the role reached its quota limit",
    "QUOTA_HEADROOM": "free resources are held back for other roles' quota guarantees",
    "MIN_ALLOCATABLE": "what is left is below the minimum allocatable resources",
    "RESERVED_FOR_OTHER_ROLE": "free resources are reserved for other roles",
    "LOWER_SHARE_FIRST": "roles or frameworks with a lower share took the free resources first",
}


def _ago(at: Any) -> str:
    if not isinstance(at, int | float) or at <= 0:
        return "-"
    secs = max(0.0, time.time() - float(at))
    return f"{secs:.0f}s ago" if secs < 120 else f"{secs / 60:.0f}m ago"


def _allocation_interval(state: JsonObject) -> float:
    """The master's `--allocation-interval` from its flags (`"1.0secs"`), 1 s if unknown."""
    text = str((state.get("flags") or {}).get("allocation_interval", "1")).removesuffix("secs")
    try:
        return max(0.05, float(text))
    except ValueError:
        return 1.0


def _free_text(free: Any) -> str:
    if not isinstance(free, dict):
        return "-"
    parts = [
        f"{name} {_num(float(free[name]))}"
        for name in ("cpus", "mem", "disk", "gpus")
        if isinstance(free.get(name), int | float)
    ]
    return ", ".join(parts) or "nothing"


@framework_app.command("why")
def framework_why(
    ctx: typer.Context,
    framework: FrameworkRef,
    as_json: JsonOpt = False,
    output: OutputOpt = Output.table,
) -> None:
    """Why the framework got no offers in the last allocation cycle: per role the reason that
    blocks it, and per agent what blocks it there (what is free, what it declined)."""
    client = _client(ctx)
    state = client.state()
    try:
        fw: Framework | None = resolve_framework(state, framework)
    except NotFound:
        fw = None  # the master says it in its own words
    framework_id = fw.id if fw is not None else framework
    why = client.allocation(framework_id)
    out = _output(output, as_json)
    if out == Output.json:
        _print_json(why)
        return
    label = f"{framework_id} ({fw.name})" if fw is not None and fw.name else framework_id
    roles: dict[str, Any] = why.get("roles") or {}
    # A framework that declines what it is offered (Marathon waiting for room) gets offers every
    # other cycle: look at the next cycles too before saying nothing holds it back.
    deadline = time.monotonic() + min(3.0, 2 * _allocation_interval(state) + 0.2)
    while not roles and time.monotonic() < deadline:
        time.sleep(0.2)
        why = client.allocation(framework_id)
        roles = why.get("roles") or {}
    if not roles:
        held = len(fw.raw.get("offers") or []) if fw is not None else 0
        typer.echo(
            f"framework {label}: nothing held it back in the last allocation cycle "
            + (
                f"(it holds {held} offer(s) now; if it declines them, the next cycle says why)"
                if held
                else "(it got offers, or there was nothing to offer)"
            )
        )
        return
    columns = [
        Col("ROLE"),
        Col("REASON", style=lambda _v: "yellow"),
        Col("EXPLANATION", fold=True),
        Col("DETAIL", fold=True),
        Col("SINCE"),
    ]
    rows = [
        [
            role,
            str(r.get("reason", "")),
            _REASONS.get(str(r.get("reason", "")), ""),
            str(r.get("detail") or ""),
            _ago(r.get("at")),
        ]
        for role, r in sorted(roles.items())
    ]
    _table(columns, rows, out, title=f"framework {label} got no offers for:")
    agent_columns = [
        Col("ROLE"),
        Col("AGENT", kind="short_id"),
        Col("ADDRESS"),
        Col("REASON", style=lambda _v: "yellow"),
        Col("FREE", fold=True),
        Col("DETAIL", fold=True),
    ]
    agent_rows = [
        [
            role,
            str(a.get("agent_id", "")),
            str(a.get("address") or a.get("hostname") or ""),
            str(a.get("reason", "")),
            _free_text(a.get("free")),
            str(a.get("detail") or ""),
        ]
        for role, r in sorted(roles.items())
        for a in (r.get("agents") or [])
        if isinstance(a, dict)
    ]
    if agent_rows:
        typer.echo("")
        _table(agent_columns, agent_rows, out, title="per agent:")


# ----------------------------------------------------------------------------------------------
# role and quota


@role_app.command("list")
def role_list(
    ctx: typer.Context, as_json: JsonOpt = False, output: OutputOpt = Output.table
) -> None:
    """Roles: weight, frameworks, allocated resources, quota."""
    raw = _client(ctx).get_roles()
    out = _output(output, as_json)
    if out == Output.json:
        _print_json(raw)
        return
    roles = [Role.from_v1(r) for r in raw]
    if not roles:
        typer.echo("no roles")
        return
    columns = [
        Col("ROLE", fold=True),
        Col("WEIGHT", kind="num"),
        Col("FRAMEWORKS", kind="num"),
        Col("ALLOC CPUS", kind="num"),
        Col("ALLOC MEM (MiB)", kind="num"),
        Col("GUARANTEE", fold=True),
        Col("LIMIT", fold=True),
    ]
    rows = [
        [
            r.name,
            _num(r.weight),
            str(r.frameworks),
            _num(r.cpus),
            _num(r.mem),
            _resources_text(r.quota.guarantees) if r.quota else "-",
            _resources_text(r.quota.limits) if r.quota else "-",
        ]
        for r in roles
    ]
    _table(columns, rows, out)


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
def quota_list(
    ctx: typer.Context, as_json: JsonOpt = False, output: OutputOpt = Output.table
) -> None:
    """Quota configured per role."""
    client = _client(ctx)
    raw = client.get_quota()
    out = _output(output, as_json)
    if out == Output.json:
        _print_json(raw)
        return
    configs = [QuotaConfig.from_v1(c) for c in raw]
    if not configs:
        typer.echo("no quota is set")
        return
    allocated = {r.name: r for r in (Role.from_v1(x) for x in client.get_roles())}
    columns = [
        Col("ROLE", fold=True),
        Col("GUARANTEE", fold=True),
        Col("LIMIT", fold=True),
        Col("ALLOC CPUS", kind="num"),
        Col("ALLOC MEM (MiB)", kind="num"),
    ]
    rows = []
    for q in configs:
        r = allocated.get(q.role)
        rows.append(
            [
                q.role,
                _resources_text(q.guarantees),
                _resources_text(q.limits),
                _num(r.cpus) if r else "0",
                _num(r.mem) if r else "0",
            ]
        )
    _table(columns, rows, out)


def main() -> None:
    """The `dcos` console script."""
    app(prog_name="dcos")


if __name__ == "__main__":
    main()
