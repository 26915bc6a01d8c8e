"""The internal HTTP/1.1 client against tiny raw servers on 127.0.0.1 (behaviour on the wire)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from dcos_core.http11 import HttpClient, HttpError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def read_request(r: asyncio.StreamReader) -> tuple[str, bytes]:
    head = (await r.readuntil(b"\r\n\r\n")).decode()
    length = 0
    for line in head.split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":")[1])
    return head.split("\r\n")[0], await r.readexactly(length)


def reply(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def test_posts_reuse_one_kept_alive_connection() -> None:
    connections = 0

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                line, body = await read_request(r)
            except asyncio.IncompleteReadError:
                return
            w.write(reply(line.encode() + b" " + body))
            await w.drain()

    server, port = await serve(handler)
    client = HttpClient(f"http://127.0.0.1:{port}")
    for i in range(5):
        resp = await client.post("/p", f"{i}".encode())
        assert resp.status == 200
        assert resp.body == f"POST /p HTTP/1.1 {i}".encode()
    assert connections == 1
    await client.close()
    server.close()


async def test_a_connection_closed_by_the_server_is_retried_once_on_a_new_one() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(reply(b"ok"))  # no "Connection: close", but the server closes anyway
        await w.drain()
        w.close()

    server, port = await serve(handler)
    client = HttpClient(f"http://127.0.0.1:{port}")
    assert (await client.post("/a", b"1")).body == b"ok"
    await asyncio.sleep(0.05)
    assert (await client.post("/a", b"2")).body == b"ok"
    await client.close()
    server.close()


async def test_chunked_bodies_redirects_and_connection_close() -> None:
    async def target(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        await w.drain()
        w.close()

    t_server, t_port = await serve(target)

    async def redirector(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(reply(b"", "307 Temporary Redirect", f"Location: http://127.0.0.1:{t_port}/x\r\n"))
        await w.drain()

    r_server, r_port = await serve(redirector)
    client = HttpClient(f"http://127.0.0.1:{r_port}")
    resp = await client.post("/api", b"{}")
    assert (resp.status, resp.body) == (202, b"abcde")
    await client.close()
    t_server.close()
    r_server.close()


async def test_refused_and_silent_servers_raise_http_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HttpError, match=r"127\.0\.0\.1"):
        await HttpClient(f"http://127.0.0.1:{port}", timeout=2).post("/x", b"")

    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server, sport = await serve(silent)
    with pytest.raises(HttpError, match=r"no answer in 0\.2 s"):
        await HttpClient(f"http://127.0.0.1:{sport}", timeout=0.2).post("/x", b"")
    server.close()


async def test_garbage_is_a_bad_answer() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await w.drain()

    server, port = await serve(handler)
    with pytest.raises(HttpError, match="bad answer"):
        await HttpClient(f"http://127.0.0.1:{port}").post("/x", b"")
    server.close()
