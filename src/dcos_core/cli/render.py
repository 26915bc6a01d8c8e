"""Tables that fit the terminal: ids are shortened and long text folds; no column is dropped.

`render(columns, rows, width)` lays a table out for `width` columns (None: as wide as the
content, for pipes). When the natural width does not fit, in order: task ids become their
shortest unique prefix (at least 8 characters) + `…`, agent and framework ids become `…-S0` /
`…-0000` (the CLI accepts both forms back), `TASK_` is dropped from states, and the text columns
(`fold=True`: names, messages, details) wrap. The shortened forms stay unique within the table.

Example:
    >>> cols = [Col("ID", kind="task_id"), Col("NAME", fold=True), Col("STATE", kind="state")]
    >>> rows = [["web.6f1c2a3b-0000-4000-8000-000000000001", "web", "TASK_RUNNING"]]
    >>> print(render(cols, rows, 30))
    ID          NAME   STATE
    ──────────────────────────
    web.6f1c…   web    RUNNING
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dcos_core.cli.models import short_state

ELLIPSIS: Final = "…"
SEPARATOR: Final = 3  # rich's SIMPLE_HEAD box without edges: " " + divider + " "
MIN_PREFIX: Final = 8
MIN_FOLD: Final = 10

Kind = Literal["text", "num", "task_id", "short_id", "state"]


class Output(StrEnum):
    """`-o` of the list commands."""

    table = "table"
    wide = "wide"
    json = "json"


@dataclass(frozen=True)
class Col:
    """A table column: `kind` says how it may be shortened; `fold` lets its text wrap."""

    header: str
    kind: Kind = "text"
    fold: bool = False
    style: Callable[[str], str] | None = None  # cell text -> rich style
    universe: Sequence[str] = ()  # task_id: short prefixes are unique among these ids too


def _width(cells: Sequence[str], header: str) -> int:
    return max([len(header), *(max((len(x) for x in c.splitlines()), default=0) for c in cells)])


def short_prefixes(
    ids: Sequence[str], minimum: int = MIN_PREFIX, universe: Sequence[str] = ()
) -> dict[str, str]:
    """Each id -> its shortest prefix (at least `minimum` long) that no other id (of `ids` or
    of `universe`) starts with, with `…` when it was cut.

    Example:
        >>> short_prefixes(["web.6f1c2a3b-0000", "web.6f1d0000-0000", "db"])
        {'web.6f1c2a3b-0000': 'web.6f1c…', 'web.6f1d0000-0000': 'web.6f1d…', 'db': 'db'}
    """
    unique = list(dict.fromkeys(ids))
    others = list(dict.fromkeys([*unique, *universe]))
    out: dict[str, str] = {}
    for i in unique:
        n = min(len(i), minimum)
        while n < len(i) and any(o != i and o.startswith(i[:n]) for o in others):
            n += 1
        out[i] = i if n >= len(i) - 1 else i[:n] + ELLIPSIS
    return out


def short_suffix(an_id: str) -> str:
    """`…-S0` for `<uuid>-S0` (agents), `…-0000` for frameworks; other ids stay as they are."""
    if "-" not in an_id:
        return an_id
    tail = an_id.rsplit("-", 1)[1]
    return ELLIPSIS + "-" + tail if len(an_id) > len(tail) + 2 else an_id


def _shortened(col: Col, cells: list[str]) -> list[str]:
    if col.kind == "task_id":
        short = short_prefixes(cells, universe=col.universe)
        return [short.get(c, c) for c in cells]
    if col.kind == "short_id":
        out = [short_suffix(c) for c in cells]
        # two ids ending alike (ids of two masters): keep them whole
        return out if len(set(out)) == len(set(cells)) else cells
    if col.kind == "state":
        return [short_state(c) for c in cells]
    return cells


def layout(
    columns: Sequence[Col], rows: Sequence[Sequence[str]], width: int | None
) -> list[list[str]]:
    """The cells of `rows`, shortened as far as needed (column by column) to fit `width`."""
    cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in columns]
    if width is None:
        return [list(r) for r in rows]

    def total() -> int:
        widths = [
            min(_width(c, col.header), MIN_FOLD) if col.fold else _width(c, col.header)
            for col, c in zip(columns, cols, strict=True)
        ]
        return sum(widths) + SEPARATOR * (len(columns) - 1)

    natural = sum(_width(c, col.header) for col, c in zip(columns, cols, strict=True))
    if natural + SEPARATOR * (len(columns) - 1) <= width:
        return [list(r) for r in rows]
    for kinds in (("task_id", "short_id"), ("state",)):
        for i, col in enumerate(columns):
            if col.kind in kinds:
                cols[i] = _shortened(col, cols[i])
        if total() <= width:
            break
    return [list(r) for r in zip(*cols, strict=True)] if rows else []


def render(
    columns: Sequence[Col],
    rows: Sequence[Sequence[str]],
    width: int | None,
    title: str | None = None,
    color: bool = False,
) -> str:
    """The table as text for a terminal of `width` columns (None: unlimited), lines stripped;
    with `color`, ANSI styles (a terminal)."""
    cells = layout(columns, rows, width)
    table = Table(
        box=box.SIMPLE_HEAD,
        title=title,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        header_style="bold",
    )
    for col in columns:
        table.add_column(
            col.header,
            justify="right" if col.kind == "num" else "left",
            no_wrap=not col.fold,
            overflow="fold",
            min_width=min(MIN_FOLD, len(col.header)) if col.fold else None,
        )
    for row in cells:
        table.add_row(
            *(
                Text(v, style=col.style(v) if col.style else "")
                for col, v in zip(columns, row, strict=True)
            )
        )
    natural = sum(
        _width([r[i] for r in cells], col.header) for i, col in enumerate(columns)
    ) + SEPARATOR * (len(columns) - 1)
    console = Console(
        width=width if width is not None else max(natural, len(title or ""), 20),
        highlight=False,
        soft_wrap=False,
        force_terminal=color,
        color_system="auto" if color else None,
    )
    with console.capture() as captured:
        console.print(table)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())
