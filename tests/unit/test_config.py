"""Settings precedence (flags > env > file > defaults) and error reporting."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcos_core.config import AgentSettings, MasterSettings, load_settings, parse_weights
from dcos_core.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.startswith("DCOS_"):
            monkeypatch.delenv(k)


def toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "dcos.toml"
    p.write_text(text)
    return p


def test_defaults() -> None:
    """Nothing given: the documented defaults."""
    s = load_settings(MasterSettings, {})
    assert s.port == 5050 and s.store == "sqlite" and s.heartbeat_interval == 15.0


def test_precedence_flags_over_env_over_file_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """port: flag wins; ip: env beats file; seed: file beats default; store: default."""
    cfg = toml(tmp_path, '[master]\nport = 6000\nip = "10.0.0.1"\nseed = 7\n')
    monkeypatch.setenv("DCOS_MASTER_PORT", "6001")
    monkeypatch.setenv("DCOS_MASTER_IP", "10.0.0.2")
    s = load_settings(MasterSettings, {"port": 6002, "ip": None}, cfg, "master")
    assert s.port == 6002
    assert s.ip == "10.0.0.2"
    assert s.seed == 7
    assert s.store == "sqlite"


def test_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a flag the environment beats the file."""
    cfg = toml(tmp_path, "[master]\nport = 6000\n")
    monkeypatch.setenv("DCOS_MASTER_PORT", "6001")
    assert load_settings(MasterSettings, {}, cfg, "master").port == 6001


def test_json_config_file(tmp_path: Path) -> None:
    """A .json file works like TOML."""
    p = tmp_path / "c.json"
    p.write_text('{"agent": {"port": 5055, "resources": "cpus:2;mem:512"}}')
    s = load_settings(AgentSettings, {}, p, "agent")
    assert s.port == 5055 and s.resources == "cpus:2;mem:512"


def test_every_bad_field_is_named(tmp_path: Path) -> None:
    """One ConfigError lists all problems at once."""
    cfg = toml(tmp_path, '[master]\nport = 70000\nstore = "zk"\nweights = "eng=-1"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(MasterSettings, {"allocation_interval": 0}, cfg, "master")
    msg = str(info.value)
    for field in ("port", "store", "weights", "allocation_interval"):
        assert field in msg


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    """Typos in the file are reported, not ignored."""
    cfg = toml(tmp_path, "[master]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(MasterSettings, {}, cfg, "master")


def test_bad_resources_flag(tmp_path: Path) -> None:
    """Agent resources are validated with the resource parser."""
    with pytest.raises(ConfigError, match="resources"):
        load_settings(AgentSettings, {"resources": "cpus:-1"})


def test_missing_config_file(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming the path."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_settings(MasterSettings, {}, missing, "master")


def test_invalid_toml(tmp_path: Path) -> None:
    """A syntax error names the file."""
    cfg = toml(tmp_path, "[master\nport=")
    with pytest.raises(ConfigError, match=r"dcos\.toml"):
        load_settings(MasterSettings, {}, cfg, "master")


def test_section_must_be_a_table(tmp_path: Path) -> None:
    """`master = 3` is not a table."""
    cfg = toml(tmp_path, "master = 3\n")
    with pytest.raises(ConfigError, match="table"):
        load_settings(MasterSettings, {}, cfg, "master")


def test_parse_weights() -> None:
    """`eng=2,ops=1.5` parses; anything not role=positive-number is refused."""
    assert parse_weights("eng=2, ops=1.5") == {"eng": 2.0, "ops": 1.5}
    assert parse_weights("") == {}
    for bad in ("eng", "eng=0", "=2", "eng=x"):
        with pytest.raises(ConfigError, match="weights"):
            parse_weights(bad)


def test_isolation_settings_are_checked_and_normalised() -> None:
    s = load_settings(
        AgentSettings,
        {"containerizers": "docker, mesos", "isolation": "cgroups/mem, disk/du,cgroups/mem"},
        None,
        "agent",
    )
    assert (s.containerizers, s.isolation, s.recover) == (
        "docker,mesos",
        "cgroups/mem,disk/du",
        "reconnect",
    )
    for flags, field in (
        ({"containerizers": "rkt"}, "containerizers"),
        ({"isolation": "cgroups/gpu"}, "isolation"),
        ({"cgroups_root": ""}, "cgroups_root"),
        ({"cgroups_root": "/abs"}, "cgroups_root"),
        ({"recover": "sometimes"}, "recover"),
        ({"cgroups_pids_limit": -1}, "cgroups_pids_limit"),
    ):
        with pytest.raises(ConfigError, match=field):
            load_settings(AgentSettings, flags, None, "agent")
