"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.docker_engine import DockerEngine, running_engine


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A private `dockerd` with the busybox image, started only when a test asks for it."""
    with running_engine() as engine:
        yield engine
