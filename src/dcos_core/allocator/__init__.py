"""The hierarchical DRF allocator (pure: no I/O; time from a `Clock`; seeded randomness).

Example:
    >>> from dcos_core.clock import FakeClock
    >>> from dcos_core.resources import Resources
    >>> a = Allocator(AllocatorConfig(), FakeClock())
    >>> a.add_agent("a1", Resources.parse("cpus:2;mem:512"))
    >>> a.add_framework("fw", ["web"])
    >>> [g.agent_id for g in a.allocate()]
    ['a1']
"""

from __future__ import annotations

from dcos_core.allocator.allocator import Allocator
from dcos_core.allocator.types import AllocatorConfig, OfferGrant, Quota, Reason

__all__ = ["Allocator", "AllocatorConfig", "OfferGrant", "Quota", "Reason"]
