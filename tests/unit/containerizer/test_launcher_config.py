"""Pure parts of the per-container launcher: config checks, JSON, arguments, paths in a rootfs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcos_core.containerizer import launcher as L


def config(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"container_id": "c1", "argv": ["true"], "env": {"PATH": "/bin"}}
    raw.update(overrides)
    return raw


def test_minimal_config() -> None:
    cfg = L.Config(config())
    assert cfg.argv == ["true"]
    assert cfg.namespaces == set()
    assert cfg.user is None
    assert cfg.mounts == []
    assert cfg.overlay is None


def test_full_config() -> None:
    cfg = L.Config(
        config(
            user={"uid": 65534, "gid": 65534, "groups": [65534, 100]},
            namespaces=["pid", "mount", "uts", "ipc"],
            rootfs_overlay={"lower": "/img:a,b", "upper": "/u", "work": "/w", "merged": "/m"},
            mounts=[{"source": "/s", "target": "/t", "readonly": True}],
            cgroups=["/sys/fs/cgroup/pids/x"],
        )
    )
    assert cfg.user == (65534, 65534, [65534, 100])
    assert cfg.overlay == {"lower": "/img\\:a\\,b", "upper": "/u", "work": "/w", "merged": "/m"}
    assert cfg.mounts == [("/s", "/t", True)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"argv": []}, "argv"),
        ({"argv": "true"}, "argv"),
        ({"env": {"A": 1}}, "env"),
        ({"namespaces": ["net"]}, "namespaces"),
        ({"user": {"uid": "x"}}, "user"),
        ({"mounts": [{"source": "/a"}]}, "mount"),
        ({"namespaces": ["pid"], "rootfs": "/r"}, "mount namespace"),
        (
            {
                "namespaces": ["mount"],
                "rootfs": "/r",
                "rootfs_overlay": {"lower": "/l", "upper": "/u", "work": "/w", "merged": "/m"},
            },
            "exclusive",
        ),
        ({"namespaces": ["mount"], "rootfs_overlay": {"lower": "/l"}}, "upper"),
        ({"cwd": 3}, "cwd"),
    ],
)
def test_bad_configs(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(L.LaunchError, match=message):
        L.Config(config(**overrides))


def test_json_round_trip() -> None:
    text = ' {"a": [1, 2.5, null, true, "\\u00e9\\n"], "b": {"c": -3}} \n'
    assert L.json_loads(text) == json.loads(text)
    for message in ({"pid": 12}, {"error": 'exec "x":\n\u00e9'}, {"exit_code": None, "signal": 9}):
        assert json.loads(L.json_dumps(message)) == message


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "[1,]", "{'a': 1}"])
def test_bad_json(text: str) -> None:
    with pytest.raises(ValueError):
        L.json_loads(text)


def test_parse_args() -> None:
    assert L.parse_args(["--config", "/c.json", "--report-fd", "5"]) == ("/c.json", 5)
    assert L.parse_args(["--config=/c.json", "--report-fd=7"]) == ("/c.json", 7)
    assert L.parse_args(["--config", "/c.json"]) == ("/c.json", -1)
    with pytest.raises(SystemExit):
        L.parse_args(["--report-fd", "5"])
    with pytest.raises(SystemExit):
        L.parse_args(["--bogus"])


def test_termination_of_wait_statuses() -> None:
    assert L.termination_of(3 << 8) == {"exit_code": 3, "signal": None}
    assert L.termination_of(9) == {"exit_code": None, "signal": 9}
    assert L.termination_of(None) == {"exit_code": None, "signal": None}


def test_resolve_in_root_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "abs").symlink_to("/real")
    (root / "rel").symlink_to("../../../real")
    (root / "host").symlink_to(str(tmp_path))
    (root / "loop").symlink_to("loop")
    r = str(root)
    assert L.resolve_in_root(r, "/") == r
    assert L.resolve_in_root(r, "/../../etc") == f"{r}/etc"
    assert L.resolve_in_root(r, "/abs/x") == f"{r}/real/x"
    assert L.resolve_in_root(r, "/rel/x") == f"{r}/real/x"
    assert L.resolve_in_root(r, "/host") == f"{r}{tmp_path}"
    assert L.resolve_in_root(r, "/missing/./a/../b") == f"{r}/missing/b"
    with pytest.raises(OSError):
        L.resolve_in_root(r, "/loop/x")


def test_launcher_imports_only_the_standard_library_and_few_modules() -> None:
    code = (
        "import sys; sys.argv = ['launcher.py']\n"
        f"exec(compile(open({L.__file__!r}).read(), 'launcher', 'exec'), {{'__name__': 'x'}})\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [m for m in out if m.startswith("dcos_core")]
    # the slow ones: json pulls in re, signal pulls in enum, typing is large
    for slow in ("re", "enum", "typing", "json", "argparse", "dataclasses", "subprocess"):
        assert slow not in out, slow
    assert os.path.basename(L.__file__) == "launcher.py"
