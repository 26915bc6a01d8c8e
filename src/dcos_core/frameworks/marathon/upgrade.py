"""Rolling replacement, scaling and launch backoff, as Marathon 1.x computes them (pure).

Everything here is a function of the current counts: the deployment driver calls `replace_step`
(or `scale_step`) again after every change (an instance launched, became healthy, terminated)
and acts on the answer; nothing is remembered between calls.

Sources followed (mesosphere/marathon):

* `core/deployment/impl/TaskReplaceActor.scala` (`computeRestartStrategy`, `launchInstances`,
  `killNextOldInstance`, `checkFinished`):
  `minHealthy = ceil(instances * minimumHealthCapacity)`,
  `maxCapacity = floor(instances * (1 + maximumOverCapacity))`; old instances are killed while
  more than `minHealthy` instances are healthy; new ones are launched while
  `old + started < maxCapacity`; unhealthy old instances are killed first; done when `instances`
  new instances are healthy and no old instance is left.
  **The exception**: when `minHealthy == maxCapacity` (for example minimumHealthCapacity = 1 and
  maximumOverCapacity = 0) nothing could ever move, so Marathon allows a temporary over-capacity
  of one instance (`maxCapacity += 1`): it starts one new instance *before* killing an old one.
  (Resident apps kill one old instance first instead, going one below `minHealthy`; we have no
  resident apps, so that branch is not implemented.)
* `core/deployment/ScalingProposition.scala` (`sortByConditionAndDate`): which instances go first
  when scaling down.
* `core/launchqueue/impl/RateLimiter.scala` (`Delay.apply`, `Delay.increased`): launch backoff.

Deviations, on purpose:

* The two bounds are computed exactly (`fractions.Fraction` of the decimal value) rather than with
  binary doubles: Scala's `(10 * 0.7).ceil` is 8 because `10 * 0.7 == 7.000000000000001`; ours is 7.
* Unhealthy (or not yet running) old instances are killed at once rather than one per new healthy
  instance: it never lowers the healthy count and frees capacity sooner.
* The kill order within "old instances" is the scaling order below (Marathon sorts old instances by
  health only; we refine ties with the app's `killSelection`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Protocol

from dcos_core.model.task import TaskState

KillSelection = Literal["YOUNGEST_FIRST", "OLDEST_FIRST"]

#: States in which Marathon no longer reaches the instance: killed first when scaling down.
_GONE_STATES = frozenset({TaskState.UNREACHABLE, TaskState.LOST, TaskState.UNKNOWN})


class UpgradeStrategyLike(Protocol):
    """What `replace_step` reads from an app's `upgradeStrategy` (models.UpgradeStrategy)."""

    @property
    def minimum_health_capacity(self) -> float: ...

    @property
    def maximum_over_capacity(self) -> float: ...


@dataclass(frozen=True)
class Candidate:
    """An instance as seen by the replacement and scaling rules.

    `healthy` is None when the app has no health checks (a running instance then counts as
    healthy, as in Marathon's `consideredHealthy`); with health checks and no result yet pass False.
    `killing` marks an instance already asked to die: it still takes capacity but is never healthy
    and is never chosen again.
    """

    task_id: str
    state: str = TaskState.RUNNING
    healthy: bool | None = None
    staged_at: float = 0.0
    started_at: float | None = None
    killing: bool = False

    @property
    def considered_healthy(self) -> bool:
        return not self.killing and self.state == TaskState.RUNNING and self.healthy is not False


#: An instance of an older app version, for `replace_step`.
OldInstance = Candidate


@dataclass(frozen=True)
class ReplaceStep:
    """What to do now: launch `start` more new instances and kill the old `kill` task ids."""

    start: int
    kill: list[str]
    done: bool = False


@dataclass(frozen=True)
class ScaleStep:
    """What to do now: launch `start` more instances and kill the `kill` task ids."""

    start: int
    kill: list[str]


def _exact(x: float) -> Fraction:
    return Fraction(repr(float(x)))


def min_healthy(target: int, strategy: UpgradeStrategyLike) -> int:
    """`ceil(target * minimumHealthCapacity)`.

    Example:
        >>> from types import SimpleNamespace as S
        >>> min_healthy(10, S(minimum_health_capacity=0.7, maximum_over_capacity=0.0))
        7
    """
    return math.ceil(target * _exact(strategy.minimum_health_capacity))


def max_capacity(target: int, strategy: UpgradeStrategyLike) -> int:
    """The most instances (old + new) a replacement may run at once.

    `floor(target * (1 + maximumOverCapacity))`, plus one when that equals `min_healthy` (the
    over-capacity Marathon allows so that a (1, 0) strategy can make progress).

    Example:
        >>> from types import SimpleNamespace as S
        >>> max_capacity(4, S(minimum_health_capacity=1.0, maximum_over_capacity=0.0))
        5
        >>> max_capacity(10, S(minimum_health_capacity=1.0, maximum_over_capacity=0.1))
        11
    """
    cap = math.floor(target * (1 + _exact(strategy.maximum_over_capacity)))
    if cap == min_healthy(target, strategy):
        cap += 1
    return cap


def _weight(c: Candidate) -> int:
    """Lower goes first (ScalingProposition: LOST/UNREACHABLE, UNHEALTHY, STAGING, STARTING...)."""
    if c.state in _GONE_STATES:
        return 0
    if c.state == TaskState.RUNNING and c.healthy is False:
        return 1
    if c.state == TaskState.STAGING:
        return 2
    if c.state == TaskState.STARTING:
        return 3
    if c.state == TaskState.RUNNING:
        return 4
    return 5


def kill_order(
    instances: Sequence[Candidate], kill_selection: KillSelection = "YOUNGEST_FIRST"
) -> list[Candidate]:
    """`instances` sorted so that the first ones are the first to kill.

    Unreachable/lost, then unhealthy, then staging, then starting, then running; within a group by
    `killSelection` on the staging time (staging) or start time (others; no start time goes first).

    Example:
        >>> a = Candidate("a", started_at=1.0)
        >>> b = Candidate("b", started_at=2.0)
        >>> [c.task_id for c in kill_order([a, b])]
        ['b', 'a']
        >>> [c.task_id for c in kill_order([a, b], "OLDEST_FIRST")]
        ['a', 'b']
    """
    youngest = kill_selection == "YOUNGEST_FIRST"

    def key(c: Candidate) -> tuple[int, int, float, str]:
        when = c.staged_at if c.state == TaskState.STAGING else c.started_at
        if when is None:
            return (_weight(c), 0, 0.0, c.task_id)
        return (_weight(c), 1, -when if youngest else when, c.task_id)

    return sorted(instances, key=key)


def replace_step(
    target: int,
    strategy: UpgradeStrategyLike,
    old: Sequence[OldInstance],
    new_started: int,
    new_healthy: int,
    new_pending: int = 0,
    kill_selection: KillSelection = "YOUNGEST_FIRST",
) -> ReplaceStep:
    """One step of Marathon's rolling replacement (RestartApplication) of an app.

    Arguments:
        target: the new version's `instances`.
        old: every non-terminal instance of older versions (including those already `killing`).
        new_started: non-terminal instances of the new version that exist (staging..running).
        new_healthy: how many of those are healthy (running, and passing the health checks if any;
            Marathon also waits for readiness checks).
        new_pending: new instances asked for and not launched yet (still in the launch queue).

    A new instance that failed is simply not counted any more, so it gets relaunched.

    Rules (see the module docstring): healthy old instances are killed only while
    `old_healthy + new_healthy > min_healthy`, unhealthy ones at once; new instances are launched
    while `old + new_started + new_pending < max_capacity` and fewer than `target` exist.

    Example: 3 instances, (1.0, 0.0): start one new instance first.
        >>> from types import SimpleNamespace as S
        >>> s = S(minimum_health_capacity=1.0, maximum_over_capacity=0.0)
        >>> old = [Candidate(f"o{i}", started_at=float(i)) for i in range(3)]
        >>> replace_step(3, s, old, new_started=0, new_healthy=0)
        ReplaceStep(start=1, kill=[], done=False)
        >>> replace_step(3, s, old, new_started=1, new_healthy=1)
        ReplaceStep(start=0, kill=['o2'], done=False)
    """
    if target < 0 or new_started < 0 or new_healthy < 0 or new_pending < 0:
        raise ValueError("counts must be >= 0")
    if new_healthy > new_started:
        raise ValueError("new_healthy cannot exceed new_started")
    if not old and new_healthy >= target:
        return ReplaceStep(start=0, kill=[], done=True)

    lower = min_healthy(target, strategy)
    upper = max_capacity(target, strategy)
    candidates = kill_order([o for o in old if not o.killing], kill_selection)
    healthy = sum(1 for o in old if o.considered_healthy) + new_healthy
    may_kill_healthy = max(0, healthy - lower)

    kill: list[str] = []
    for o in candidates:
        if not o.considered_healthy:
            kill.append(o.task_id)
        elif may_kill_healthy > 0:
            kill.append(o.task_id)
            may_kill_healthy -= 1

    new_total = new_started + new_pending
    left_capacity = max(0, upper - len(old) - new_total)
    start = min(max(0, target - new_total), left_capacity)
    return ReplaceStep(start=start, kill=kill)


def scale_step(
    target: int,
    running: Sequence[Candidate],
    kill_selection: KillSelection = "YOUNGEST_FIRST",
) -> ScaleStep:
    """Plain scaling (ScaleApplication): how many to launch, or which ones to kill.

    `running` holds the app's non-terminal instances; those already `killing` do not count.
    Scaling down kills in `kill_order`: unreachable, unhealthy, staging, starting, then running
    ones per `killSelection` (ScalingProposition.propose / sortByConditionAndDate).

    Example:
        >>> r = [Candidate("a", started_at=1.0), Candidate("b", started_at=2.0),
        ...      Candidate("c", state="TASK_STAGING", staged_at=3.0)]
        >>> scale_step(1, r)
        ScaleStep(start=0, kill=['c', 'b'])
        >>> scale_step(5, r)
        ScaleStep(start=2, kill=[])
    """
    if target < 0:
        raise ValueError("target must be >= 0")
    live = [c for c in running if not c.killing]
    excess = len(live) - target
    if excess <= 0:
        return ScaleStep(start=-excess, kill=[])
    return ScaleStep(start=0, kill=[c.task_id for c in kill_order(live, kill_selection)[:excess]])


def launch_delay(
    failures: int,
    backoff_seconds: float,
    backoff_factor: float,
    max_launch_delay_seconds: float,
) -> float:
    """The launch delay after `failures` consecutive failed (or finished) launches.

    Marathon's RateLimiter: the first failure sets the delay to `min(backoffSeconds,
    maxLaunchDelaySeconds)`; each further one multiplies it by `backoffFactor`, capped at
    `maxLaunchDelaySeconds`. So `min(max, backoff * factor ** (failures - 1))`; 0 without failures.

    Example:
        >>> launch_delay(0, 1, 1.15, 300)
        0.0
        >>> launch_delay(1, 1, 2, 300), launch_delay(3, 1, 2, 300), launch_delay(20, 1, 2, 300)
        (1.0, 4.0, 300.0)
    """
    if failures <= 0:
        return 0.0
    cap = float(max_launch_delay_seconds)
    delay = min(float(backoff_seconds), cap)
    if delay <= 0:
        return 0.0
    try:
        grown = delay * float(backoff_factor) ** (failures - 1)
    except OverflowError:
        return cap
    return min(grown, cap)
