"""Deploy a dcos-core cluster: `pyinfra -y inventories/prod.py deploy.py` (see docs/deploy.md).

pyinfra runs this file once per host (in parallel) to collect that host's operations, then
executes the operations in the order they appear here, each on all its hosts before the next:

1. every host: packages, system user, directories, the wheelhouse (built once per run on this
   machine, before any operation, and uploaded only when its checksum changed);
2. masters (`masters`): the code, `dcos-master`; restarts one master at a time, each waiting
   for `/health`;
3. the frameworks on the (first) master: `dcos-marathon`, `dcos-chronos`;
4. agents (`agents`, `public_agents`): the code, `dcos-agent` (+ `dcos-lb` with HAProxy on public
   agents); restarts in batches of `agent_upgrade_batch`, each waiting for the agent to rejoin.

A service restarts only when its code, configuration or unit changed; a second run without
changes reports no change on every host. Settings: the model `DeploySettings` in
roles/settings.py (table in docs/deploy.md); a host with a bad setting stops the deploy before any
operation.

A host of group `images` (`inventories/image.py`, run by Packer) is a VM being baked into an
appliance image: it gets the code and units of every role and the first-boot unit, and nothing
enabled (roles/appliance).
"""

import sys
from pathlib import Path

_root = str(Path(__file__).resolve().parent)
if _root not in sys.path:  # `pyinfra --chdir` or a deploy started from another directory
    sys.path.insert(0, _root)

from pyinfra import config, host, inventory, logger  # noqa: E402
from pyinfra.api.exceptions import PyinfraError  # noqa: E402

from roles import settings  # noqa: E402
from roles.agent import agent  # noqa: E402
from roles.appliance import appliance  # noqa: E402
from roles.common import common, phase  # noqa: E402
from roles.frameworks import frameworks  # noqa: E402
from roles.master import master  # noqa: E402

# A host that fails (e.g. a master that does not come back after its restart) stops the whole
# deploy instead of letting the rollout continue (`--fail-percent N` overrides).
if config.FAIL_PERCENT is None:
    config.FAIL_PERCENT = 0

_masters = inventory.get_group(settings.MASTERS, [])
if len(_masters) > 1 and host == _masters[0]:
    logger.warning(
        f"{len(_masters)} hosts in `masters`: until high availability (ZooKeeper) lands, agents "
        f"and frameworks use the first one ({host.name}), which alone runs Marathon and Chronos;"
        " the others run idle masters"
    )

roles = settings.host_roles(host.groups)
if roles or settings.IMAGES in host.groups:
    try:  # every bad setting of this host on one line, before any host gets an operation
        settings.resolve()
    except settings.SettingsError as e:
        raise PyinfraError(str(e)) from None
if settings.IMAGES in host.groups:  # a VM baked into an appliance image (packer/, appliance/)
    appliance()
elif not roles:
    logger.warning(f"{host.name}: in none of the groups masters, agents, public_agents: skipped")
else:
    # Every host passes each `phase` barrier, so a phase starts only when the previous one is
    # done on every host (pyinfra would otherwise interleave the roles' operations).
    common()
    phase(name="--- masters ---", label="masters")
    if "master" in roles:
        master()
    phase(name="--- frameworks ---", label="frameworks")
    if "master" in roles and host == _masters[0]:  # one Marathon, one Chronos (until HA)
        frameworks()
    phase(name="--- agents ---", label="agents")
    if "agent" in roles:
        agent()
