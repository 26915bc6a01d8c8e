"""A marathon-lb-like load balancer: HAProxy kept in step with Marathon's apps and events.

`config` renders `haproxy.cfg` from `/v2/apps?embed=apps.tasks` (pure), `reload` runs HAProxy
in master-worker mode with seamless reloads, `service.run_lb` ties both to Marathon.
"""

from __future__ import annotations

from dcos_core.frameworks.lb.config import Server, Service, backends_from_apps, render_haproxy
from dcos_core.frameworks.lb.reload import HAProxy, HAProxyError
from dcos_core.frameworks.lb.service import run_lb
from dcos_core.frameworks.lb.settings import LbSettings

__all__ = [
    "HAProxy",
    "HAProxyError",
    "LbSettings",
    "Server",
    "Service",
    "backends_from_apps",
    "render_haproxy",
    "run_lb",
]
