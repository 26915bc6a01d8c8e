"""`serve.listen`: the daemons' listening socket."""

from __future__ import annotations

import asyncio
import socket

import pytest

from dcos_core.serve import ListenError, listen


async def test_accepted_connections_have_nagle_off() -> None:
    """Small writes (status updates, acknowledgements) go out at once. With a socket made without
    IPPROTO_TCP, asyncio left Nagle on and a Marathon rollback took 12-34 s instead of 4."""
    sock = listen("127.0.0.1", 0)
    nodelay: list[int] = []

    def on_connect(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        raw = w.get_extra_info("socket")
        nodelay.append(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        w.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    async with server:
        _r, w = await asyncio.open_connection(*sock.getsockname())
        for _ in range(100):
            if nodelay:
                break
            await asyncio.sleep(0.01)
        w.close()
    assert nodelay == [1]


def test_a_port_in_use_is_one_line() -> None:
    taken = listen("127.0.0.1", 0)
    port = taken.getsockname()[1]
    with pytest.raises(ListenError) as e:
        listen("127.0.0.1", port, "master")
    assert str(e.value).startswith(f"master cannot listen on 127.0.0.1:{port}: the address is")
    taken.close()
