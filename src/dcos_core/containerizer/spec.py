"""What to launch (`LaunchSpec`) and how it ended (`Termination`): pure data, no I/O.

A later isolator pipeline (cgroups, namespaces, Docker) adds fields here and returns *fragments* of
a `LaunchSpec` from `prepare()`, the way Mesos isolators return `ContainerLaunchInfo`.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dcos_core.errors import InvalidError
from dcos_core.resources import EMPTY, Resources

# `TaskStatus.Reason` values a containerizer may attach to a termination.
REASON_COMMAND_EXECUTOR_FAILED: Final = "REASON_COMMAND_EXECUTOR_FAILED"
REASON_CONTAINER_LAUNCH_FAILED: Final = "REASON_CONTAINER_LAUNCH_FAILED"
REASON_CONTAINER_LIMITATION_MEMORY: Final = "REASON_CONTAINER_LIMITATION_MEMORY"
REASON_EXECUTOR_TERMINATED: Final = "REASON_EXECUTOR_TERMINATED"


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a containerizer needs to start one container.

    Exactly one of `command` (run with `/bin/sh -c`) and `argv` (run directly) is given.
    `stdout`/`stderr` default to files of those names in the sandbox.

    Example:
        >>> s = LaunchSpec("c1", Path("/tmp/sb"), command="echo hi")
        >>> s.stdout_path
        PosixPath('/tmp/sb/stdout')
    """

    container_id: str
    sandbox: Path
    command: str | None = None
    argv: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    stdout: Path | None = None
    stderr: Path | None = None
    resources: Resources = EMPTY
    user: str | None = None

    def __post_init__(self) -> None:
        if not self.container_id:
            raise InvalidError("must not be empty", "container_id")
        if (self.command is None) == (self.argv is None):
            raise InvalidError("give exactly one of a shell command and an argv", "command")
        if self.command is not None and not self.command.strip():
            raise InvalidError("shell command must not be empty", "command")
        if self.argv is not None and (not self.argv or not self.argv[0]):
            raise InvalidError("argv must name an executable", "argv")

    @property
    def stdout_path(self) -> Path:
        return self.stdout or self.sandbox / "stdout"

    @property
    def stderr_path(self) -> Path:
        return self.stderr or self.sandbox / "stderr"

    @property
    def args(self) -> tuple[str, ...]:
        """The argv actually executed: `("/bin/sh", "-c", command)` for shell commands."""
        if self.command is not None:
            return ("/bin/sh", "-c", self.command)
        assert self.argv is not None  # __post_init__ guarantees exactly one is set
        return self.argv


@dataclass(frozen=True)
class Termination:
    """How a container ended: an exit code, or the signal that killed its main process."""

    exit_code: int | None = None
    signal: int | None = None
    message: str = ""
    reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and self.signal is None

    @classmethod
    def from_returncode(cls, returncode: int, reason: str | None = None) -> Termination:
        """Map a `subprocess` return code (negative = killed by that signal) to a Termination.

        Example:
            >>> Termination.from_returncode(-9).message
            'Command terminated with signal Killed'
        """
        if returncode < 0:
            return cls(
                None,
                -returncode,
                f"Command terminated with signal {signal_name(-returncode)}",
                reason,
            )
        return cls(returncode, None, f"Command exited with status {returncode}", reason)


def signal_name(signum: int) -> str:
    """`9` -> `"Killed"` (the strsignal text Mesos prints), or `"signal 99"` if unknown."""
    return _signal.strsignal(signum) or f"signal {signum}"
