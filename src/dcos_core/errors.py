"""The one exception tree of dcos-core.

Every error a user can cause is a `DcosError`; `dcos_core.web` maps the classes to HTTP status
codes in one place (by MRO, so a subclass inherits its parent's status). Messages name the offending
field or id so that the caller can act on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict


class DcosError(Exception):
    """Base of every error raised on purpose by dcos-core."""


class InvalidError(DcosError, ValueError):
    """Bad input: a malformed value, a missing field, an unknown type (HTTP 400)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ValidationDetail(TypedDict):
    """The problems found at one JSON path (`/healthChecks(0)/port`, `/run/cpus`)."""

    path: str
    errors: list[str]


class ObjectNotValidError(InvalidError):
    """Invalid input with every problem found, by JSON path (Marathon's and Metronome's 422).

    Example:
        >>> e = ObjectNotValidError([{"path": "/cpus", "errors": ["got -1, expected 0 or more"]}])
        >>> str(e)
        'Object is not valid: /cpus: got -1, expected 0 or more'
    """

    def __init__(
        self, details: Sequence[ValidationDetail], message: str = "Object is not valid"
    ) -> None:
        self.details = list(details)
        self.message = message
        summary = "; ".join(f"{d['path']}: {', '.join(d['errors'])}" for d in self.details)
        super().__init__(f"{message}: {summary}" if summary else message)

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"message": ..., "details": [{"path": ..., "errors": [...]}]}`."""
        return {
            "message": self.message,
            "details": [{"path": d["path"], "errors": list(d["errors"])} for d in self.details],
        }


class NotFoundError(DcosError, LookupError):
    """A named object (framework, agent, task, file) does not exist (HTTP 404)."""


class ConflictError(DcosError):
    """The request conflicts with the current state (HTTP 409)."""


class ForbiddenError(DcosError):
    """The caller may not do this now (HTTP 403), e.g. a call from a disconnected framework."""


class UnsupportedMediaTypeError(DcosError):
    """Content-Type that the endpoint cannot read (HTTP 415)."""


class PayloadTooLargeError(DcosError):
    """A request body larger than the server's limit (HTTP 413)."""


class NotAcceptableError(DcosError):
    """Accept header that the endpoint cannot satisfy (HTTP 406)."""


class NotLeaderError(DcosError):
    """This master is not the leader; `leader` is the leader's address if known (HTTP 307/503)."""

    def __init__(self, leader: str | None) -> None:
        self.leader = leader
        super().__init__(f"not the leading master; leader is {leader or 'unknown'}")


class NotReadyError(DcosError):
    """The service has not finished recovery yet (HTTP 503)."""


class InsufficientResourcesError(InvalidError):
    """An operation asks for more resources than an offer or agent holds."""


class IsolationError(DcosError):
    """A container could not be created, isolated or destroyed."""


class StoreError(DcosError):
    """The state store failed; stored state is unchanged."""


class ConfigError(InvalidError):
    """A setting (flag, environment variable or config file entry) is invalid."""
