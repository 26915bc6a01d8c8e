"""The driver the Chronos unit tests use: the runtime's `RecordingDriver` (no master).

`tasks` holds every TaskInfo sent in an ACCEPT, `killed` every task id killed; `launched` is
the task ids of `tasks`.
"""

from __future__ import annotations

from dcos_core.frameworks.runtime import RecordingDriver

__all__ = ["RecordingDriver"]
