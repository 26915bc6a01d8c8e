"""The settings of `dcos-core marathon` and `dcos-core chronos`: shared fields from the
runtime's `FrameworkSettings`, each framework's defaults and environment prefix, and the same
precedence (flags > env > file > defaults) and error reporting as the daemons."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dcos_core.config import load_settings
from dcos_core.errors import ConfigError
from dcos_core.frameworks.chronos.settings import ChronosSettings
from dcos_core.frameworks.marathon.settings import MarathonSettings
from dcos_core.frameworks.runtime import FrameworkSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("DCOS_"):
            monkeypatch.delenv(k)


def test_each_framework_has_its_defaults() -> None:
    m = load_settings(MarathonSettings, {})
    c = load_settings(ChronosSettings, {})
    assert (m.port, m.framework_name, m.tick_interval) == (8080, "marathon", 0.5)
    assert (c.port, c.framework_name, c.tick_interval) == (4400, "chronos", 0.2)
    assert m.work_dir == Path("/var/lib/dcos-core/marathon")
    assert c.work_dir == Path("/var/lib/dcos-core/chronos")
    assert (c.failure_retry_delay, c.prelaunch) == (10.0, 15.0)
    # shared: the master, the store, the FrameworkInfo fields, the body limit (1 MiB)
    for s in (m, c):
        assert isinstance(s, FrameworkSettings)
        assert (s.master, s.store, s.role, s.user) == ("127.0.0.1:5050", "sqlite", "*", "root")
        assert s.failover_timeout == 604800.0 and s.max_body_size == 1024 * 1024


def test_each_framework_reads_only_its_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCOS_MARATHON_PORT", "9090")
    monkeypatch.setenv("DCOS_CHRONOS_ROLE", "batch")
    monkeypatch.setenv("USER", "mallory")  # a plain variable is no setting
    m = load_settings(MarathonSettings, {})
    c = load_settings(ChronosSettings, {})
    assert (m.port, m.role, m.user) == (9090, "*", "root")
    assert (c.port, c.role, c.user) == (4400, "batch", "root")


def test_flags_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "dcos.toml"
    cfg.write_text('[chronos]\nport = 4401\nhostname = "file"\nprelaunch = 5\n')
    monkeypatch.setenv("DCOS_CHRONOS_HOSTNAME", "env")
    c = load_settings(ChronosSettings, {"port": 4402, "hostname": None}, cfg, "chronos")
    assert (c.port, c.hostname, c.prelaunch) == (4402, "env", 5.0)
    assert c.advertised_host == "env"


def test_every_bad_field_is_named() -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(ChronosSettings, {"port": 0, "store": "etcd", "prelaunch": 4000})
    for field in ("port", "store", "prelaunch"):
        assert field in str(e.value)


def test_a_setting_of_the_other_framework_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "dcos.toml"
    cfg.write_text("[marathon]\nprelaunch = 5\n")  # a Chronos setting
    with pytest.raises(ConfigError, match="prelaunch"):
        load_settings(MarathonSettings, {}, cfg, "marathon")
