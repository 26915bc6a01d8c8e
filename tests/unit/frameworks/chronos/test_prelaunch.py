"""The prelaunch prologue, run by real shells: the command starts at its time, never early."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from dcos_core.frameworks.chronos.prelaunch import wrap

SHELLS = [s for s in ("/bin/sh", "/bin/dash", "/bin/bash") if os.path.exists(s)]


def _run(script: str, shell: str = "/bin/sh", env: dict[str, str] | None = None) -> tuple[int, str]:
    p = subprocess.run(
        [shell, "-c", script], capture_output=True, text=True, timeout=10, env=env, check=False
    )
    return p.returncode, p.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_command_starts_at_its_time_not_before(shell: str) -> None:
    start = round(time.time() + 0.4, 3)
    rc, out = _run(
        wrap(
            'date +%s.%N; echo "[$__dcos_t$__dcos_ms]"', shell=True, arguments=None, start_at=start
        ),
        shell,
    )
    started = float(out.split()[0])
    assert rc == 0
    assert start <= started < start + 0.15, started - start
    assert out.split()[1] == "[]"  # the prologue's variables are gone


def test_argv_is_quoted_and_exit_code_kept() -> None:
    start = time.time() + 0.1
    argv = ["/bin/sh", "-c", 'echo "$1 $2"; exit 3', "x", "a b", "c'd"]
    rc, out = _run(wrap(argv[0], shell=False, arguments=argv, start_at=start))
    assert (rc, out) == (3, "a b c'd\n")


def test_a_time_in_the_past_runs_at_once() -> None:
    t0 = time.monotonic()
    rc, out = _run(wrap("echo now", shell=True, arguments=None, start_at=time.time() - 30))
    assert (rc, out) == (0, "now\n")
    assert time.monotonic() - t0 < 0.5


def _fake_bin(tmp: Path, name: str, script: str) -> None:
    p = tmp / name
    p.write_text("#!/bin/sh\n" + script)
    p.chmod(0o755)


def test_without_nanosecond_date_it_rounds_the_wait_up(tmp_path: Path) -> None:
    """busybox `date` has no %N: whole seconds, never early."""
    real_date = shutil.which("date")
    _fake_bin(
        tmp_path, "date", f'case "$1" in +%s%N) {real_date} +%sN;; *) {real_date} "$@";; esac\n'
    )
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    start = round(time.time() + 0.3, 3)
    rc, out = _run(wrap(f"{real_date} +%s.%N", shell=True, arguments=None, start_at=start), env=env)
    started = float(out)
    assert rc == 0
    assert start <= started < start + 1.2, started - start


def test_a_sleep_without_fractions_falls_back_to_whole_seconds(tmp_path: Path) -> None:
    real_sleep = shutil.which("sleep")
    _fake_bin(tmp_path, "sleep", f'case "$1" in *.*) exit 1;; esac; exec {real_sleep} "$1"\n')
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    start = round(time.time() + 0.3, 3)
    rc, out = _run(wrap("date +%s.%N", shell=True, arguments=None, start_at=start), env=env)
    started = float(out)
    assert rc == 0
    assert start <= started < start + 1.2, started - start
