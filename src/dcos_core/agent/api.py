"""`create_agent_app(agent)`: the agent's HTTP API.

* `/internal/*`: the master's calls of `dcos_core.protocol.internal` (202, or 400 with a message);
* `/state` (`/slave(1)/state`), `/files/browse`, `/files/read`, `/monitor/statistics`, `/health`,
  `/version`, `/metrics/snapshot` (JSON, Mesos agent metric names) and `/metrics` (Prometheus
  text): what operators and tools read from a Mesos agent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response

from dcos_core import MESOS_COMPAT_VERSION, __version__
from dcos_core.agent import metrics as agent_metrics
from dcos_core.agent.files import SandboxFiles
from dcos_core.agent.service import Agent
from dcos_core.agent.state_view import agent_state
from dcos_core.metrics import PROMETHEUS_CONTENT_TYPE
from dcos_core.protocol.internal import Acknowledge, KillTask, RunTask, ShutdownFramework
from dcos_core.web import install_error_handlers


def _agent(request: Request) -> Agent:
    agent: Agent = request.app.state.agent
    return agent


def _files(request: Request) -> SandboxFiles:
    files: SandboxFiles = request.app.state.files
    return files


AgentDep = Annotated[Agent, Depends(_agent)]
FilesDep = Annotated[SandboxFiles, Depends(_files)]
_ACCEPTED: dict[str, Any] = {}


def create_agent_app(agent: Agent) -> FastAPI:
    """Build the agent's FastAPI app around `agent` (no side effects until served)."""
    app = FastAPI(title="dcos-core agent", version=__version__, docs_url=None, redoc_url=None)
    app.state.agent = agent
    app.state.files = SandboxFiles(agent.config.work_dir / "slaves")
    install_error_handlers(app)

    # ---- master -> agent ---------------------------------------------------------------

    @app.post("/internal/run_task", status_code=202)
    async def run_task(body: RunTask, agent: AgentDep) -> dict[str, Any]:
        agent.run_task(body)
        return _ACCEPTED

    @app.post("/internal/kill_task", status_code=202)
    async def kill_task(body: KillTask, agent: AgentDep) -> dict[str, Any]:
        agent.kill_task(body)
        return _ACCEPTED

    @app.post("/internal/acknowledge", status_code=202)
    async def acknowledge(body: Acknowledge, agent: AgentDep) -> dict[str, Any]:
        agent.acknowledge(body)
        return _ACCEPTED

    @app.post("/internal/shutdown_framework", status_code=202)
    async def shutdown_framework(body: ShutdownFramework, agent: AgentDep) -> dict[str, Any]:
        agent.shutdown_framework(body)
        return _ACCEPTED

    # ---- operators -----------------------------------------------------------------------

    @app.get("/state")
    @app.get("/slave(1)/state")
    async def state(agent: AgentDep) -> dict[str, Any]:
        return agent_state(agent)

    @app.get("/files/browse")
    async def browse(files: FilesDep, path: Annotated[str, Query()]) -> list[dict[str, Any]]:
        return files.browse(path)

    @app.get("/files/read")
    async def read(
        files: FilesDep,
        path: Annotated[str, Query()],
        offset: Annotated[int, Query()] = 0,
        length: Annotated[int | None, Query()] = None,
    ) -> dict[str, Any]:
        return files.read(path, offset, length)

    @app.get("/monitor/statistics")
    @app.get("/monitor/statistics.json")
    async def statistics(agent: AgentDep) -> list[dict[str, Any]]:
        return await agent.statistics()

    @app.get("/metrics/snapshot")
    async def metrics_snapshot(agent: AgentDep) -> dict[str, float]:
        return agent_metrics.metrics_snapshot(agent)

    @app.get("/metrics")
    async def metrics_prometheus(agent: AgentDep) -> Response:
        return Response(agent_metrics.prometheus_text(agent), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/version")
    async def version() -> dict[str, Any]:
        return {
            "version": MESOS_COMPAT_VERSION,
            "dcos_core_version": __version__,
            "build_user": "dcos-core",
            "build_date": "",
            "build_time": 0,
        }

    return app
