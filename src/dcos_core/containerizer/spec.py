"""What to launch (`LaunchSpec`) and how it ended (`Termination`): pure data, no I/O.

A later isolator pipeline (cgroups, namespaces, Docker) adds fields here and returns *fragments* of
a `LaunchSpec` from `prepare()`, the way Mesos isolators return `ContainerLaunchInfo`.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dcos_core.errors import InvalidError
from dcos_core.resources import EMPTY, Resources

# `TaskStatus.Reason` values a containerizer may attach to a termination.
REASON_COMMAND_EXECUTOR_FAILED: Final = "REASON_COMMAND_EXECUTOR_FAILED"
REASON_CONTAINER_LAUNCH_FAILED: Final = "REASON_CONTAINER_LAUNCH_FAILED"
REASON_CONTAINER_LIMITATION_MEMORY: Final = "REASON_CONTAINER_LIMITATION_MEMORY"
REASON_EXECUTOR_TERMINATED: Final = "REASON_EXECUTOR_TERMINATED"
REASON_CONTAINER_LIMITATION: Final = "REASON_CONTAINER_LIMITATION"
REASON_CONTAINER_LIMITATION_DISK: Final = "REASON_CONTAINER_LIMITATION_DISK"
REASON_TASK_INVALID: Final = "REASON_TASK_INVALID"

NETWORK_MODES: Final = ("HOST", "BRIDGE", "NONE", "USER")


@dataclass(frozen=True)
class PortMapping:
    """A Docker port mapping: `host_port` on the agent forwarded to `container_port`."""

    host_port: int
    container_port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class Volume:
    """A host path mounted into the container (`mode` "RW" or "RO")."""

    container_path: str
    host_path: str
    mode: str = "RW"


@dataclass(frozen=True)
class DockerInfo:
    """v1 `ContainerInfo` of type DOCKER, as the Docker containerizer needs it."""

    image: str
    network: str = "HOST"
    port_mappings: tuple[PortMapping, ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    force_pull_image: bool = False
    privileged: bool = False


@dataclass(frozen=True)
class ContainerInfo:
    """The parts of a v1 `ContainerInfo` the containerizers act on.

    `type` is "MESOS" or "DOCKER". For MESOS, `image` optionally names a root filesystem
    (`container.mesos.image.docker.name`, resolved by the image store). For DOCKER, `docker`
    is set. `volumes` apply to both.
    """

    type: str = "MESOS"
    image: str | None = None
    docker: DockerInfo | None = None
    volumes: tuple[Volume, ...] = ()
    hostname: str | None = None


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
    container: ContainerInfo = field(default_factory=ContainerInfo)
    limits: Mapping[str, float] = field(default_factory=dict)
    """`TaskInfo.limits`: upper bounds per resource (`cpus`, `mem` in MB), may be `inf`."""
    ports: tuple[int, ...] = ()
    """The host ports the task was offered (also in `env` as PORT0...)."""

    def __post_init__(self) -> None:
        if not self.container_id:
            raise InvalidError("must not be empty", "container_id")
        if (self.command is None) == (self.argv is None):
            raise InvalidError("give exactly one of a shell command and an argv", "command")
        if self.command is not None and not self.command.strip():
            raise InvalidError("shell command must not be empty", "command")
        docker = self.container.type == "DOCKER"
        if self.argv is not None and not docker and (not self.argv or not self.argv[0]):
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
        return self.argv or ()  # __post_init__ guarantees exactly one of the two is set


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


def container_info_from_v1(container: Any, field_name: str = "task.container") -> ContainerInfo:
    """Parse a v1 `ContainerInfo` JSON object (or None) into a `ContainerInfo`.

    Raises `InvalidError` naming the field for anything malformed or unsupported.

    Example:
        >>> c = container_info_from_v1({"type": "DOCKER", "docker": {"image": "busybox"}})
        >>> c.type, c.docker.image, c.docker.network
        ('DOCKER', 'busybox', 'HOST')
    """
    if container is None:
        return ContainerInfo()
    if not isinstance(container, dict):
        raise InvalidError("must be an object", field_name)
    ctype = container.get("type", "MESOS")
    if ctype not in ("MESOS", "DOCKER"):
        raise InvalidError(
            f"type {ctype!r} is not supported (MESOS or DOCKER)", f"{field_name}.type"
        )
    volumes = tuple(
        _volume(v, f"{field_name}.volumes[{i}]")
        for i, v in enumerate(_list(container.get("volumes"), f"{field_name}.volumes"))
    )
    hostname = container.get("hostname")
    if hostname is not None and not isinstance(hostname, str):
        raise InvalidError("must be a string", f"{field_name}.hostname")
    if ctype == "MESOS":
        image = None
        mesos = container.get("mesos") or {}
        if not isinstance(mesos, dict):
            raise InvalidError("must be an object", f"{field_name}.mesos")
        img = mesos.get("image")
        if img is not None:
            if not isinstance(img, dict):
                raise InvalidError("must be an object", f"{field_name}.mesos.image")
            if img.get("type", "DOCKER") != "DOCKER":
                raise InvalidError(
                    f"image type {img.get('type')!r} is not supported (DOCKER)",
                    f"{field_name}.mesos.image.type",
                )
            name = (img.get("docker") or {}).get("name")
            if not isinstance(name, str) or not name:
                raise InvalidError("needs a name", f"{field_name}.mesos.image.docker.name")
            image = name
        return ContainerInfo("MESOS", image=image, volumes=volumes, hostname=hostname)
    d = container.get("docker")
    if not isinstance(d, dict):
        raise InvalidError("a DOCKER container needs 'docker'", f"{field_name}.docker")
    image = d.get("image")
    if not isinstance(image, str) or not image:
        raise InvalidError("needs an image", f"{field_name}.docker.image")
    network = d.get("network", "HOST")
    if network not in NETWORK_MODES:
        raise InvalidError(
            f"{network!r} is not one of {', '.join(NETWORK_MODES)}", f"{field_name}.docker.network"
        )
    mappings = []
    for i, m in enumerate(_list(d.get("port_mappings"), f"{field_name}.docker.port_mappings")):
        f = f"{field_name}.docker.port_mappings[{i}]"
        if not isinstance(m, dict):
            raise InvalidError("must be an object", f)
        try:
            hp, cp = int(m["host_port"]), int(m["container_port"])
        except (KeyError, TypeError, ValueError):
            raise InvalidError("needs integer host_port and container_port", f) from None
        if not (0 <= hp <= 65535 and 0 < cp <= 65535):
            raise InvalidError("ports must be within 1-65535", f)
        proto = str(m.get("protocol") or "tcp").lower()
        if proto not in ("tcp", "udp"):
            raise InvalidError("protocol must be tcp or udp", f"{f}.protocol")
        mappings.append(PortMapping(hp, cp, proto))
    params = []
    for i, p in enumerate(_list(d.get("parameters"), f"{field_name}.docker.parameters")):
        if not isinstance(p, dict) or not isinstance(p.get("key"), str) or not p["key"]:
            raise InvalidError("needs a key", f"{field_name}.docker.parameters[{i}]")
        params.append((p["key"], str(p.get("value", ""))))
    docker = DockerInfo(
        image=image,
        network=network,
        port_mappings=tuple(mappings),
        parameters=tuple(params),
        force_pull_image=bool(d.get("force_pull_image", False)),
        privileged=bool(d.get("privileged", False)),
    )
    return ContainerInfo("DOCKER", docker=docker, volumes=volumes, hostname=hostname)


def _list(v: Any, field_name: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise InvalidError("must be a list", field_name)
    return v


def _volume(v: Any, field_name: str) -> Volume:
    if not isinstance(v, dict):
        raise InvalidError("must be an object", field_name)
    cp, hp = v.get("container_path"), v.get("host_path")
    if not isinstance(cp, str) or not cp.startswith("/"):
        raise InvalidError(
            "container_path must be an absolute path", f"{field_name}.container_path"
        )
    if not isinstance(hp, str) or not hp.startswith("/"):
        raise InvalidError(
            "host_path must be an absolute path (image and secret volumes are not supported)",
            f"{field_name}.host_path",
        )
    mode = v.get("mode", "RW")
    if mode not in ("RW", "RO"):
        raise InvalidError("mode must be RW or RO", f"{field_name}.mode")
    return Volume(cp, hp, mode)


@dataclass(frozen=True)
class ContainerizerConfig:
    """Agent settings every containerizer may use (built from `AgentSettings`)."""

    runtime_dir: Path
    """Per-container checkpoint files (`<runtime_dir>/<container_id>/...`), kept across agent
    restarts so that `recover()` finds its containers."""
    isolation: tuple[str, ...] = ("posix/cpu", "posix/mem")
    cgroups_mount: Path = Path("/sys/fs/cgroup")
    cgroups_root: str = "dcos"
    cgroups_enable_cfs: bool = False
    pids_limit: int = 0
    """Max processes per container (cgroups/pids); 0 = no limit."""
    default_user: str | None = None
    image_dir: Path | None = None
    disk_watch_interval: float = 15.0
    enforce_disk_quota: bool = False
    ports_watch_interval: float = 5.0
    enforce_ports: bool = False
    docker_host: str | None = None
    docker_stop_timeout: float = 3.0
