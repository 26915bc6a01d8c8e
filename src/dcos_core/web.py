"""HTTP glue shared by every server: the one place where exceptions become status codes, and
where hostile input is stopped before a handler sees it.

Errors: `STATUS_BY_ERROR` maps exception classes to status codes, looked up by MRO so that a
subclass inherits its parent's status. An API whose clients expect other codes or bodies (Mesos,
Marathon, Chronos, Metronome) has an `ErrorDialect`: the few statuses where it differs and how it
spells the body. `install_error_handlers` picks the dialect by path prefix (`ErrorDialects`).
Any exception that is not a `DcosError` is a bug: it is logged with its traceback and answered
500 in the dialect of the route, never a 4xx.

Every server limits request bodies (`limit_request_bodies`, 413 beyond the limit) and decodes
JSON with `decode_json`: invalid JSON, `NaN`/`Infinity`, numbers out of range and nesting deeper
than `MAX_JSON_DEPTH` are a 400 with the reason, never a 500 (a `RecursionError` or an
`OverflowError` later) and never stored state that cannot be rendered again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Final, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dcos_core.errors import (
    ConflictError,
    DcosError,
    ForbiddenError,
    InvalidError,
    IsolationError,
    NotAcceptableError,
    NotFoundError,
    NotLeaderError,
    NotReadyError,
    ObjectNotValidError,
    PayloadTooLargeError,
    StoreError,
    UnsupportedMediaTypeError,
)

log = logging.getLogger(__name__)

MAX_JSON_DEPTH: Final = 100
"""Levels of nested arrays and objects a request body may have (real API bodies have < 20)."""
MAX_JSON_INT: Final = 2**64
"""Integers in request bodies fit in 64 bits, as in the protobufs behind Mesos' JSON."""

StatusTable = Mapping[type[BaseException], int]

STATUS_BY_ERROR: Final[StatusTable] = {
    InvalidError: 400,
    ForbiddenError: 403,
    NotFoundError: 404,
    NotAcceptableError: 406,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    IsolationError: 500,
    NotLeaderError: 307,
    NotReadyError: 503,
    StoreError: 503,
    DcosError: 500,
}
INTERNAL_ERROR: Final = "internal server error (the server logged it)"
"""The message of an unexpected exception: its text and traceback go to the log only."""


def status_for(exc: BaseException, overrides: StatusTable | None = None) -> int:
    """The HTTP status of `exc`: the first class of its MRO found in `overrides` (a dialect's
    own codes) or in `STATUS_BY_ERROR`; 500 for anything else.

    Example:
        >>> status_for(NotFoundError("x")), status_for(NotFoundError("x"), {NotFoundError: 400})
        (404, 400)
        >>> status_for(KeyError("x"))
        500
    """
    for cls in type(exc).__mro__:
        if overrides and cls in overrides:
            return overrides[cls]
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def message_of(exc: BaseException) -> str:
    """What a client is told: a `DcosError`'s text, never an unexpected exception's."""
    return str(exc) if isinstance(exc, DcosError) else INTERNAL_ERROR


class ErrorDialect(Protocol):
    """How one API spells an error: the statuses where it differs from `STATUS_BY_ERROR`, and
    the response body. `render` is called with the status already decided."""

    @property
    def statuses(self) -> StatusTable: ...

    def render(self, exc: BaseException, status: int) -> Response: ...


@dataclass(frozen=True)
class PlainTextErrors:
    """Mesos' API (`/api/v1`): the message as plain text, which clients print as it is."""

    statuses: StatusTable = field(default_factory=dict)

    def render(self, exc: BaseException, status: int) -> Response:
        return PlainTextResponse(message_of(exc), status_code=status)


@dataclass(frozen=True)
class JsonErrors:
    """dcos-core's JSON routes: `{"message": ...}`, plus `"field"` for an invalid field."""

    statuses: StatusTable = field(default_factory=dict)

    def render(self, exc: BaseException, status: int) -> Response:
        body: dict[str, object] = {"message": message_of(exc)}
        if isinstance(exc, InvalidError) and exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=status)


def details_body(exc: InvalidError) -> dict[str, Any]:
    """Marathon's and Metronome's body for invalid input (HTTP 422): every problem at once.

    Example:
        >>> details_body(InvalidError("expected a number", "run.cpus"))["details"]
        [{'path': '/run/cpus', 'errors': ['run.cpus: expected a number']}]
    """
    if isinstance(exc, ObjectNotValidError):
        return exc.body()
    path = "/" + (exc.field or "").replace(".", "/")
    return {"message": "Object is not valid", "details": [{"path": path, "errors": [str(exc)]}]}


@dataclass(frozen=True)
class MesosphereJsonErrors:
    """Marathon's and Metronome's errors: invalid input is a 422 with `details_body`, any other
    error `{"message": ...}`."""

    statuses: StatusTable = field(default_factory=lambda: {InvalidError: 422})

    def render(self, exc: BaseException, status: int) -> Response:
        if isinstance(exc, InvalidError):
            return JSONResponse(details_body(exc), status_code=status)
        return JSONResponse({"message": message_of(exc)}, status_code=status)


@dataclass(frozen=True)
class ErrorDialects:
    """The dialect of each route of an app: the first matching path prefix, else `default`."""

    default: ErrorDialect
    by_prefix: tuple[tuple[str, ErrorDialect], ...] = ()

    def for_path(self, path: str) -> ErrorDialect:
        for prefix, dialect in self.by_prefix:
            if path.startswith(prefix):
                return dialect
        return self.default

    def response(self, exc: BaseException, path: str) -> Response:
        """The response for `exc` raised while serving `path`."""
        dialect = self.for_path(path)
        status = status_for(exc, dialect.statuses)
        headers = {}
        if isinstance(exc, NotLeaderError):
            if exc.leader:
                headers["Location"] = f"//{exc.leader}{path}"
            else:
                status = 503
        response = dialect.render(exc, status)
        response.headers.update(headers)
        return response


MESOS_ERRORS: Final = ErrorDialects(JsonErrors(), (("/api/v1", PlainTextErrors()),))
"""The master's and the agent's errors: plain text on Mesos' `/api/v1`, JSON elsewhere."""


def install_error_handlers(app: FastAPI, dialects: ErrorDialects = MESOS_ERRORS) -> None:
    """Answer every exception raised by a route of `app` in the dialect of its path.

    `DcosError`s and request-validation errors get their status from `status_for`; any other
    exception is logged and answered 500 (`UnexpectedErrors`). `limit_request_bodies` uses the
    same dialects for its 413.
    """
    app.state.error_dialects = dialects

    async def on_dcos_error(request: Request, exc: Exception) -> Response:
        return dialects.response(exc, request.url.path)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):  # registered for it only
            raise exc
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
        first_field = parts[0].split(":", 1)[0] if parts else None
        invalid = (
            _FieldError("; ".join(parts), first_field)
            if first_field
            else InvalidError("; ".join(parts) or "invalid request")
        )
        return dialects.response(invalid, request.url.path)

    app.add_exception_handler(DcosError, on_dcos_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_middleware(UnexpectedErrors, dialects=dialects)


class _FieldError(InvalidError):
    def __init__(self, message: str, field: str) -> None:
        DcosError.__init__(self, message)
        self.field = field


class UnexpectedErrors:
    """ASGI middleware: an exception that escaped every handler is logged and answered 500.

    Starlette's own last resort answers a bare "Internal Server Error" and raises again; this
    answers in the route's dialect instead. An exception after the response started (a stream
    that broke) cannot change the status: it is raised on.
    """

    def __init__(self, app: ASGIApp, dialects: ErrorDialects) -> None:
        self.app = app
        self.dialects = dialects

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            path = scope.get("path", "")
            log.exception("%s %s failed: internal error", scope.get("method", ""), path)
            await self.dialects.response(exc, path)(scope, receive, send)


# ----------------------------------------------------------------------------------------------
# hostile input: JSON bodies and body sizes

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# brackets to +1/-1 (as signed bytes), everything else to 0
_DEPTH_STEP = bytes(1 if b in b"[{" else 255 if b in b"]}" else 0 for b in range(256))


def _nested_deeper_than(raw: bytes, limit: int) -> bool:
    """True if valid JSON `raw` nests arrays/objects more than `limit` levels deep.

    Works on the bytes at C speed (a 6 MB body in about 0.2 s): drop the strings, map the
    brackets to +1/-1 and take the highest running sum.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    steps = array("b", _JSON_STRING.sub(b"", raw).translate(_DEPTH_STEP))
    return max(accumulate(steps), default=0) > limit


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) >= MAX_JSON_INT:
        raise ValueError(f"integer {text} is out of range (64 bits at most)")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def decode_json(raw: bytes | str) -> Any:
    """Decode a request body; anything a client can get wrong is an `InvalidError` (400)."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        value = json.loads(
            data,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            parse_constant=_no_constant,
        )
    except RecursionError:
        raise InvalidError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidError(f"invalid JSON: {e}") from None
    if _nested_deeper_than(data, MAX_JSON_DEPTH):
        raise InvalidError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


_DECODE_IN_THREAD_BYTES: Final = 64 * 1024


async def read_json(request: Request) -> Any:
    """The request's body decoded with `decode_json` (`None` for an empty body).

    A large body is decoded in a worker thread, so that the event loop (heartbeats, status
    updates, other requests) goes on meanwhile.
    """
    raw = await request.body()
    if not raw.strip():
        return None
    if len(raw) > _DECODE_IN_THREAD_BYTES:
        return await asyncio.to_thread(decode_json, raw)
    return decode_json(raw)


class BodyLimit:
    """ASGI middleware: request bodies larger than `max_bytes` get 413 before any handler runs.

    A `Content-Length` over the limit is refused without reading the body; a chunked body is
    read up to the limit and handed on whole (our APIs take small JSON documents, never streams).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, dialects: ErrorDialects) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.dialects = dialects

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await self._refuse(scope, receive, send, InvalidError("bad Content-Length"))
                return
            if declared > self.max_bytes:
                await self._refuse(scope, receive, send, self._too_large(f"{declared} bytes"))
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, self._too_large("the body"))
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _too_large(self, what: str) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"request body too large: {what} over the limit of {self.max_bytes} bytes"
            " (the server's max_body_size setting)"
        )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: DcosError) -> None:
        response = self.dialects.response(exc, scope.get("path", ""))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def limit_request_bodies(app: FastAPI, max_bytes: int) -> None:
    """Refuse request bodies over `max_bytes` (0: no limit) on `app` with 413, in the error
    dialects that `install_error_handlers` gave `app` (Mesos' without them)."""
    dialects = getattr(app.state, "error_dialects", MESOS_ERRORS)
    app.add_middleware(BodyLimit, max_bytes=max_bytes, dialects=dialects)
