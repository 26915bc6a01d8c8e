"""Helpers shared by the allocator tests."""

from __future__ import annotations

from typing import Any

from dcos_core.allocator import Allocator, AllocatorConfig, OfferGrant
from dcos_core.clock import FakeClock
from dcos_core.resources import Resources


def R(text: str) -> Resources:
    """Shorthand: `R("cpus:1;mem:32")`."""
    return Resources.parse(text)


def make(seed: int = 0, **config: Any) -> tuple[Allocator, FakeClock]:
    """An allocator on a fake clock; keyword arguments go to `AllocatorConfig`."""
    clock = FakeClock(1000.0)
    return Allocator(AllocatorConfig(**config), clock, seed=seed), clock


def by_framework(grants: list[OfferGrant]) -> dict[str, list[OfferGrant]]:
    """Grants grouped by framework id."""
    out: dict[str, list[OfferGrant]] = {}
    for g in grants:
        out.setdefault(g.framework_id, []).append(g)
    return out


def decline_all(alloc: Allocator, grants: list[OfferGrant], refuse: float | None = None) -> None:
    """Give every grant back (a decline), optionally with a refuse filter."""
    for g in grants:
        alloc.recover(g.framework_id, g.agent_id, g.role, g.resources, refuse)
