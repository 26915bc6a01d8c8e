"""Prelaunch: launch a run's task ahead of its time, and start its command at its time.

Launching a task costs the master, the agent and the host some tens of milliseconds of CPU:
1,000 jobs due in the same second would start seconds late on a small cluster, and a cold start
on a busy agent is late too. For a job that runs on the agent's host (no container image),
Chronos launches the task up to `lead` seconds before the scheduled time, with a short POSIX sh
prologue in front of the command that sleeps until the scheduled time by the agent's clock and
then runs the command, unchanged, in the same shell. Jobs with a container image are launched at
their time (the image need not have a shell, GNU `date` or a fractional `sleep`).

The prologue never starts a command early: without nanosecond `date` (busybox) it rounds the
wait up to whole seconds, and a `sleep` that rejects fractions falls back to whole seconds,
rounded up. Its variables are unset before the command runs.
"""

from __future__ import annotations

import shlex
from typing import Final

# `{start_ns}` is the scheduled time in nanoseconds since the epoch. dash and bash both do
# 64-bit arithmetic; `printf` is a builtin of both.
_PROLOGUE: Final = (
    "__dcos_t=$(date +%s%N 2>/dev/null); "
    "case $__dcos_t in ''|*[!0-9]*) __dcos_t=$(( $(date +%s) * 1000000000 ));; esac; "
    "__dcos_ms=$(( ({start_ns} - __dcos_t + 999999) / 1000000 )); "
    'if [ "$__dcos_ms" -gt 0 ]; then '
    'sleep "$((__dcos_ms / 1000)).$(printf %03d $((__dcos_ms % 1000)))" 2>/dev/null '
    '|| sleep "$((__dcos_ms / 1000 + 1))"; fi; '
    "unset __dcos_t __dcos_ms\n"
)


def wrap(command: str, *, shell: bool, arguments: list[str] | None, start_at: float) -> str:
    """The shell command that waits until `start_at` (epoch seconds), then runs the job.

    A shell command follows the prologue as it is; an argv (``shell: false``) is run with
    ``exec`` and each word quoted.

    Example:
        >>> print(wrap("echo hi", shell=True, arguments=None, start_at=1.5).splitlines()[-1])
        echo hi
        >>> argv = ["/bin/echo", "a b"]
        >>> print(wrap("/bin/echo", shell=False, arguments=argv, start_at=1).splitlines()[-1])
        exec /bin/echo 'a b'
    """
    body = command if shell else "exec " + shlex.join(arguments or [command])
    # Whole milliseconds (the ledger's precision), in integers: no float rounding can make it early.
    return _PROLOGUE.format(start_ns=round(start_at * 1000) * 1_000_000) + body
