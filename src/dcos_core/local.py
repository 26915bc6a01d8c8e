"""`dcos-core local`: a master and N agents on 127.0.0.1 as child processes.

Each daemon is its own process (as in production), so one can crash or be killed without the
others. What makes several local clusters (and the tests) safe side by side on one machine:

* every agent gets its own cgroup root, `dcos-local/<cluster>/agent-<i>`, where `<cluster>` is
  derived from the work dir: an agent destroys unknown containers under its root at start, so
  roots are never shared, within a cluster or between clusters;
* agents of one cluster offer disjoint slices of the task port range (all listen on 127.0.0.1);
* every port is checked before anything starts: a port in use is one line and exit 1, never a
  "cluster is up" that talks to somebody else's master.

The children run in their own process group, so a terminal's Ctrl-C (SIGINT to the foreground
group) reaches `local` alone, which then stops them in order: the frameworks, the agents (with
SIGUSR1, so that they kill every task, checkpointed or not), then the master, all within 10 s; a
child that does not stop in time is killed. SIGTERM and SIGHUP do the same; should `local`
itself be killed (SIGKILL), the children get SIGTERM (SIGUSR1 for agents) from the kernel.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from dcos_core.agent.probe import DEFAULT_PORTS
from dcos_core.config import LocalSettings
from dcos_core.containerizer.cgroups import destroy_root
from dcos_core.errors import ConfigError, InvalidError
from dcos_core.resources import RangeList, Resources, format_ranges

STOP_DEADLINE = 8.0
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class AgentPlan:
    """How agent `index` of a local cluster is started."""

    index: int
    port: int
    work_dir: Path
    cgroups_root: str
    resources: str  # the --resources flag: at least this agent's own slice of the ports


def cluster_id(work_dir: Path) -> str:
    """A short id of the cluster in `work_dir` (stable across restarts, distinct per dir)."""
    return hashlib.sha256(str(work_dir.resolve()).encode()).hexdigest()[:10]


def split_ranges(ranges: RangeList, n: int) -> list[RangeList]:
    """`ranges` cut into `n` disjoint parts of (nearly) equal size, in order.

    Example:
        >>> split_ranges(((31000, 31999),), 3)
        [((31000, 31333),), ((31334, 31666),), ((31667, 31999),)]
    """
    total = sum(hi - lo + 1 for lo, hi in ranges)
    if n < 1:
        return []
    if total < n:
        raise ConfigError(f"{n} agents need at least {n} task ports, the range has {total}")
    out: list[RangeList] = []
    pairs = list(ranges)
    for i in range(n):
        want = total // n + (1 if i < total % n else 0)
        part: list[tuple[int, int]] = []
        while want:
            lo, hi = pairs[0]
            take = min(want, hi - lo + 1)
            part.append((lo, lo + take - 1))
            want -= take
            if lo + take > hi:
                pairs.pop(0)
            else:
                pairs[0] = (lo + take, hi)
        out.append(tuple(part))
    return out


def plan_agents(settings: LocalSettings, work: Path) -> list[AgentPlan]:
    """Each agent's port, work dir, cgroup root and resources (with its own task ports)."""
    given = Resources.parse(settings.agent_resources) if settings.agent_resources else None
    ports = given.ranges("ports") if given is not None and "ports" in given.names() else None
    slices = split_ranges(
        ports or Resources.parse(f"ports:{DEFAULT_PORTS}").ranges("ports"), settings.agents
    )
    cid = cluster_id(work)
    plans = []
    for i, mine in enumerate(slices):
        own = f"ports:{format_ranges(mine)}"
        if given is not None:
            rest = str(given.filter(lambda k, _v: k[0] != "ports"))
            resources = f"{rest};{own}" if rest else own
        else:
            resources = own  # the agent detects cpus, mem and disk itself
        plans.append(
            AgentPlan(
                index=i,
                port=settings.agent_port + i,
                work_dir=work / f"agent-{i}",
                cgroups_root=f"dcos-local/{cid}/agent-{i}",
                resources=resources,
            )
        )
    return plans


def port_problems(ports: dict[str, int], host: str = "127.0.0.1") -> list[str]:
    """One line per port that is given twice or that something on `host` already listens on."""
    problems = []
    owner: dict[int, str] = {}
    for what, port in ports.items():
        if port in owner:
            problems.append(f"port {port} is given to both {owner[port]} and {what}")
            continue
        owner[port] = what
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # as the daemons bind: connections of a cluster just stopped (TIME_WAIT) are no
            # obstacle, a listening socket is
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as e:
                problems.append(
                    f"port {port} of {what} is not free on {host} ({e.strerror}): stop what "
                    "listens there (another local cluster?) or choose another port"
                )
    return problems


def last_line(log: Path) -> str:
    """The last non-empty line of a daemon's log (its one-line reason when it fails)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return next((ln.strip() for ln in reversed(lines) if ln.strip()), "")


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def failure(self) -> str:
        why = last_line(self.log)
        return f"{self.name} exited with {self.proc.returncode}" + (f": {why}" if why else "")


_PR_SET_PDEATHSIG = 1


def _on_parent_death(sig: int) -> Callable[[], None]:
    """A `preexec_fn`: the child gets `sig` when `local` dies, even by SIGKILL (Linux)."""
    parent = os.getpid()

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # `local` died before the prctl took effect
            os.kill(os.getpid(), sig)

    return arm


def _spawn(name: str, args: list[str], log: Path, on_parent_death: int) -> _Child:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dcos_core", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            process_group=0,  # a terminal's Ctrl-C goes to `local` only, which stops us in order
            preexec_fn=_on_parent_death(on_parent_death),  # safe: no thread runs yet
        )
    return _Child(name, proc, log)


def _stop(children: list[_Child], deadline: float, sig: int = signal.SIGTERM) -> None:
    for c in children:
        if c.proc.poll() is None:
            c.proc.send_signal(sig)
    for c in children:
        try:
            c.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.proc.wait()


def run_local(settings: LocalSettings, log_level: str = "warning") -> int:
    """Start the cluster, print its URLs when ready, wait for a signal. Returns an exit code."""
    console = Console(stderr=False)
    errors = Console(stderr=True, soft_wrap=True)
    work = settings.work_dir.resolve()
    master_addr = f"127.0.0.1:{settings.master_port}"
    try:
        agents_plan = plan_agents(settings, work)
    except InvalidError as e:  # a bad --agent-resources, too few ports
        errors.print(f"[red]dcos-core local: {e}[/red]")
        return 2
    ports = {"the master (--master-port)": settings.master_port}
    ports |= {f"agent {a.index} (--agent-port)": a.port for a in agents_plan}
    if settings.marathon:
        ports["Marathon (--marathon-port)"] = settings.marathon_port
    if settings.chronos:
        ports["Chronos (--chronos-port)"] = settings.chronos_port
    problems = port_problems(ports)
    if problems:
        for p in problems:
            errors.print(f"[red]dcos-core local: {p}[/red]")
        return 1
    work.mkdir(parents=True, exist_ok=True)
    stop_requested = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    common = ["--log-level", log_level]
    master = _spawn(
        "the master",
        [
            "master",
            "--ip",
            "127.0.0.1",
            "--port",
            str(settings.master_port),
            "--work-dir",
            str(work / "master"),
            *common,
        ],
        work / "master.log",
        signal.SIGTERM,
    )
    agents: list[_Child] = []
    for a in agents_plan:
        args = ["agent", "--master", master_addr, "--ip", "127.0.0.1", "--port", str(a.port)]
        args += ["--work-dir", str(a.work_dir), "--containerizers", settings.containerizers]
        args += ["--cgroups-root", a.cgroups_root, "--resources", a.resources, *common]
        if settings.isolation:
            args += ["--isolation", settings.isolation]
        log = work / f"agent-{a.index}.log"
        agents.append(_spawn(f"agent {a.index}", args, log, signal.SIGUSR1))  # kill its tasks
    frameworks: list[_Child] = []
    ready_urls = []
    for name, enabled, port in (
        ("marathon", settings.marathon, settings.marathon_port),
        ("chronos", settings.chronos, settings.chronos_port),
    ):
        if enabled:
            args = [name, "--master", master_addr, "--port", str(port)]
            args += ["--work-dir", str(work / name), *common]
            log = work / f"{name}.log"
            frameworks.append(_spawn(name.capitalize(), args, log, signal.SIGTERM))
            ready_urls.append(f"http://127.0.0.1:{port}/ping")
    children = [master, *agents, *frameworks]
    code = 0
    try:
        with console.status(f"starting a master and {settings.agents} agent(s)..."):
            failed = _wait_ready(
                master_addr, settings.agents, children, lambda: stop_requested, ready_urls
            )
        if failed is not None:
            if not stop_requested:
                errors.print(f"[red]dcos-core local: cluster did not start: {failed}[/red]")
                errors.print(f"[red]the logs are in {work}[/red]")
                code = 1
        else:
            console.print(f"[green]dcos-core local cluster is up[/green] (work dir {work})")
            console.print(f"  master   http://{master_addr}  (Mesos v1 API, /master/state)")
            for a in agents_plan:
                console.print(f"  agent {a.index}  http://127.0.0.1:{a.port}  ({a.resources})")
            if settings.marathon:
                console.print(
                    f"  marathon http://127.0.0.1:{settings.marathon_port}  (REST API v2: /v2/apps)"
                )
            if settings.chronos:
                console.print(
                    f"  chronos  http://127.0.0.1:{settings.chronos_port}  (/v1/scheduler/jobs)"
                )
            console.print("Press Ctrl-C to stop.")
            console.file.flush()  # seen at once through a pipe (`| tee`, a supervisor's log)
            while not stop_requested:
                if master.proc.poll() is not None:
                    errors.print(f"[red]dcos-core local: {master.failure()}[/red]")
                    code = 1
                    break
                time.sleep(0.2)
    finally:
        deadline = time.monotonic() + STOP_DEADLINE
        _stop(frameworks, deadline - 4)
        _stop(agents, deadline, signal.SIGUSR1)
        _stop([master], deadline + 1.5)
        for a in agents_plan:  # what an agent killed for being late left behind, and the roots
            destroy_root(a.cgroups_root)
    return code


def _wait_ready(
    master: str,
    agents: int,
    children: list[_Child],
    stopping: Callable[[], bool],
    also: list[str] | None = None,
) -> str | None:
    """None once the master lists `agents` agents and every URL of `also` answers 200;
    otherwise why not (a child that exited, with the last line of its log, or a timeout)."""
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if stopping():
                return "stopped"
            dead = next((c for c in children if c.proc.poll() is not None), None)
            if dead is not None:
                return dead.failure()
            try:
                r = http.get(f"http://{master}/master/slaves")
                registered = r.status_code == 200 and len(r.json()["slaves"]) >= agents
                if registered and all(http.get(u).status_code == 200 for u in also or []):
                    return None
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    return f"not ready after {START_TIMEOUT:.0f} s"


if os.name != "posix":  # pragma: no cover
    raise ImportError("dcos-core local needs a POSIX system")
