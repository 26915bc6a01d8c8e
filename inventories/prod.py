"""Example production inventory: copy it, list your hosts, run the deploy.

    pyinfra -y inventories/prod.py deploy.py                  # deploy / re-run (day 2)
    pyinfra inventories/prod.py deploy.py --dry               # show what would change
    pyinfra -y inventories/prod.py deploy.py --limit agents   # only the agents (masters untouched)
    pyinfra -y inventories/prod.py deploy.py --limit a3.dc1.example.com   # one new agent
    pyinfra inventories/prod.py debug-inventory               # the merged data of every host
    pyinfra -y inventories/prod.py deploy.py --data agent_upgrade_batch=3  # one-off override

Groups (any host may be in several):
- `masters`: the master, Marathon and Chronos. Until high availability (ZooKeeper) the first
  master is the one agents and frameworks use (`master_address`);
- `agents`: private agents, where tasks run;
- `public_agents`: agents that also run the load balancer (`dcos-lb` with HAProxy) for apps
  with `HAPROXY_GROUP=external`.

Hosts need only SSH access as root (or a sudoer: set `_sudo = True` in `all_data` below) and
Debian 12; they need no internet access: the code comes as a wheelhouse built on this machine,
and apt only has to reach its mirror (or `apt_proxy`). A bare host list works: every setting has a
default (roles/settings.py; docs/deploy.md).

Data precedence, highest first: `--data key=value` on the command line, host data (the dict
next to a host), group data (the dict after a group's host list, or `group_data/<group>.py`),
`group_data/all.py`, then the defaults of roles/settings.py.
"""

# Settings for every host. pyinfra reads data for all hosts from `group_data/all.py`; to keep this
# example in one file each group below starts from this dict instead.
all_data = {
    "ssh_user": "root",
    # "ssh_key": "~/.ssh/dcos_ed25519",
    # "_sudo": True,                      # when ssh_user is not root
    "cluster_name": "dc1",
    # "apt_proxy": "http://apt-cache.dc1.example.com:3142",
    # "docker_enabled": True,             # Docker engine + docker containerizer on agents
    # "agent_upgrade_batch": 2,           # agents restarted at once on upgrades (cluster-wide)
}

masters = (
    [
        # The SSH address may be a name; give `ip` when the private address (the one services
        # listen on and advertise) is not what the name resolves to on this machine.
        ("m1.dc1.example.com", {"ip": "10.0.0.10"}),
    ],
    {**all_data, "master_options": {"weights": "prod=3,dev=1"}},
)

agents = (
    [
        ("a1.dc1.example.com", {"ip": "10.0.1.11", "agent_attributes": {"rack": "r1"}}),
        ("a2.dc1.example.com", {"ip": "10.0.1.12", "agent_attributes": {"rack": "r2"}}),
        (
            "a3.dc1.example.com",
            {
                "ip": "10.0.1.13",
                "agent_attributes": {"rack": "r2", "gpu": "none"},
                # Offer less than the machine has (None = discovered).
                "agent_resources": {"cpus": 6, "mem": 12288, "ports": "[31000-32000]"},
            },
        ),
    ],
    {
        **all_data,
        # Group override: every private agent gets this attribute (host data wins per key,
        # so a host's own `agent_attributes` replaces the whole dict).
        "agent_attributes": {"zone": "private"},
    },
)

public_agents = (
    [
        ("p1.dc1.example.com", {"ip": "10.0.2.21"}),
    ],
    {
        **all_data,
        # The load balancer serves the public interface too; the agent API stays private.
        "lb_bind_address": "0.0.0.0",
        "lb_groups": "external",
    },
)
