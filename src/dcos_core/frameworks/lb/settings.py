"""Settings of `dcos-core lb` (env prefix `DCOS_LB_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LbSettings(BaseSettings):
    """A marathon-lb-like HAProxy load balancer fed from Marathon's `/v2/apps` and `/v2/events`.

    `groups` is a comma list of `HAPROXY_GROUP` values this balancer serves (`*`: every app).
    `stats_port` 0 disables the TCP stats/health listener (a unix socket in `work_dir` is always
    there); `http_port` 0 disables the vhost frontend.
    """

    model_config = SettingsConfigDict(env_prefix="DCOS_LB_", extra="forbid")

    marathon: str = "http://127.0.0.1:8080"
    groups: str = "external"
    bind_address: str = "127.0.0.1"
    http_port: int = Field(80, ge=0, le=65535)
    stats_port: int = Field(9090, ge=0, le=65535)
    work_dir: Path = Path("/var/lib/dcos-core/lb")
    haproxy: str = "haproxy"
    min_reload_interval: float = Field(0.5, ge=0)
    resync_interval: float = Field(30.0, gt=0)
    event_read_timeout: float = Field(60.0, gt=0, description="reconnect after this much silence")
    hard_stop_after: float = Field(300.0, gt=0, description="old workers' grace after a reload")

    @field_validator("groups")
    @classmethod
    def _check_groups(cls, v: str) -> str:
        if not [g for g in v.split(",") if g.strip()]:
            raise ValueError("groups: give at least one HAPROXY_GROUP (or *)")
        return v

    @property
    def group_list(self) -> tuple[str, ...]:
        """The served groups, in order, without blanks."""
        return tuple(g.strip() for g in self.groups.split(",") if g.strip())
