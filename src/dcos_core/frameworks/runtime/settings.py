"""`FrameworkSettings`: what every framework process is configured with.

A framework's own settings class (`marathon/settings.py`, `chronos/settings.py`) derives from it
with its environment prefix, its defaults (port, work_dir, name) and its own fields.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class FrameworkSettings(BaseSettings):
    """The master, where the API listens, where state is kept, and the FrameworkInfo fields.

    Its own environment prefix keeps plain variables (`USER`, `PORT`) out of it; a framework's
    class sets its own (`DCOS_MARATHON_`).
    """

    model_config = SettingsConfigDict(env_prefix="DCOS_FRAMEWORK_", extra="forbid")

    master: str = "127.0.0.1:5050"
    ip: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    hostname: str | None = None
    work_dir: Path
    store: str = Field("sqlite", pattern="^(sqlite|memory)$")
    framework_name: str
    role: str = "*"
    user: str = "root"
    failover_timeout: float = Field(604800.0, ge=0, description="seconds the master keeps tasks")
    tick_interval: float = Field(gt=0)
    max_body_size: int = Field(MIB, ge=0, description="largest request body in bytes")

    @property
    def advertised_host(self) -> str:
        """The name clients use: `hostname`, else `ip`."""
        return self.hostname or self.ip
