"""HTTP glue shared by every server: the one place where errors become status codes.

`status_for` looks the exception's class up by MRO, so a subclass inherits its parent's status.
Mesos API routes (`/api/v1...`) answer errors in plain text as Mesos does (clients print the
body); every other route answers `{"message": ..., "field": ...}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

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
    StoreError,
    UnsupportedMediaTypeError,
)

STATUS_BY_ERROR: Final[dict[type[DcosError], int]] = {
    InvalidError: 400,
    ForbiddenError: 403,
    NotFoundError: 404,
    NotAcceptableError: 406,
    ConflictError: 409,
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
