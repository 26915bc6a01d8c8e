"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.docker_engine import DockerEngine, running_engine


@pytest.fixture
def chronos_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A master, agents (the test module's `CHRONOS_AGENTS`, default 2) and Chronos; tasks may
    write into `tmp_path` (mode 0755)."""
    os.chmod(tmp_path, 0o755)
    c = Cluster(tmp_path, agent_resources="cpus:4;mem:4096;disk:4096;ports:[31000-31999]")
    try:
        c.start(agents=getattr(request.module, "CHRONOS_AGENTS", 2))
        c.start_chronos()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A private `dockerd` with the busybox image, started only when a test asks for it."""
    with running_engine() as engine:
        yield engine
