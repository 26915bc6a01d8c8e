"""The framework runtime: what every framework on the SDK shares.

* `driver.Driver`: the calls a service makes (the SDK's `SchedulerDriver` is one);
  `RecordingDriver` records them instead.
* `plan.LaunchPlan`: a round of offers decided (launches per offer, offers declined), sent by
  `plan.execute`; `Kill`s sent by `send_kills`; `ReviveTimer` says when to REVIVE.
* `loop.tick_loop`: a service's periodic work, every interval and soon after a wake-up.
* `settings.FrameworkSettings`: the settings every framework process has.
* `run.run_framework`: subscribe, serve, signals and shutdown (and, later, leader election).

A framework keeps only its own decisions (`frameworks/<name>/service.py`) and its settings
(`frameworks/<name>/settings.py`).
"""

from __future__ import annotations

from dcos_core.frameworks.runtime.driver import Driver, RecordingDriver
from dcos_core.frameworks.runtime.loop import tick_loop
from dcos_core.frameworks.runtime.plan import Kill, LaunchPlan, ReviveTimer, execute, send_kills
from dcos_core.frameworks.runtime.settings import FrameworkSettings

__all__ = [
    "Driver",
    "FrameworkSettings",
    "Kill",
    "LaunchPlan",
    "RecordingDriver",
    "ReviveTimer",
    "execute",
    "send_kills",
    "tick_loop",
]
