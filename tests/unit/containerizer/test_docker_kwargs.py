"""`docker_run_kwargs`: a LaunchSpec mapped to `containers.create` arguments as Mesos would."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from docker.types import HostConfig, Ulimit

from dcos_core.containerizer.docker import usage_from_stats
from dcos_core.containerizer.docker_logs import parse_log_timestamp
from dcos_core.containerizer.docker_run import (
    LABEL_AGENT,
    LABEL_CONTAINER_ID,
    MB,
    SANDBOX_PATH,
    docker_run_kwargs,
)
from dcos_core.containerizer.spec import (
    ContainerInfo,
    ContainerizerConfig,
    DockerInfo,
    LaunchSpec,
    PortMapping,
    Volume,
)
from dcos_core.errors import InvalidError
from dcos_core.resources import Resources

CONFIG = ContainerizerConfig(Path("/var/run/agent1"))


def spec(
    *,
    cpus: float = 1.0,
    mem: float = 128.0,
    limits: dict[str, float] | None = None,
    network: str = "HOST",
    ports: tuple[PortMapping, ...] = (),
    volumes: tuple[Volume, ...] = (),
    parameters: tuple[tuple[str, str], ...] = (),
    command: str | None = "echo hi",
    argv: tuple[str, ...] | None = None,
    user: str | None = None,
    env: dict[str, str] | None = None,
) -> LaunchSpec:
    info = DockerInfo("busybox:1", network=network, port_mappings=ports, parameters=parameters)
    return LaunchSpec(
        "c1",
        Path("/sb/c1"),
        command=command,
        argv=argv,
        env=env or {"PORT0": "31000"},
        resources=Resources.scalars(cpus=cpus, mem=mem),
        limits=limits or {},
        user=user,
        container=ContainerInfo("DOCKER", docker=info, volumes=volumes),
    )


def kwargs(s: LaunchSpec, config: ContainerizerConfig = CONFIG) -> dict[str, Any]:
    return docker_run_kwargs(s, config)


def test_name_labels_image_sandbox_and_shell_command() -> None:
    kw = kwargs(spec())
    assert kw["image"] == "busybox:1"
    assert kw["name"] == "mesos-c1"
    assert kw["labels"] == {LABEL_CONTAINER_ID: "c1", LABEL_AGENT: "/var/run/agent1"}
    assert kw["command"] == ["/bin/sh", "-c", "echo hi"]
    assert kw["entrypoint"] == [""]  # the image's entrypoint does not wrap the shell
    assert kw["volumes"] == {"/sb/c1": {"bind": SANDBOX_PATH, "mode": "rw"}}
    assert kw["working_dir"] == SANDBOX_PATH
    assert kw["environment"] == {"PORT0": "31000", "MESOS_SANDBOX": SANDBOX_PATH}


def test_argv_keeps_the_image_entrypoint() -> None:
    kw = kwargs(spec(command=None, argv=("sleep", "5")))
    assert kw["command"] == ["sleep", "5"]
    assert "entrypoint" not in kw


def test_mesos_sandbox_overrides_the_tasks_value() -> None:
    kw = kwargs(spec(env={"MESOS_SANDBOX": "/elsewhere", "A": "1"}))
    assert kw["environment"] == {"MESOS_SANDBOX": SANDBOX_PATH, "A": "1"}


def test_not_a_docker_container_is_invalid() -> None:
    s = LaunchSpec("c1", Path("/sb"), command="true", container=ContainerInfo("MESOS"))
    with pytest.raises(InvalidError) as e:
        kwargs(s)
    assert e.value.field == "task.container.type"


@pytest.mark.parametrize(("cpus", "shares"), [(1.0, 1024), (0.5, 512), (0.001, 2), (2.25, 2304)])
def test_cpu_shares(cpus: float, shares: int) -> None:
    kw = kwargs(spec(cpus=cpus))
    assert kw["cpu_shares"] == shares
    assert "cpu_quota" not in kw and "cpu_period" not in kw


def test_cpu_quota_from_a_limit() -> None:
    kw = kwargs(spec(cpus=0.5, limits={"cpus": 2.0}))
    assert kw["cpu_shares"] == 512  # shares follow the request
    assert (kw["cpu_period"], kw["cpu_quota"]) == (100_000, 200_000)


def test_cpu_quota_minimum_is_one_millisecond() -> None:
    kw = kwargs(spec(cpus=0.001, limits={"cpus": 0.001}))
    assert kw["cpu_quota"] == 1000


def test_infinite_cpu_limit_sets_no_quota_even_with_cfs() -> None:
    kw = kwargs(spec(cpus=0.5, limits={"cpus": math.inf}), cfs_config())
    assert "cpu_quota" not in kw


def cfs_config() -> ContainerizerConfig:
    return ContainerizerConfig(Path("/var/run/agent1"), cgroups_enable_cfs=True)


def test_cpu_quota_from_the_request_with_cfs() -> None:
    kw = kwargs(spec(cpus=0.25), cfs_config())
    assert (kw["cpu_period"], kw["cpu_quota"]) == (100_000, 25_000)


def test_memory_is_the_request_with_a_32_mib_minimum() -> None:
    assert kwargs(spec(mem=128))["mem_limit"] == 128 * MB
    assert kwargs(spec(mem=8))["mem_limit"] == 32 * MB
    assert "mem_reservation" not in kwargs(spec(mem=128))


def test_memory_limit_above_the_request_reserves_the_request() -> None:
    kw = kwargs(spec(mem=64, limits={"mem": 256}))
    assert kw["mem_limit"] == 256 * MB
    assert kw["mem_reservation"] == 64 * MB
    kw = kwargs(spec(mem=64, limits={"mem": 16}))
    assert kw["mem_limit"] == 32 * MB


def test_infinite_memory_limit_sets_no_hard_limit() -> None:
    kw = kwargs(spec(mem=64, limits={"mem": math.inf}))
    assert "mem_limit" not in kw
    assert kw["mem_reservation"] == 64 * MB


def test_networks() -> None:
    ports = (PortMapping(31000, 80), PortMapping(31001, 53, "udp"))
    kw = kwargs(spec(network="BRIDGE", ports=ports))
    assert kw["network_mode"] == "bridge"
    assert kw["ports"] == {"80/tcp": 31000, "53/udp": 31001}
    kw = kwargs(spec(network="HOST", ports=ports))
    assert kw["network_mode"] == "host"
    assert "ports" not in kw  # host networking: the task binds its offered ports itself
    assert kwargs(spec(network="NONE"))["network_mode"] == "none"


def test_user_network_is_invalid() -> None:
    with pytest.raises(InvalidError) as e:
        kwargs(spec(network="USER"))
    assert e.value.field == "task.container.docker.network"


def test_volumes_rw_ro_and_relative_to_the_sandbox() -> None:
    vols = (Volume("/data", "/srv/data", "RO"), Volume("/scratch", "/tmp/x"), Volume("/c", "rel"))
    kw = kwargs(spec(volumes=vols))
    assert kw["volumes"] == {
        "/sb/c1": {"bind": SANDBOX_PATH, "mode": "rw"},
        "/srv/data": {"bind": "/data", "mode": "ro"},
        "/tmp/x": {"bind": "/scratch", "mode": "rw"},
        "/sb/c1/rel": {"bind": "/c", "mode": "rw"},
    }


def test_user() -> None:
    assert kwargs(spec(user="nobody"))["user"] == "nobody"
    assert "user" not in kwargs(spec())


def test_ulimits_are_engine_api_objects_the_sdk_host_config_takes() -> None:
    """The pure mapping gives a ulimit in its Engine API form; the SDK makes its `Ulimit` of it."""
    kw = kwargs(spec(parameters=(("ulimit", "nofile=1024:2048"), ("ulimit", "nproc=64"))))
    assert kw["ulimits"] == [
        {"Name": "nofile", "Soft": 1024, "Hard": 2048},
        {"Name": "nproc", "Soft": 64, "Hard": 64},
    ]
    host_config = HostConfig(version="1.41", ulimits=kw["ulimits"])
    assert all(isinstance(u, Ulimit) for u in host_config["Ulimits"])
    assert host_config["Ulimits"] == [
        Ulimit(name="nofile", soft=1024, hard=2048),
        Ulimit(name="nproc", soft=64, hard=64),
    ]


def test_parameters_map_to_sdk_arguments() -> None:
    params = (
        ("env", "A=1"),
        ("e", "MESOS_SANDBOX=/nope"),
        ("label", "team=ops"),
        ("hostname", "box"),
        ("user", "65534"),
        ("workdir", "/tmp"),
        ("memory-swap", "256m"),
        ("shm-size", "64m"),
        ("ulimit", "nofile=1024:2048"),
        ("cap-add", "NET_ADMIN"),
        ("cap-drop", "MKNOD"),
        ("add-host", "db:10.0.0.5"),
        ("dns", "10.0.0.2"),
        ("entrypoint", "/bin/echo"),
        ("pids-limit", "100"),
        ("read-only", "true"),
    )
    kw = kwargs(spec(parameters=params))
    assert kw["environment"] == {"PORT0": "31000", "A": "1", "MESOS_SANDBOX": SANDBOX_PATH}
    assert kw["labels"]["team"] == "ops"
    assert kw["labels"][LABEL_CONTAINER_ID] == "c1"
    assert kw["hostname"] == "box"
    assert kw["user"] == "65534"
    assert kw["working_dir"] == "/tmp"
    assert kw["memswap_limit"] == "256m"
    assert kw["shm_size"] == "64m"
    assert kw["ulimits"] == [Ulimit(name="nofile", soft=1024, hard=2048)]
    assert kw["cap_add"] == ["NET_ADMIN"]
    assert kw["cap_drop"] == ["MKNOD"]
    assert kw["extra_hosts"] == {"db": "10.0.0.5"}
    assert kw["dns"] == ["10.0.0.2"]
    assert kw["entrypoint"] == ["/bin/echo"]
    assert kw["pids_limit"] == 100
    assert kw["read_only"] is True


def test_unknown_parameter_is_invalid_and_named() -> None:
    with pytest.raises(InvalidError) as e:
        kwargs(spec(parameters=(("env", "A=1"), ("volumes-from", "other"))))
    assert e.value.field == "task.container.docker.parameters[1]"
    assert "volumes-from" in str(e.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [("env", "NOEQUALS"), ("ulimit", "nofile=a:b"), ("memory-swap", "lots"), ("label", "=x")],
)
def test_malformed_parameter_values_are_invalid(key: str, value: str) -> None:
    with pytest.raises(InvalidError) as e:
        kwargs(spec(parameters=((key, value),)))
    assert e.value.field == "task.container.docker.parameters[0]"


def test_our_labels_cannot_be_overridden() -> None:
    with pytest.raises(InvalidError, match="reserved"):
        kwargs(spec(parameters=(("label", f"{LABEL_AGENT}=/other"),)))


def test_log_timestamps() -> None:
    assert parse_log_timestamp("2024-01-02T03:04:05.123456789Z") == (1704164645, 123456789)
    assert parse_log_timestamp("2024-01-02T03:04:05Z") == (1704164645, 0)
    with pytest.raises(ValueError):
        parse_log_timestamp("yesterday")


def test_usage_from_cgroup_v1_stats() -> None:
    stats = {
        "cpu_stats": {
            "cpu_usage": {"usage_in_usermode": 10_000_000, "usage_in_kernelmode": 20_000_000},
            "throttling_data": {"periods": 10, "throttled_periods": 3, "throttled_time": 5e8},
        },
        "memory_stats": {
            "usage": 827392,
            "limit": 67108864,
            "stats": {"total_rss": 53248, "total_cache": 4096},
        },
        "pids_stats": {"current": 2},
    }
    assert usage_from_stats(stats, 42.0) == {
        "timestamp": 42.0,
        "cpus_user_time_secs": 0.01,
        "cpus_system_time_secs": 0.02,
        "mem_total_bytes": 827392,
        "mem_rss_bytes": 53248,
        "mem_limit_bytes": 67108864,
        "mem_cache_bytes": 4096,
        "cpus_nr_periods": 10,
        "cpus_nr_throttled": 3,
        "cpus_throttled_time_secs": 0.5,
        "processes": 2,
    }


def test_the_docker_run_mapping_imports_neither_the_sdk_nor_asyncio() -> None:
    """`docker_run` is pure: importing it loads no Docker SDK, no HTTP library, no event loop."""
    code = (
        "import sys, dcos_core.containerizer.docker_run; "
        "print(sorted(m for m in ('docker', 'requests', 'asyncio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
