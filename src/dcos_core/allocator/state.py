"""What the allocator knows: its agents and frameworks, and the one ledger of allocations.

Every change to what is allocated goes through `Allocations`: the cycle's grants, charges made
outside a cycle (re-registered agents, RESERVE/UNRESERVE) and everything given back. It keeps the
three views of an allocation equal: per agent (`AgentState.alloc` and `available`), per framework
(`Allocations.by_framework`) and per role (the `RoleTree`'s shares).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcos_core.allocator.sorter import RoleNode, RoleTree
from dcos_core.resources import EMPTY, UNRESERVED, Resources

FwRole = tuple[str, str]
"""(framework id, role)."""


@dataclass(slots=True)
class AgentState:
    """What the allocator knows of one agent."""

    id: str
    total: Resources
    available: Resources
    active: bool = True
    attributes: dict[str, object] = field(default_factory=dict)
    reserved: bool = False  # the total holds reservations (else allocatable_to() is a no-op)
    alloc: dict[FwRole, Resources] = field(default_factory=dict)


@dataclass(slots=True)
class FrameworkState:
    """What the allocator knows of one framework."""

    id: str
    roles: tuple[str, ...]
    suppressed: set[str]
    active: bool
    min_allocatable: dict[str, tuple[Resources, ...]]


def has_reservations(r: Resources) -> bool:
    """True if `r` holds any reserved resource."""
    return any(k[1] != UNRESERVED for k, _v in r)


class Allocations:
    """The ledger: framework -> role -> agent -> resources (offered + used).

    It may name frameworks the allocator does not know (yet): an agent that re-registers reports
    what its tasks use before their framework re-subscribes.
    """

    def __init__(self, tree: RoleTree) -> None:
        self.tree = tree
        self.by_framework: dict[str, dict[str, dict[str, Resources]]] = {}

    def grant(self, agent: AgentState, node: RoleNode, fid: str, res: Resources) -> None:
        """Charge an offer of the running cycle; the role tree re-sorts after the agent."""
        self._book(agent, fid, node.name, res)
        self.tree.charge(node, fid, res.totals())

    def charge(self, agent: AgentState, fid: str, role: str, res: Resources) -> None:
        """Charge `res` on `agent` to (fid, role) outside a cycle."""
        self._book(agent, fid, role, res)
        self.tree.charge_now(role, fid, res.totals())

    def uncharge(self, agent: AgentState, fid: str, role: str, res: Resources) -> None:
        """Take `res` out of (fid, role)'s allocation on `agent` and give it back to the agent."""
        key = (fid, role)
        cur = agent.alloc.get(key, EMPTY)
        left = EMPTY if cur is res else cur - res  # the common case: all of an offer comes back
        if left:
            agent.alloc[key] = left
        else:
            agent.alloc.pop(key, None)
        by_role = self.by_framework.get(fid, {})
        by_agent = by_role.get(role, {})
        cur = by_agent.get(agent.id, EMPTY)
        left = EMPTY if cur is res else cur - res
        if left:
            by_agent[agent.id] = left
        else:
            by_agent.pop(agent.id, None)
            if not by_agent:
                by_role.pop(role, None)
                if not by_role:
                    self.by_framework.pop(fid, None)
        agent.available = agent.available + res
        self.tree.charge_now(role, fid, res.totals(), -1)

    def held(self, fid: str, role: str, agent_id: str) -> Resources | None:
        """What (fid, role) holds on the agent, or None."""
        return self.by_framework.get(fid, {}).get(role, {}).get(agent_id)

    def _book(self, agent: AgentState, fid: str, role: str, res: Resources) -> None:
        avail = agent.available
        agent.available = EMPTY if res is avail else avail - res
        key = (fid, role)
        cur = agent.alloc.get(key)
        agent.alloc[key] = res if cur is None else cur + res
        by_role = self.by_framework.get(fid)
        if by_role is None:
            by_role = self.by_framework[fid] = {}
        by_agent = by_role.get(role)
        if by_agent is None:
            by_agent = by_role[role] = {}
        cur = by_agent.get(agent.id)
        by_agent[agent.id] = res if cur is None else cur + res
