"""Weighted DRF over a tree of roles, and DRF over the frameworks inside each role.

This is the Mesos `DRFSorter` shape: every node of the role tree (`eng`, `eng/web`) keeps its
children sorted by `(weighted dominant share of the subtree, times allocated, name)`, and every
role keeps its offerable frameworks sorted by `(dominant share, times allocated, id)`. Sorting is
incremental: a changed client is moved with two bisections, never the whole list re-sorted. The
denominators are the cluster totals; when they change (agents come and go) all keys go stale and
the tree is rebuilt once, lazily, before the next cycle.

Inside a cycle the allocator charges many allocations and re-keys the touched clients only after
it is done with an agent (`charge(..., rekey=False)` then `rekey_frameworks` / `rekey_paths`),
the way Mesos iterates over one `sort()` snapshot per agent.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping

Millis = dict[str, int]
SortKey = tuple[float, int, str]
SELF: str = "."  # the child entry standing for a role's own frameworks when it has sub-roles


def add_millis(dst: Millis, src: Mapping[str, int], sign: int = 1) -> None:
    """`dst += sign * src`, per scalar name (integer thousandths, so never any drift)."""
    for name, v in src.items():
        dst[name] = dst.get(name, 0) + sign * v


class ShareBasis:
    """Denominators of dominant shares: cluster totals minus excluded names and zero totals.

    Example:
        >>> ShareBasis({"cpus": 10_000, "mem": 4_000}, frozenset()).share({"cpus": 1_000}, 1.0)
        0.1
    """

    __slots__ = ("items",)

    def __init__(self, totals: Mapping[str, int], excluded: frozenset[str]) -> None:
        self.items = [(n, t) for n, t in sorted(totals.items()) if t > 0 and n not in excluded]

    def share(self, alloc: Mapping[str, int], weight: float) -> float:
        """max over names of allocated / total, divided by the weight.

        A true division of two integers is correctly rounded, so equal fractions (2/4 cpus and
        256/512 mem) give equal floats and ties are broken by count and name, never by rounding.
        """
        s = 0.0
        for name, total in self.items:
            v = alloc.get(name)
            if v:
                x = v / total
                if x > s:
                    s = x
        return s / weight


class RoleNode:
    """One role of the tree: its allocations, its sorted children and its sorted frameworks."""

    __slots__ = (
        "active_count",
        "child_keys",
        "child_list",
        "children",
        "count",
        "fw_alloc",
        "fw_counts",
        "fw_keys",
        "fw_list",
        "name",
        "parent",
        "part",
        "path",
        "self_alloc",
        "subtree_alloc",
        "weight",
    )

    def __init__(self, name: str, parent: RoleNode | None, weight: float) -> None:
        self.name = name
        self.part = name.rsplit("/", 1)[-1]
        self.parent = parent
        self.children: dict[str, RoleNode] = {}
        self.weight = weight
        self.count = 0  # times something in this subtree was allocated (tie-breaker)
        self.self_alloc: Millis = {}  # allocated to this role's own frameworks
        self.subtree_alloc: Millis = {}  # this role and all its descendants
        self.child_list: list[SortKey] = []  # sorted keys of children (+ SELF if it has any)
        self.child_keys: dict[str, SortKey] = {}
        self.fw_list: list[SortKey] = []  # sorted keys of offerable frameworks
        self.fw_keys: dict[str, SortKey] = {}
        self.fw_alloc: dict[str, Millis] = {}  # framework -> allocated in this role
        self.fw_counts: dict[str, int] = {}
        self.active_count = 0  # offerable (framework, role) clients in the subtree
        # this node and its ancestors, root excluded: the nodes charged by an allocation
        self.path: list[RoleNode] = []
        n: RoleNode | None = self
        while n is not None and n.parent is not None:
            self.path.append(n)
            n = n.parent


def _move(lst: list[SortKey], keys: dict[str, SortKey], name: str, new: SortKey) -> None:
    old = keys.get(name)
    if old == new:
        return
    if old is not None:
        del lst[bisect_left(lst, old)]
    insort(lst, new)
    keys[name] = new


def _drop(lst: list[SortKey], keys: dict[str, SortKey], name: str) -> None:
    old = keys.pop(name, None)
    if old is not None:
        del lst[bisect_left(lst, old)]


class RoleTree:
    """The hierarchical DRF sorter: roles by weighted subtree share, frameworks by share."""

    def __init__(self, excluded: frozenset[str] = frozenset()) -> None:
        self.excluded = excluded
        self.root = RoleNode("", None, 1.0)
        self.nodes: dict[str, RoleNode] = {}
        self.weights: dict[str, float] = {}
        self.basis = ShareBasis({}, excluded)
        self.dirty = False

    # ---- structure ---------------------------------------------------------------------------

    def get(self, role: str) -> RoleNode | None:
        """The node of `role`, if it exists."""
        return self.nodes.get(role)

    def node(self, role: str) -> RoleNode:
        """The node of `role`, created (with its ancestors) if needed."""
        n = self.nodes.get(role)
        if n is not None:
            return n
        parent = self.root
        if "/" in role:
            parent = self.node(role.rsplit("/", 1)[0])
        n = RoleNode(role, parent, self.weights.get(role, 1.0))
        if not parent.children and parent is not self.root:
            _move(parent.child_list, parent.child_keys, SELF, self._self_key(parent))
        parent.children[n.part] = n
        _move(parent.child_list, parent.child_keys, n.part, self._child_key(n))
        self.nodes[role] = n
        return n

    def set_totals(self, totals: Mapping[str, int]) -> None:
        """New cluster totals: every share changes, so all keys are rebuilt before next use."""
        self.basis = ShareBasis(totals, self.excluded)
        self.dirty = True

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Replace all weights (a role not named has weight 1.0)."""
        self.weights = dict(weights)
        for name, n in self.nodes.items():
            n.weight = self.weights.get(name, 1.0)
        self.dirty = True

    def share(self, n: RoleNode) -> float:
        """Weighted dominant share of the subtree of `n`."""
        return self.basis.share(n.subtree_alloc, n.weight)

    def _child_key(self, n: RoleNode) -> SortKey:
        return (self.basis.share(n.subtree_alloc, n.weight), n.count, n.part)

    def _self_key(self, n: RoleNode) -> SortKey:
        return (self.basis.share(n.self_alloc, n.weight), n.count, SELF)

    def _fw_key(self, n: RoleNode, fw: str) -> SortKey:
        return (self.basis.share(n.fw_alloc.get(fw, {}), 1.0), n.fw_counts.get(fw, 0), fw)

    def rebuild(self) -> None:
        """Recompute every key (after the totals or weights changed)."""
        for n in [self.root, *self.nodes.values()]:
            n.child_keys = {part: self._child_key(c) for part, c in n.children.items()}
            if n.children and n is not self.root:
                n.child_keys[SELF] = self._self_key(n)
            n.child_list = sorted(n.child_keys.values())
            n.fw_keys = {fw: self._fw_key(n, fw) for fw in n.fw_keys}
            n.fw_list = sorted(n.fw_keys.values())
        self.dirty = False

    # ---- clients -----------------------------------------------------------------------------

    def activate(self, role: str, fw: str) -> None:
        """Make `fw` offerable in `role` (idempotent)."""
        n = self.node(role)
        if fw in n.fw_keys:
            return
        n.fw_keys[fw] = key = self._fw_key(n, fw)
        insort(n.fw_list, key)
        for m in n.path:
            m.active_count += 1

    def deactivate(self, role: str, fw: str) -> None:
        """Stop offering to `fw` in `role`; its allocation stays charged (idempotent)."""
        n = self.nodes.get(role)
        if n is None or fw not in n.fw_keys:
            return
        _drop(n.fw_list, n.fw_keys, fw)
        for m in n.path:
            m.active_count -= 1

    def is_active(self, role: str, fw: str) -> bool:
        n = self.nodes.get(role)
        return n is not None and fw in n.fw_keys

    # ---- allocations -------------------------------------------------------------------------

    def charge(
        self, n: RoleNode, fw: str, totals: Mapping[str, int], sign: int = 1, *, count: bool = True
    ) -> None:
        """Add (`sign=1`) or remove (`-1`) an allocation of `fw` in role `n`, without re-keying."""
        a = n.fw_alloc.get(fw)
        if a is None:
            a = n.fw_alloc[fw] = {}
        targets = [a, n.self_alloc]
        for m in n.path:
            targets.append(m.subtree_alloc)
            if count:
                m.count += 1
        for name, v in totals.items():
            dv = sign * v
            for d in targets:
                d[name] = d.get(name, 0) + dv
        if count:
            n.fw_counts[fw] = n.fw_counts.get(fw, 0) + 1
        if sign < 0 and not any(a.values()) and fw not in n.fw_keys:
            del n.fw_alloc[fw]

    def charge_now(self, role: str, fw: str, totals: Mapping[str, int], sign: int = 1) -> None:
        """Charge outside a cycle (recover, re-registration) and re-key at once."""
        n = self.node(role)
        self.charge(n, fw, totals, sign, count=False)
        self.rekey_frameworks(n, (fw,))
        self.rekey_paths((n,))

    def rekey_frameworks(self, n: RoleNode, fws: Iterable[str]) -> None:
        """Move the given frameworks of role `n` to their places after a change in share."""
        if self.dirty:
            return
        for fw in fws:
            if fw in n.fw_keys:
                _move(n.fw_list, n.fw_keys, fw, self._fw_key(n, fw))

    def rekey_paths(self, nodes: Iterable[RoleNode]) -> None:
        """Move the given roles and their ancestors to their places among their siblings."""
        if self.dirty:
            return
        for n in nodes:
            if n.children:
                _move(n.child_list, n.child_keys, SELF, self._self_key(n))
            for m in n.path:
                p = m.parent
                if p is not None:
                    _move(p.child_list, p.child_keys, m.part, self._child_key(m))

    # ---- order -------------------------------------------------------------------------------

    def order(self) -> Iterator[RoleNode]:
        """Roles with offerable frameworks, in hierarchical DRF order (pre-order traversal)."""
        return self._walk(self.root)

    def _walk(self, n: RoleNode) -> Iterator[RoleNode]:
        children = n.children
        for key in n.child_list:
            part = key[2]
            if part == SELF:
                if n.fw_list:
                    yield n
                continue
            c = children[part]
            if not c.active_count:
                continue
            if c.children:
                yield from self._walk(c)
            else:
                yield c
