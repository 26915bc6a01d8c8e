"""What this host offers: resources discovered with psutil, `--resources` and `--attributes`.

The parsers and `agent_resources` are pure; `probe_host` is the only function doing I/O.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import psutil

from dcos_core.errors import InvalidError
from dcos_core.resources import Resources

DEFAULT_PORTS: Final = "[31000-32000]"
_MB: Final = 1024 * 1024


@dataclass(frozen=True)
class HostFacts:
    """Raw numbers read from the host."""

    cpus: int
    mem_total_mb: float
    disk_free_mb: float


def probe_host(work_dir: Path) -> HostFacts:
    """Read logical CPUs, total memory and free disk of `work_dir`'s filesystem (or its parent)."""
    path = work_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    return HostFacts(
        cpus=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        mem_total_mb=psutil.virtual_memory().total / _MB,
        disk_free_mb=psutil.disk_usage(str(path)).free / _MB,
    )


def agent_resources(
    facts: HostFacts, system_reserved_mem: float, override: str | None = None
) -> Resources:
    """The agent's total resources: detected values, replaced by name by `override`.

    As in Mesos, a name given in `--resources` (in any role) replaces the detected value of that
    name entirely: `cpus(ops):2` alone means two CPUs, all reserved for `ops`. Write
    `cpus:6;cpus(ops):2` to keep unreserved CPUs too.

    Example:
        >>> r = agent_resources(HostFacts(4, 8192, 1000), 1024, "cpus(ops):2;gpus:1")
        >>> str(r)
        'cpus(ops):2;gpus:1;mem:7168;disk:1000;ports:[31000-32000]'
    """
    mem = max(0.0, facts.mem_total_mb - system_reserved_mem)
    detected = Resources.parse(
        f"cpus:{facts.cpus};mem:{math.floor(mem)};disk:{math.floor(facts.disk_free_mb)};"
        f"ports:{DEFAULT_PORTS}"
    )
    if not override:
        return detected
    given = Resources.parse(override)
    names = given.names()
    return detected.filter(lambda k, _v: k[0] not in names) + given


_NAME: Final = re.compile(r"[A-Za-z0-9_./\-]+")
_RANGE: Final = re.compile(r"(\d+)\s*-\s*(\d+)")


def parse_attributes(text: str | None) -> list[dict[str, Any]]:
    """Parse `--attributes` (`rack:r1;zone:a;weight:2.5;ids:[1-5];tags:{a,b}`) to v1 Attributes.

    A value that is a number becomes SCALAR, `[b-e,...]` RANGES, `{a,b}` SET, anything else TEXT
    (Mesos rules). Every problem is reported at once.

    Example:
        >>> parse_attributes("rack:r1;weight:2.5")[1]
        {'name': 'weight', 'type': 'SCALAR', 'scalar': {'value': 2.5}}
    """
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        name, sep, raw = part.partition(":")
        name, raw = name.strip(), raw.strip()
        if not sep or not _NAME.fullmatch(name) or not raw:
            problems.append(f"'{part}' is not name:value")
            continue
        try:
            out.append(_attribute(name, raw))
        except InvalidError as e:
            problems.append(str(e))
    if problems:
        raise InvalidError("; ".join(problems), "attributes")
    return out


def _attribute(name: str, raw: str) -> dict[str, Any]:
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise InvalidError(f"ranges '{raw}' are missing ']'", name)
        ranges = []
        for chunk in filter(None, (c.strip() for c in raw[1:-1].split(","))):
            m = _RANGE.fullmatch(chunk)
            if not m or int(m.group(1)) > int(m.group(2)):
                raise InvalidError(f"cannot parse range '{chunk}'", name)
            ranges.append({"begin": int(m.group(1)), "end": int(m.group(2))})
        return {"name": name, "type": "RANGES", "ranges": {"range": ranges}}
    if raw.startswith("{"):
        if not raw.endswith("}"):
            raise InvalidError(f"set '{raw}' is missing '}}'", name)
        items = [s.strip() for s in raw[1:-1].split(",") if s.strip()]
        return {"name": name, "type": "SET", "set": {"item": items}}
    try:
        value = float(raw)
    except ValueError:
        return {"name": name, "type": "TEXT", "text": {"value": raw}}
    if not math.isfinite(value):
        return {"name": name, "type": "TEXT", "text": {"value": raw}}
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def attributes_v0(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """The flattened `/state` form: `{"rack": "r1", "weight": 2.5, "ids": "[1-5]"}`."""
    out: dict[str, Any] = {}
    for a in attributes:
        t = a.get("type")
        if t == "SCALAR":
            out[a["name"]] = a["scalar"]["value"]
        elif t == "RANGES":
            out[a["name"]] = (
                "[" + ", ".join(f"{r['begin']}-{r['end']}" for r in a["ranges"]["range"]) + "]"
            )
        elif t == "SET":
            out[a["name"]] = "{" + ",".join(a["set"]["item"]) + "}"
        else:
            out[a["name"]] = a.get("text", {}).get("value", "")
    return out
