"""HTTP glue shared by every server: the one place where errors become status codes, and where
hostile input is stopped before a handler sees it.

`status_for` looks the exception's class up by MRO, so a subclass inherits its parent's status.
Mesos API routes (`/api/v1...`) answer errors in plain text as Mesos does (clients print the
body); every other route answers `{"message": ..., "field": ...}`.

Every server limits request bodies (`limit_request_bodies`, 413 beyond the limit) and decodes
JSON with `decode_json`: invalid JSON, `NaN`/`Infinity`, numbers out of range and nesting deeper
than `MAX_JSON_DEPTH` are a 400 with the reason, never a 500 (a `RecursionError` or an
`OverflowError` later) and never stored state that cannot be rendered again.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from array import array
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Final

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
    PayloadTooLargeError,
    StoreError,
    UnsupportedMediaTypeError,
)

MAX_JSON_DEPTH: Final = 100
"""Levels of nested arrays and objects a request body may have (real API bodies have < 20)."""
MAX_JSON_INT: Final = 2**64
"""Integers in request bodies fit in 64 bits, as in the protobufs behind Mesos' JSON."""

STATUS_BY_ERROR: Final[dict[type[DcosError], int]] = {
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


def status_for(exc: BaseException) -> int:
    """The HTTP status of an exception, by the first class of its MRO found in the table."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_response(exc: DcosError, path: str, plain_prefixes: Sequence[str]) -> Response:
    status = status_for(exc)
    headers = {}
    if isinstance(exc, NotLeaderError):
        if exc.leader:
            headers["Location"] = f"//{exc.leader}{path}"
        else:
            status = 503
    if any(path.startswith(p) for p in plain_prefixes):
        return PlainTextResponse(str(exc), status_code=status, headers=headers)
    body: dict[str, object] = {"message": str(exc)}
    field = getattr(exc, "field", None)
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, plain_prefixes: Sequence[str] = ("/api/v1",)) -> None:
    """Map `DcosError` and request-validation errors to 4xx/5xx responses on `app`."""

    async def on_dcos_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, DcosError):  # registered for DcosError only
            raise exc
        return error_response(exc, request.url.path, plain_prefixes)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):
            raise exc
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
        first_field = parts[0].split(":", 1)[0] if parts else None
        return error_response(
            InvalidError("; ".join(parts) or "invalid request", None)
            if not first_field
            else _FieldError("; ".join(parts), first_field),
            request.url.path,
            plain_prefixes,
        )

    app.add_exception_handler(DcosError, on_dcos_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)


class _FieldError(InvalidError):
    def __init__(self, message: str, field: str) -> None:
        DcosError.__init__(self, message)
        self.field = field


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

    def __init__(self, app: ASGIApp, max_bytes: int, plain_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.plain_prefixes = tuple(plain_prefixes)

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
        response = error_response(exc, scope.get("path", ""), self.plain_prefixes)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def limit_request_bodies(app: FastAPI, max_bytes: int, plain_prefixes: Sequence[str] = ()) -> None:
    """Refuse request bodies over `max_bytes` (0: no limit) on `app` with 413."""
    app.add_middleware(BodyLimit, max_bytes=max_bytes, plain_prefixes=plain_prefixes)
