"""Settings of `dcos-core chronos` (env prefix `DCOS_CHRONOS_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dcos_core.frameworks.runtime.settings import FrameworkSettings


class ChronosSettings(FrameworkSettings):
    """`dcos-core chronos`: cron for the cluster (REST on port 4400)."""

    model_config = SettingsConfigDict(env_prefix="DCOS_CHRONOS_", extra="forbid")

    port: int = Field(4400, ge=1, le=65535)
    work_dir: Path = Path("/var/lib/dcos-core/chronos")
    framework_name: str = "chronos"
    tick_interval: float = Field(0.2, gt=0)
    failure_retry_delay: float = Field(10.0, ge=0, description="seconds before a retry")
    prelaunch: float = Field(
        15.0,
        ge=0,
        le=3600,
        description="seconds before its time a run of a job without a container image may be "
        "launched; its command still starts at its time (0: launch at the time)",
    )
