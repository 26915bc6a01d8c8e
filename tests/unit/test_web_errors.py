"""Errors to HTTP: one status table (`dcos_core.web`) and each API's dialect of the body.

A bug (an exception that is not a `DcosError`) is a 500 in every API, never a 4xx, with the body
shape that API's clients read, and its text stays in the server's log. The stores below break
the way a bug would: a `put` that raises something no handler expects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import StreamingResponse

from dcos_core.clock import FakeClock
from dcos_core.errors import (
    ConflictError,
    InvalidError,
    NotFoundError,
    NotLeaderError,
    StoreError,
)
from dcos_core.frameworks.chronos.api import create_chronos_app
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.frameworks.marathon.api import create_marathon_app
from dcos_core.frameworks.marathon.repository import Repository
from dcos_core.frameworks.marathon.service import Marathon
from dcos_core.state.memory import InMemoryStore
from dcos_core.state.store import JsonValue
from dcos_core.web import INTERNAL_ERROR, install_error_handlers, limit_request_bodies

BUG = "bug: the store's disk is a teapot"


class BuggyStore(InMemoryStore):
    """Reads work; every write fails with an exception nobody maps (a bug, not a StoreError)."""

    def put(self, key: str, value: JsonValue, expected_version: int | None = None) -> int:
        raise RuntimeError(BUG)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def marathon() -> AsyncIterator[httpx.AsyncClient]:
    m = Marathon(Repository(BuggyStore()), clock=FakeClock(1000.0))
    async with client(create_marathon_app(m)) as h:
        yield h


@pytest.fixture
async def chronos() -> AsyncIterator[httpx.AsyncClient]:
    c = Chronos(BuggyStore(), clock=FakeClock(1767225600.0))
    async with client(create_chronos_app(c)) as h:
        yield h


async def test_a_bug_in_marathon_is_a_500_with_marathons_message_body(
    marathon: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="dcos_core.web"):
        r = await marathon.post("/v2/apps", json={"id": "/web", "cmd": "sleep 1"})
    assert (r.status_code, r.json()) == (500, {"message": INTERNAL_ERROR})
    assert BUG not in r.text  # the client is not told the internals...
    assert BUG in caplog.text and "POST /v2/apps" in caplog.text  # ...the log is
    metrics = (await marathon.get("/metrics")).json()
    assert metrics["meters"]["marathon.http.responses.5xx.rate"]["count"] == 1


async def test_marathon_keeps_its_4xx_bodies(marathon: httpx.AsyncClient) -> None:
    r = await marathon.get("/v2/apps/nope")
    assert (r.status_code, r.json()) == (404, {"message": "App '/nope' does not exist"})
    r = await marathon.post("/v2/apps", json={"id": "/web", "cmd": "x", "cpus": -1})
    assert r.status_code == 422
    assert r.json() == {
        "message": "Object is not valid",
        "details": [{"path": "/cpus", "errors": ["got -1.0, expected 0.0 or more"]}],
    }


@pytest.mark.parametrize("prefix", ["/scheduler", "/v1/scheduler"])
async def test_a_bug_in_chronos_is_a_500_with_chronos_status_body(
    chronos: httpx.AsyncClient, prefix: str
) -> None:
    job = {"name": "n", "command": "true", "schedule": "R/2026-01-02T00:00:00Z/P1D"}
    r = await chronos.post(f"{prefix}/iso8601", json=job)
    assert r.status_code == 500
    assert r.json() == {"status": "Internal Server Error", "message": INTERNAL_ERROR}


async def test_chronos_keeps_its_400_for_an_unknown_job(chronos: httpx.AsyncClient) -> None:
    r = await chronos.put("/scheduler/job/nope")
    assert r.status_code == 400 and r.json()["status"] == "Bad Request"
    assert "nope" in r.json()["message"]


async def test_a_bug_in_metronome_is_a_500_with_a_message_body(chronos: httpx.AsyncClient) -> None:
    job = {"id": "prod.backup", "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0}}
    r = await chronos.post("/v1/jobs", json=job)
    assert (r.status_code, r.json()) == (500, {"message": INTERNAL_ERROR})
    r = await chronos.get("/v1/jobs/nope")
    assert (r.status_code, r.json()) == (404, {"message": "Job 'nope' does not exist"})


# ---- the Mesos dialect (master and agent), on an app with routes that raise what they are told


def mesos_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    limit_request_bodies(app, 10)
    raised: dict[str, Exception] = {
        "bug": KeyError("agent-7"),
        "invalid": InvalidError("expected a number", "weight"),
        "missing": NotFoundError("no framework 'f1'"),
        "conflict": ConflictError("taken"),
        "store": StoreError("disk full"),
        "follower": NotLeaderError("10.0.0.2:5050"),
        "election": NotLeaderError(None),
    }

    async def fail(name: str) -> Any:
        raise raised[name]

    async def broken_stream() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            raise RuntimeError("the stream broke")

        return StreamingResponse(body())

    app.get("/api/v1/{name}")(fail)
    app.get("/master/{name}")(fail)
    app.post("/master/{name}")(fail)
    app.get("/stream")(broken_stream)
    return app


@pytest.fixture
async def mesos() -> AsyncIterator[httpx.AsyncClient]:
    async with client(mesos_app()) as h:
        yield h


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("bug", 500, INTERNAL_ERROR),
        ("invalid", 400, "weight: expected a number"),
        ("missing", 404, "no framework 'f1'"),
        ("conflict", 409, "taken"),
        ("store", 503, "disk full"),
        ("election", 503, "not the leading master; leader is unknown"),
    ],
)
async def test_mesos_api_errors_are_plain_text_elsewhere_json(
    mesos: httpx.AsyncClient, name: str, status: int, text: str
) -> None:
    r = await mesos.get(f"/api/v1/{name}")
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"].startswith("text/plain")
    r = await mesos.get(f"/master/{name}")
    assert (r.status_code, r.json()["message"]) == (status, text)


async def test_json_errors_name_the_invalid_field(mesos: httpx.AsyncClient) -> None:
    r = await mesos.get("/master/invalid")
    assert r.json() == {"message": "weight: expected a number", "field": "weight"}


async def test_a_follower_redirects_to_the_leader(mesos: httpx.AsyncClient) -> None:
    r = await mesos.get("/api/v1/follower")
    assert r.status_code == 307
    assert r.headers["location"] == "//10.0.0.2:5050/api/v1/follower"


async def test_body_limit_answers_413_in_the_routes_dialect(mesos: httpx.AsyncClient) -> None:
    r = await mesos.post("/master/bug", content=b"x" * 11)
    assert r.status_code == 413 and r.json()["message"].startswith("request body too large")
    r = await mesos.post("/api/v1/bug", content=b"x" * 11)
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/plain")


async def test_a_stream_that_breaks_after_its_start_is_not_turned_into_a_500() -> None:
    transport = httpx.ASGITransport(app=mesos_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as h:
        with pytest.raises(RuntimeError, match="the stream broke"):
            await h.get("/stream")
