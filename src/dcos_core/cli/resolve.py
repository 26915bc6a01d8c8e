"""What the user typed -> the task, agent or framework it names (pure: works on `/master/state`),
and resource amounts typed as `cpus=2,mem=1024` (`parse_resources`).

Every command that takes a task, agent or framework accepts, in this order:

1. the exact id;
2. a name: a task's name or its Marathon app id (`web`, `/web`, `/prod/web`), a framework's name
   (`marathon`), an agent's hostname or `host:port`;
3. a unique prefix of the id (`web.6f1c`; a trailing `…`, as tables print shortened ids, is
   ignored);
4. the end of an agent or framework id after its last `-` (`S0`, `-S0`, `…-S0`, `0000`), as
   narrow tables print them.

The first rule that matches anything decides. More than one match is an `Ambiguous` error that
lists the candidates (except for a task's name: when only one of the tasks of that name is still
live, as after restarts, that one is meant). Nothing matching is a `NotFound`.

Example:
    >>> state = {"frameworks": [{"id": "M-0000", "name": "marathon", "active": True}]}
    >>> resolve_framework(state, "marathon").id, resolve_framework(state, "0000").id
    ('M-0000', 'M-0000')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from dcos_core.cli.client import CliError, NotFound
from dcos_core.cli.models import Framework, JsonObject, Node, Task, all_tasks, frameworks, nodes

ELLIPSIS: Final = "…"
_SHOWN: Final = 10  # candidates listed in an ambiguity error

T = TypeVar("T")


class Ambiguous(CliError):
    """What the user typed names more than one task, agent or framework."""

    def __init__(self, kind: str, ref: str, rule: str, candidates: Sequence[str]) -> None:
        self.candidates = list(candidates)
        lines = [f"{kind} '{ref}' is ambiguous: it {rule} {len(candidates)} {kind}s:"]
        lines += [f"  {c}" for c in candidates[:_SHOWN]]
        if len(candidates) > _SHOWN:
            lines.append(f"  ... and {len(candidates) - _SHOWN} more")
        lines.append(f"give the full id (or a longer prefix) of the {kind} you mean")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class _Rule(Generic[T]):
    name: str  # "is the name of", "is a prefix of the ids of", ...
    matches: Callable[[T], bool]


def _clean(ref: str) -> str:
    return ref.strip().strip(ELLIPSIS).strip()


def _app_name(ref: str) -> str:
    """A Marathon app id as the name of its tasks: `/prod/web` -> `prod.web`."""
    return ref.strip().strip("/").replace("/", ".")


def _suffix_rule(ref: str, id_of: Callable[[T], str]) -> _Rule[T]:
    tail = ref.strip().lstrip(ELLIPSIS).lstrip("-")
    return _Rule(
        "ends",
        lambda x: bool(tail) and "-" in id_of(x) and id_of(x).rsplit("-", 1)[1] == tail,
    )


def _pick(
    kind: str,
    ref: str,
    items: Sequence[T],
    rules: Sequence[_Rule[T]],
    id_of: Callable[[T], str],
    describe: Callable[[T], str],
    prefer: Callable[[list[T]], T | None] = lambda _xs: None,
) -> T:
    for rule in rules:
        found = [x for x in items if rule.matches(x)]
        if not found:
            continue
        ids = list(dict.fromkeys(id_of(x) for x in found))
        if len(ids) == 1:
            return found[-1]
        chosen = prefer(found) if rule.name == "name" else None
        if chosen is not None:
            return chosen
        described = [describe(next(x for x in reversed(found) if id_of(x) == i)) for i in ids]
        raise Ambiguous(kind, ref, _rule_text(rule.name), described)
    raise NotFound(f"{kind} {ref} is not known to the master")


def _rule_text(name: str) -> str:
    return {
        "id": "is the id of",
        "name": "names",
        "prefix": "is a prefix of the ids of",
        "ends": "ends the ids of",
    }.get(name, "matches")


# ----------------------------------------------------------------------------------------------
# tasks


def _task_prefer(found: list[Task]) -> Task | None:
    """Among tasks of one name, the only live one (restarts leave the others completed); None
    if there is no such single task."""
    live = list(dict.fromkeys(t.id for t in found if not t.terminal))
    if len(live) == 1:
        return next(t for t in reversed(found) if t.id == live[0] and not t.terminal)
    return None


def _describe_task(t: Task) -> str:
    return f"{t.id}  ({t.name}, {t.state})"


def resolve_task(state: JsonObject, ref: str) -> Task:
    """The task `ref` names among the live and completed tasks of `/master/state`.

    Example:
        >>> st = {"frameworks": [{"tasks": [{"id": "web.6f1c", "name": "web",
        ...                                  "state": "TASK_RUNNING"}]}]}
        >>> resolve_task(st, "/web").id, resolve_task(st, "web.6f").id
        ('web.6f1c', 'web.6f1c')
    """
    tasks = all_tasks(state)
    prefix = _clean(ref)
    app = _app_name(ref)
    rules: list[_Rule[Task]] = [
        _Rule("id", lambda t: t.id == ref.strip()),
        _Rule("name", lambda t: t.name == ref.strip() or (bool(app) and t.name == app)),
        _Rule("prefix", lambda t: bool(prefix) and t.id.startswith(prefix)),
    ]
    return _pick("task", ref, tasks, rules, lambda t: t.id, _describe_task, _task_prefer)


# ----------------------------------------------------------------------------------------------
# agents


def _describe_node(n: Node) -> str:
    return f"{n.id}  ({n.hostname}:{n.port})"


def resolve_agent(state: JsonObject, ref: str) -> Node:
    """The agent `ref` names: id, hostname, `host:port`, id prefix or the id's end (`S0`)."""
    want = ref.strip()
    prefix = _clean(ref)
    rules: list[_Rule[Node]] = [
        _Rule("id", lambda n: n.id == want),
        _Rule(
            "name",
            lambda n: want in (n.hostname, f"{n.hostname}:{n.port}", n.address),
        ),
        _Rule("prefix", lambda n: bool(prefix) and n.id.startswith(prefix)),
        _suffix_rule(ref, lambda n: n.id),
    ]
    return _pick("agent", ref, nodes(state), rules, lambda n: n.id, _describe_node)


# ----------------------------------------------------------------------------------------------
# frameworks


def _describe_framework(f: Framework) -> str:
    status = "completed" if f.completed else ("active" if f.active else "inactive")
    return f"{f.id}  ({f.name}, {status})"


def resolve_framework(state: JsonObject, ref: str, include_completed: bool = False) -> Framework:
    """The framework `ref` names: id, name, id prefix or the id's end (`0000`).

    Live frameworks are looked at first; completed ones (torn down) only if `include_completed`
    and no live one matches.
    """
    want = ref.strip()
    prefix = _clean(ref)
    rules: list[_Rule[Framework]] = [
        _Rule("id", lambda f: f.id == want),
        _Rule("name", lambda f: f.name == want),
        _Rule("prefix", lambda f: bool(prefix) and f.id.startswith(prefix)),
        _suffix_rule(ref, lambda f: f.id),
    ]
    live = frameworks(state)
    pools = [live]
    if include_completed:
        done = [f for f in frameworks(state, include_completed=True) if f.completed]
        pools = [live, done]
        exact = [f for f in live + done if f.id == want]
        if exact:
            return exact[0]
    for i, pool in enumerate(pools):
        try:
            return _pick("framework", ref, pool, rules, lambda f: f.id, _describe_framework)
        except NotFound:
            if i == len(pools) - 1:
                raise
    raise NotFound(f"framework {ref} is not known to the master")  # pragma: no cover


def resolve_or_keep(resolve: Callable[[], T], ref: str, id_of: Callable[[T], str]) -> str:
    """The id `ref` resolves to; `ref` itself if nothing matches (the server then says so in its
    own words). An ambiguous `ref` is an error."""
    try:
        return id_of(resolve())
    except NotFound:
        return ref


def parse_resources(text: str) -> dict[str, float]:
    """`cpus=2,mem=1024` as `{"cpus": 2.0, "mem": 1024.0}`; `ValueError` on anything else.

    Example:
        >>> parse_resources("cpus=2, mem=1024")
        {'cpus': 2.0, 'mem': 1024.0}
    """
    out: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"expected NAME=VALUE, got {part!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"{name}: {value.strip()!r} is not a number") from None
    return out
