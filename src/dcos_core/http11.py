"""A small keep-alive HTTP/1.1 client for the daemons' internal JSON calls.

The master <-> agent protocol is a handful of JSON POSTs on a hot path (three status updates and
their acknowledgements per task). A general client (httpx) costs about a millisecond of CPU per
request in its machinery; this one writes the request and parses the response head by hand, on
asyncio streams, with a bounded pool of kept-alive connections per base URL.

What it does: POST (and GET) with a body and Content-Length; responses with Content-Length or
chunked bodies; a per-request timeout; one retry on a fresh connection when a *reused* connection
turns out to be closed by the server (the keep-alive race); up to 3 redirects (307/308, e.g. a
non-leading master). TLS plugs in here (an `ssl.SSLContext` for `https://`) when security comes.
Errors are `HttpError` (connection refused, reset, timeout, malformed answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

_MAX_HEAD: Final = 64 * 1024
_MAX_REDIRECTS: Final = 3


class HttpError(Exception):
    """The request could not be completed (nothing can be said about its effect)."""


class HttpConnectError(HttpError):
    """No connection could be made: the request was certainly not delivered."""


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class _Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> _Origin:
        u = urlsplit(url if "://" in url else f"http://{url}")
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        return cls(u.scheme, u.hostname, u.port or (443 if u.scheme == "https" else 80))

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class HttpClient:
    """Kept-alive connections to one origin (`base_url`), at most `size` at a time.

    Example:
        >>> client = HttpClient("http://127.0.0.1:5050", timeout=5)
        >>> # resp = await client.post("/internal/agent/heartbeat", b'{"agent_id": "S1"}')
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        size: int = 8,
        ssl_context: ssl.SSLContext | None = None,
        follow_redirects: bool = True,
    ) -> None:
        self.origin = _Origin.parse(base_url)
        self.follow_redirects = follow_redirects
        self.timeout = timeout
        self._ssl = ssl_context
        self._idle: deque[_Conn] = deque()
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    async def post(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/json",
        *,
        idempotent: bool = True,
    ) -> Response:
        """POST `body`. With `idempotent=False` a request that failed on a reused connection is
        not resent (it may have been received): `HttpError` instead."""
        return await self.request(
            "POST", path, body, {"Content-Type": content_type}, idempotent=idempotent
        )

    async def get(self, path: str) -> Response:
        return await self.request("GET", path)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        idempotent: bool = True,
    ) -> Response:
        origin, target = self.origin, path
        for _ in range(_MAX_REDIRECTS + 1):
            resp = await self._request_once(origin, method, target, body, headers or {}, idempotent)
            if (
                not self.follow_redirects
                or resp.status not in (307, 308)
                or "location" not in resp.headers
            ):
                return resp
            loc = resp.headers["location"]
            if "://" in loc:
                u = urlsplit(loc)
                origin = _Origin.parse(f"{u.scheme}://{u.netloc}")
                target = (u.path or "/") + (f"?{u.query}" if u.query else "")
            else:
                target = loc
        raise HttpError(f"{method} {path}: too many redirects")

    async def _request_once(
        self,
        origin: _Origin,
        method: str,
        target: str,
        body: bytes,
        headers: dict[str, str],
        idempotent: bool,
    ) -> Response:
        head = [f"{method} {target} HTTP/1.1", f"Host: {origin.netloc}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        same = origin == self.origin
        async with self._slots:
            for attempt in (0, 1):
                conn = self._take() if same and attempt == 0 else None
                reused = conn is not None
                try:
                    async with asyncio.timeout(self.timeout):
                        if conn is None:
                            conn = await self._connect(origin)
                        conn.writer.write(data)
                        resp, keep = await _read_response(conn.reader, method)
                except TimeoutError:
                    if conn is not None:
                        conn.close()
                    raise HttpError(
                        f"{method} {origin.netloc}{target}: no answer in {self.timeout:g} s"
                    ) from None
                except (
                    OSError,  # after TimeoutError, a subclass
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                ) as e:
                    if conn is not None:
                        conn.close()
                    if reused and idempotent:  # closed by the server while idle: retry once
                        continue
                    raise HttpError(f"{method} {origin.netloc}{target}: {e!r}") from None
                except ValueError as e:
                    if conn is not None:
                        conn.close()
                    raise HttpError(f"{method} {origin.netloc}{target}: bad answer: {e}") from None
                if keep and same and not self._closed:
                    self._idle.append(conn)
                else:
                    conn.close()
                return resp
        raise HttpError(f"{method} {origin.netloc}{target}: connection closed")

    def _take(self) -> _Conn | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof():
                return conn
            conn.close()
        return None

    async def _connect(self, origin: _Origin) -> _Conn:
        ctx = self._ssl if origin.scheme == "https" else None
        if origin.scheme == "https" and ctx is None:
            ctx = ssl.create_default_context()
        try:
            reader, writer = await asyncio.open_connection(
                origin.host, origin.port, ssl=ctx, limit=_MAX_HEAD
            )
        except OSError as e:
            raise HttpConnectError(f"cannot connect to {origin.netloc}: {e}") from None
        return _Conn(reader, writer)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[Response, bool]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers), keep
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return Response(status, headers, b"".join(chunks)), keep
    if "content-length" in headers:
        return Response(
            status, headers, await reader.readexactly(int(headers["content-length"]))
        ), keep
    return Response(status, headers, await reader.read()), False
