"""Tables fit the terminal: ids shorten (uniquely), text folds, no column is dropped."""

from __future__ import annotations

from dcos_core.cli.render import Col, render, short_prefixes, short_suffix

M = "460aba2e-6706-49e1-a236-71d6c05ea473"
COLUMNS = [
    Col("ID", kind="task_id"),
    Col("NAME", fold=True),
    Col("STATE", kind="state"),
    Col("FRAMEWORK", kind="short_id"),
    Col("AGENT", kind="short_id"),
    Col("MESSAGE", fold=True),
]
ROWS = [
    [
        f"web.{i}f1c2a3b-6706-49e1-a236-71d6c05ea47{i}",
        "a-rather-long-application-name",
        "TASK_FAILED",
        f"{M}-0000",
        f"{M}-S{i}",
        "Command terminated with signal Killed (COMMAND_EXECUTOR_FAILED)",
    ]
    for i in range(3)
]


def test_narrow_tables_keep_every_column_and_fit() -> None:
    for width in (80, 120):
        out = render(COLUMNS, ROWS, width)
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= width, out
        assert lines[0].split() == ["ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "MESSAGE"]
        assert "…-S1" in out and "…-0000" in out
        assert "web.1f1c…" in out  # the shortest unique prefix (8 characters at least)
        assert "FAILED" in out
        assert "Killed" in out  # folded, not cut


def test_unlimited_width_prints_whole_ids_on_one_line() -> None:
    out = render(COLUMNS, ROWS, None)
    lines = out.splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert ROWS[2][0] in lines[4] and f"{M}-S2" in lines[4]
    assert "TASK_FAILED" in lines[4]


def test_short_forms_stay_unique() -> None:
    ids = ["abcdefgh-1", "abcdefgh-2", "x"]
    assert short_prefixes(ids) == {"abcdefgh-1": "abcdefgh-1", "abcdefgh-2": "abcdefgh-2", "x": "x"}
    many = [f"web.{n:04d}-0000-0000" for n in range(20)]
    short = short_prefixes(many)
    assert len(set(short.values())) == 20
    assert short_suffix(f"{M}-S12") == "…-S12" and short_suffix("plain") == "plain"


def test_short_task_ids_are_unique_among_every_task_given() -> None:
    """A shortened id of a running task must not also start a completed task's id."""
    col = Col("ID", kind="task_id", universe=["web.1f1c2a3b-0000-completed"])
    out = render([col], [[ROWS[1][0]]], 20)
    assert out.splitlines()[2] == "web.1f1c2a3b-6…"
