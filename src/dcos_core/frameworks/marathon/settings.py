"""Settings of `dcos-core marathon` (env prefix `DCOS_MARATHON_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dcos_core.frameworks.runtime.settings import MIB, FrameworkSettings


class MarathonSettings(FrameworkSettings):
    """`dcos-core marathon`: long-running apps (REST API v2 on port 8080)."""

    model_config = SettingsConfigDict(env_prefix="DCOS_MARATHON_", extra="forbid")

    port: int = Field(8080, ge=1, le=65535)
    work_dir: Path = Path("/var/lib/dcos-core/marathon")
    framework_name: str = "marathon"
    tick_interval: float = Field(0.5, gt=0)
    max_body_size: int = Field(
        MIB, ge=0, description="largest request body in bytes (ZooKeeper's 1 MB node limit)"
    )
