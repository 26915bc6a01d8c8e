"""The agent role: `dcos-agent` on `agents` and `public_agents`, plus `dcos-lb` on public agents.

- the Docker engine (`docker.io`) and the docker containerizer only when `docker_enabled`, its
  `/etc/docker/daemon.json` from `docker_options` (written before the package is installed, so
  the engine's first start already uses it; the engine restarts when it changes);
- restarts in batches of `agent_upgrade_batch` hosts (`_parallel=N`): each restart waits until the
  agent has re-registered (the agent says so and the master lists its id as active) before the
  next batch starts. The unit's `KillMode=process` and the agent's `recover = "reconnect"` keep
  the tasks running across the restart (same PIDs): the new agent re-attaches to them;
- public agents: the Debian `haproxy` package (its own `haproxy.service` disabled and stopped:
  `dcos-lb` runs HAProxy itself) and `dcos-lb` fed by Marathon.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from roles import settings
from roles.common import activate_code, debs
from roles.service import service

TEMPLATES = Path(__file__).parent / "templates"


def rejoin_wait(s: dict) -> str:
    """The command that waits until a restarted agent is registered with the master again."""
    return (
        f"{s['wait']} agent --agent http://{s['local']}:{s['agent_port']}"
        f" --master http://{s['master']} --timeout {s['restart_timeout']}"
    )


def lb_wait(s: dict) -> str | None:
    """The command that waits for a restarted load balancer (its HAProxy health URI)."""
    if not s["lb_stats_port"]:
        return None
    local = s["local"] if s["lb_bind"] in ("0.0.0.0", "::") else s["lb_bind"]
    return (
        f"{s['wait']} http http://{local}:{s['lb_stats_port']}/_haproxy_health_check"
        f" --timeout {s['restart_timeout']}"
    )


@deploy("dcos-core agent", data_defaults=settings.defaults())
def agent() -> None:
    """Install the code and run `dcos-core agent` (as root)."""
    s = settings.resolve()
    if s["docker_enabled"]:
        docker_engine(s)
    code = activate_code()
    files.directory(
        name="agent work dir",
        path=f"{s['data_dir']}/agent",
        user="root",
        group="root",
        mode="755",
    )
    service(s, "agent", TEMPLATES, code, rejoin_wait(s), _parallel=s["agent_upgrade_batch"])
    if "public_agent" in s["install_roles"]:
        load_balancer(s, code)


def docker_engine(s: dict) -> None:
    """The Docker engine: daemon.json, the `docker.io` package, restarted only when it changed."""
    daemon_json = files.put(
        name="/etc/docker/daemon.json",
        src=StringIO(s["docker_daemon_json"]),
        dest="/etc/docker/daemon.json",
        user="root",
        group="root",
        mode="644",
        create_remote_dir=True,
    )
    debs(name="Debian package: docker.io", packages=["docker.io"])
    if s["image"]:  # started at first boot with the agent (its unit wants docker.service)
        systemd.service(
            name="docker disabled until first boot",
            service="docker.service",
            running=False,
            enabled=False,
        )
        return
    systemd.service(
        name="docker restarted (daemon.json changed)",
        service="docker.service",
        restarted=True,
        _if=any_changed(daemon_json),
    )
    systemd.service(
        name="docker enabled and running", service="docker.service", running=True, enabled=True
    )


def load_balancer(s: dict, code: OperationMeta) -> None:
    """HAProxy and `dcos-lb` on a public agent."""
    debs(name="Debian package: haproxy", packages=["haproxy"])
    systemd.service(
        name="Debian haproxy.service disabled and stopped (dcos-lb runs HAProxy)",
        service="haproxy.service",
        running=False,
        enabled=False,
    )
    files.directory(
        name="lb work dir", path=f"{s['data_dir']}/lb", user="root", group="root", mode="755"
    )
    service(s, "lb", TEMPLATES, code, lb_wait(s))
