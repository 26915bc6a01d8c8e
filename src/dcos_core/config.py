"""Settings of every daemon, validated with pydantic.

Precedence, highest first: command-line flags, `DCOS_*` environment variables
(`DCOS_MASTER_PORT=5050`, `DCOS_AGENT_RESOURCES=...`), a config file (`--config FILE`, TOML or
JSON, with `[master]`, `[agent]` and `[local]` tables), then the defaults below. Settings are
built only in entrypoints (`load_settings`), never at import time.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dcos_core.errors import ConfigError
from dcos_core.isolation_names import parse_containerizers, parse_isolation
from dcos_core.resources import Resources

MIB = 1024 * 1024


class MasterSettings(BaseSettings):
    """`dcos-core master`."""

    model_config = SettingsConfigDict(env_prefix="DCOS_MASTER_", extra="forbid")

    ip: str = "127.0.0.1"
    port: int = Field(5050, ge=1, le=65535)
    hostname: str | None = None
    work_dir: Path = Path("/var/lib/dcos-core/master")
    store: str = Field("sqlite", pattern="^(sqlite|memory)$")
    allocation_interval: float = Field(1.0, gt=0)
    offer_timeout: float | None = Field(None, gt=0)
    min_allocatable_resources: str = "cpus:0.01|mem:32"
    agent_ping_timeout: float = Field(15.0, gt=0)
    max_agent_ping_timeouts: int = Field(5, ge=1)
    agent_reregister_timeout: float = Field(600.0, gt=0)
    heartbeat_interval: float = Field(15.0, gt=0, description="scheduler HEARTBEAT events")
    default_refuse_seconds: float = Field(5.0, ge=0)
    seed: int = 0
    weights: str = ""
    max_body_size: int = Field(
        4 * MIB, ge=0, description="largest request body in bytes, 413 beyond (0: no limit)"
    )

    @field_validator("min_allocatable_resources")
    @classmethod
    def _check_min_alloc(cls, v: str) -> str:
        for part in v.split("|"):
            Resources.parse(part)
        return v

    @field_validator("weights")
    @classmethod
    def _check_weights(cls, v: str) -> str:
        parse_weights(v)
        return v


class AgentSettings(BaseSettings):
    """`dcos-core agent`."""

    model_config = SettingsConfigDict(env_prefix="DCOS_AGENT_", extra="forbid")

    master: str = "127.0.0.1:5050"
    ip: str = "127.0.0.1"
    port: int = Field(5051, ge=1, le=65535)
    hostname: str | None = None
    work_dir: Path = Path("/var/lib/dcos-core/agent")
    resources: str | None = None
    attributes: str | None = None
    system_reserved_mem: float = Field(1024, ge=0, description="MB of memory kept for the host")
    containerizers: str = Field(
        "mesos", description="comma-separated: mesos, docker, posix, simulated"
    )
    isolation: str | None = Field(
        None, description="isolators; default: cgroups+namespaces where possible, else posix"
    )
    cgroups_mount: Path = Path("/sys/fs/cgroup")
    cgroups_root: str = Field(
        "dcos",
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="cgroup (under each hierarchy) owning every task cgroup of this agent",
    )
    cgroups_enable_cfs: bool = False
    cgroups_pids_limit: int = Field(4096, ge=0, description="max processes per task, 0 = none")
    default_user: str = Field("nobody", description="tasks without a user run as this (as root)")
    image_dir: Path | None = None
    container_disk_watch_interval: float = Field(15.0, gt=0)
    enforce_container_disk_quota: bool = False
    container_ports_watch_interval: float = Field(5.0, gt=0)
    enforce_container_ports: bool = False
    docker_host: str | None = None
    recover: str = Field("reconnect", pattern="^(reconnect|cleanup)$")
    status_update_retry_min: float = Field(10.0, gt=0)
    status_update_retry_max: float = Field(600.0, gt=0)
    executor_shutdown_grace_period: float = Field(3.0, ge=0)
    registration_backoff_max: float = Field(2.0, gt=0)
    max_body_size: int = Field(4 * MIB, ge=0, description="largest request body in bytes")

    @field_validator("resources")
    @classmethod
    def _check_resources(cls, v: str | None) -> str | None:
        if v is not None:
            Resources.parse(v)
        return v

    @field_validator("containerizers")
    @classmethod
    def _check_containerizers(cls, v: str) -> str:
        return ",".join(parse_containerizers(v))

    @field_validator("isolation")
    @classmethod
    def _check_isolation(cls, v: str | None) -> str | None:
        if v is not None:
            return ",".join(parse_isolation(v))
        return v


class LocalSettings(BaseSettings):
    """`dcos-core local`: a whole cluster on 127.0.0.1."""

    model_config = SettingsConfigDict(env_prefix="DCOS_LOCAL_", extra="forbid")

    agents: int = Field(1, ge=0, le=64)
    work_dir: Path = Path("/tmp/dcos-core-local")
    master_port: int = Field(5050, ge=1, le=65535)
    agent_port: int = Field(5051, ge=1, le=65535)
    marathon_port: int = Field(8080, ge=1, le=65535)
    chronos_port: int = Field(4400, ge=1, le=65535)
    agent_resources: str | None = None
    marathon: bool = Field(True, description="run Marathon on marathon_port")
    chronos: bool = Field(True, description="run Chronos on chronos_port")
    containerizers: str = "mesos"
    isolation: str | None = None


S = TypeVar("S", bound=BaseModel)


def parse_weights(text: str) -> dict[str, float]:
    """`"eng=2,ops=1.5"` -> `{"eng": 2.0, "ops": 1.5}`."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, sep, w = part.partition("=")
        try:
            weight = float(w)
        except ValueError:
            weight = -1.0
        if not sep or not role or not (weight > 0 and math.isfinite(weight)):
            raise ConfigError(f"'{part}' is not role=positive-number", "weights")
        out[role.strip()] = weight
    return out


def read_config_file(path: Path | None, section: str) -> dict[str, Any]:
    """The `[section]` table of a TOML or JSON config file (empty if no file)."""
    if path is None:
        return {}
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}", "config") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path} is not valid {path.suffix or 'TOML'}: {e}", "config") from None
    table = data.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] in {path} must be a table", "config")
    return table


def load_settings(
    cls: type[S], flags: dict[str, Any], config_file: Path | None = None, section: str = ""
) -> S:
    """Build settings: flags (None = not given) over env over file over defaults.

    Raises ConfigError naming every bad field at once.
    """
    file_values = read_config_file(config_file, section) if section else {}
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        # Environment variables are read by BaseSettings; init kwargs win over them, so the file
        # values go in only where neither a flag nor an environment variable gave the field.
        env_only = cls()
        env_set = env_only.model_fields_set
        merged = {k: v for k, v in file_values.items() if k not in env_set} | given
        return cls(**merged)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in e.errors()
        )
        raise ConfigError(problems) from None
