"""The `docker run` arguments of a task: a `LaunchSpec` mapped to `containers.create` kwargs.

Pure (no Docker SDK, no I/O): `docker_run_kwargs` builds the keyword arguments of
`DockerClient.containers.create` as Mesos' Docker containerizer builds its `docker run` command:

* the container is named `mesos-<container_id>` (`container_name`) and labelled with its container
  id and with the agent's runtime directory (`agent_label`), by which a restarted agent finds its
  own;
* the sandbox is mounted at `/mnt/mesos/sandbox` (`MESOS_SANDBOX`, also the working directory);
* resources map to `--cpu-shares`, `--cpu-quota` and `--memory` as in Mesos;
* `docker.parameters` accept a documented subset of `docker run` long options (`PARAMETERS`).

Values the SDK turns into its own types are given in their Engine API form (a ulimit is
`{"Name": ..., "Soft": ..., "Hard": ...}`, which `HostConfig` accepts as it accepts `Ulimit`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any, Final

from dcos_core.containerizer.spec import ContainerizerConfig, DockerInfo, LaunchSpec
from dcos_core.errors import InvalidError

SANDBOX_PATH: Final = "/mnt/mesos/sandbox"
NAME_PREFIX: Final = "mesos-"
LABEL_CONTAINER_ID: Final = "dcos_core.container_id"
LABEL_AGENT: Final = "dcos_core.agent"

CPU_SHARES_PER_CPU: Final = 1024
MIN_CPU_SHARES: Final = 2
CPU_CFS_PERIOD_US: Final = 100_000
MIN_CPU_CFS_QUOTA_US: Final = 1_000
MIN_MEMORY_MB: Final = 32.0
MB: Final = 1024 * 1024


def _split_kv(value: str, sep: str, key: str) -> tuple[str, str]:
    k, found, v = value.partition(sep)
    if not found or not k:
        raise InvalidError(f"{value!r} is not of the form NAME{sep}VALUE", key)
    return k, v


def _ulimit(value: str, key: str) -> dict[str, str | int]:
    """A `--ulimit NAME=SOFT[:HARD]` as the Engine API's `Ulimit` object.

    Example:
        >>> _ulimit("nofile=1024:2048", "p"), _ulimit("nproc=64", "p")["Hard"]
        ({'Name': 'nofile', 'Soft': 1024, 'Hard': 2048}, 64)
    """
    name, limits = _split_kv(value, "=", key)
    soft, _, hard = limits.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise InvalidError(f"{value!r} is not of the form NAME=SOFT[:HARD]", key) from None
    return {"Name": name, "Soft": s, "Hard": h}


def _bytes_value(value: str, key: str) -> str | int:
    v = value.strip().lower()
    if v == "-1":
        return -1
    if not v or not (v[:-1] if v[-1] in "bkmg" else v).isdigit():
        raise InvalidError(f"{value!r} is not a size (e.g. 512m)", key)
    return v


def _set(kw: dict[str, Any], name: str) -> Callable[[str, str], None]:
    def apply(value: str, key: str) -> None:
        kw[name] = value

    return apply


def _append(
    kw: dict[str, Any], name: str, conv: Callable[[str, str], Any] | None = None
) -> Callable[[str, str], None]:
    def apply(value: str, key: str) -> None:
        kw.setdefault(name, []).append(conv(value, key) if conv else value)

    return apply


PARAMETERS: Final = (
    "env (e)",
    "label (l)",
    "hostname (h)",
    "user (u)",
    "workdir (w)",
    "entrypoint",
    "memory-swap",
    "shm-size",
    "ulimit",
    "cap-add",
    "cap-drop",
    "add-host",
    "dns",
    "dns-search",
    "pids-limit",
    "read-only",
    "init",
    "security-opt",
    "sysctl",
    "tmpfs",
    "stop-signal",
    "oom-score-adj",
    "device",
)
"""The `docker run` long options (short aliases in parentheses) accepted in `parameters`."""

_ALIASES: Final = {"e": "env", "l": "label", "h": "hostname", "u": "user", "w": "workdir"}


def _bool_value(value: str, key: str) -> bool:
    v = value.strip().lower()
    if v in ("", "true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise InvalidError(f"{value!r} is not a boolean", key)


def _int_value(value: str, key: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidError(f"{value!r} is not an integer", key) from None


def _apply_parameters(
    params: Iterable[tuple[str, str]],
    kw: dict[str, Any],
    env: dict[str, str],
    labels: dict[str, str],
    field_name: str,
) -> None:
    """Apply `docker run` options given as (key, value) to the `containers.create` kwargs."""

    def env_(value: str, key: str) -> None:
        k, v = _split_kv(value, "=", key)
        env[k] = v

    def label(value: str, key: str) -> None:
        k, _, v = value.partition("=")
        if not k:
            raise InvalidError(f"{value!r} is not of the form NAME[=VALUE]", key)
        if k in (LABEL_CONTAINER_ID, LABEL_AGENT):
            raise InvalidError(f"label {k} is reserved for dcos-core", key)
        labels[k] = v

    def add_host(value: str, key: str) -> None:
        host, ip = _split_kv(value, ":", key)
        kw.setdefault("extra_hosts", {})[host] = ip

    def sysctl(value: str, key: str) -> None:
        k, v = _split_kv(value, "=", key)
        kw.setdefault("sysctls", {})[k] = v

    def tmpfs(value: str, key: str) -> None:
        path, _, opts = value.partition(":")
        kw.setdefault("tmpfs", {})[path] = opts

    def conv(name: str, f: Callable[[str, str], Any]) -> Callable[[str, str], None]:
        def apply(value: str, key: str) -> None:
            kw[name] = f(value, key)

        return apply

    handlers: dict[str, Callable[[str, str], None]] = {
        "env": env_,
        "label": label,
        "hostname": _set(kw, "hostname"),
        "user": _set(kw, "user"),
        "workdir": _set(kw, "working_dir"),
        "entrypoint": conv("entrypoint", lambda v, _k: [v]),
        "memory-swap": conv("memswap_limit", _bytes_value),
        "shm-size": conv("shm_size", _bytes_value),
        "ulimit": _append(kw, "ulimits", _ulimit),
        "cap-add": _append(kw, "cap_add"),
        "cap-drop": _append(kw, "cap_drop"),
        "add-host": add_host,
        "dns": _append(kw, "dns"),
        "dns-search": _append(kw, "dns_search"),
        "pids-limit": conv("pids_limit", _int_value),
        "read-only": conv("read_only", _bool_value),
        "init": conv("init", _bool_value),
        "security-opt": _append(kw, "security_opt"),
        "sysctl": sysctl,
        "tmpfs": tmpfs,
        "stop-signal": _set(kw, "stop_signal"),
        "oom-score-adj": conv("oom_score_adj", _int_value),
        "device": _append(kw, "devices"),
    }
    for i, (raw_key, value) in enumerate(params):
        key = _ALIASES.get(raw_key.lstrip("-"), raw_key.lstrip("-"))
        handler = handlers.get(key)
        f = f"{field_name}[{i}]"
        if handler is None:
            known = ", ".join(PARAMETERS)
            raise InvalidError(f"docker parameter {raw_key!r} is not supported ({known})", f)
        handler(value, f)


def docker_info(spec: LaunchSpec) -> DockerInfo:
    """The `docker` part of a DOCKER container; `InvalidError` naming the field otherwise.

    Example:
        >>> from pathlib import Path
        >>> docker_info(LaunchSpec("c1", Path("/sb"), command="true"))
        Traceback (most recent call last):
        ...
        dcos_core.errors.InvalidError: task.container.type: the docker containerizer runs DOCKER ...
    """
    container = spec.container
    if container.type != "DOCKER":
        raise InvalidError(
            f"the docker containerizer runs DOCKER containers, not {container.type}",
            "task.container.type",
        )
    if container.docker is None:
        raise InvalidError("a DOCKER container needs 'docker'", "task.container.docker")
    return container.docker


def docker_run_kwargs(spec: LaunchSpec, config: ContainerizerConfig) -> dict[str, Any]:
    """The `DockerClient.containers.create(**kwargs)` arguments that run `spec`, as Mesos would.

    Pure. Raises `InvalidError` naming the field for a spec the Docker containerizer cannot run.

    Example:
        >>> from pathlib import Path
        >>> from dcos_core.containerizer.spec import ContainerInfo, DockerInfo
        >>> from dcos_core.resources import Resources
        >>> s = LaunchSpec("c1", Path("/sb"), command="echo hi",
        ...     resources=Resources.scalars(cpus=0.5, mem=16),
        ...     container=ContainerInfo("DOCKER", docker=DockerInfo("busybox")))
        >>> kw = docker_run_kwargs(s, ContainerizerConfig(Path("/run/a")))
        >>> kw["command"], kw["cpu_shares"], kw["mem_limit"] // MB, kw["network_mode"]
        (['/bin/sh', '-c', 'echo hi'], 512, 32, 'host')
    """
    container = spec.container
    info = docker_info(spec)
    labels = {LABEL_CONTAINER_ID: spec.container_id, LABEL_AGENT: agent_label(config)}
    env = dict(spec.env)
    kw: dict[str, Any] = {
        "image": info.image,
        "name": container_name(spec.container_id),
        "detach": True,
        "stdin_open": False,
        "tty": False,
    }
    if spec.command is not None:
        kw["command"] = ["/bin/sh", "-c", spec.command]
        kw["entrypoint"] = [""]  # no image entrypoint in front of the shell (as Mesos)
    else:
        kw["command"] = list(spec.args)  # the argv: `LaunchSpec` has exactly one of the two

    # Network.
    if info.network == "HOST":
        kw["network_mode"] = "host"  # port mappings do not apply: the task binds $PORT0...
    elif info.network == "BRIDGE":
        kw["network_mode"] = "bridge"
        ports: dict[str, int | None] = {}
        for m in info.port_mappings:
            ports[f"{m.container_port}/{m.protocol}"] = m.host_port or None
        if ports:
            kw["ports"] = ports
    elif info.network == "NONE":
        kw["network_mode"] = "none"
    else:
        raise InvalidError(
            f"network {info.network!r} is not supported (HOST, BRIDGE or NONE)",
            "task.container.docker.network",
        )
    if info.privileged:
        kw["privileged"] = True
    if container.hostname and info.network != "HOST":
        kw["hostname"] = container.hostname

    # Volumes: the sandbox, then the task's (a relative host path is inside the sandbox).
    sandbox = os.path.abspath(spec.sandbox)
    volumes: dict[str, dict[str, str]] = {sandbox: {"bind": SANDBOX_PATH, "mode": "rw"}}
    for i, v in enumerate(container.volumes):
        if not v.container_path.startswith("/"):
            raise InvalidError(
                "container_path must be an absolute path",
                f"task.container.volumes[{i}].container_path",
            )
        host = v.host_path if v.host_path.startswith("/") else os.path.join(sandbox, v.host_path)
        volumes[host] = {"bind": v.container_path, "mode": "ro" if v.mode == "RO" else "rw"}
    kw["volumes"] = volumes
    kw["working_dir"] = SANDBOX_PATH

    # Resources, as Mesos' docker.cpp: shares, CFS quota, memory limit and reservation.
    cpus = spec.resources.scalar("cpus")
    cpus_limit = spec.limits.get("cpus")
    if cpus > 0 or cpus_limit is not None:
        kw["cpu_shares"] = max(int(CPU_SHARES_PER_CPU * cpus), MIN_CPU_SHARES)
    quota_cpus: float | None = None
    if cpus_limit is not None:
        quota_cpus = cpus_limit if math.isfinite(cpus_limit) else None
    elif config.cgroups_enable_cfs and cpus > 0:
        quota_cpus = cpus
    if quota_cpus is not None:
        kw["cpu_period"] = CPU_CFS_PERIOD_US
        kw["cpu_quota"] = max(int(CPU_CFS_PERIOD_US * quota_cpus), MIN_CPU_CFS_QUOTA_US)
    mem = spec.resources.scalar("mem")
    mem_limit = spec.limits.get("mem")
    if mem_limit is not None and math.isfinite(mem_limit):
        kw["mem_limit"] = int(max(mem_limit, MIN_MEMORY_MB) * MB)
        if mem > 0 and mem_limit > mem:
            kw["mem_reservation"] = int(max(mem, MIN_MEMORY_MB) * MB)
    elif mem_limit is not None:  # an infinite limit: no hard limit, the request is reserved
        if mem > 0:
            kw["mem_reservation"] = int(max(mem, MIN_MEMORY_MB) * MB)
    elif mem > 0:
        kw["mem_limit"] = int(max(mem, MIN_MEMORY_MB) * MB)

    user = spec.user or config.default_user
    if user:
        kw["user"] = user

    _apply_parameters(info.parameters, kw, env, labels, "task.container.docker.parameters")
    env["MESOS_SANDBOX"] = SANDBOX_PATH
    kw["environment"] = env
    kw["labels"] = labels
    return kw


def container_name(container_id: str) -> str:
    """The Docker name of a container.

    Example:
        >>> container_name("c1")
        'mesos-c1'
    """
    return f"{NAME_PREFIX}{container_id}"


def agent_label(config: ContainerizerConfig) -> str:
    """The value of the `dcos_core.agent` label: the agent's runtime directory."""
    return str(config.runtime_dir.absolute())
