"""The appliance role: a VM being baked into an image (group `images`, run by Packer).

The image gets what the other roles install — the common role, then the master, frameworks and
agent roles for the roles in `image_roles` — with their units written and left disabled (no
configuration: it depends on the host the image boots as). Then what makes it an appliance:

- `/etc/dcos-core/image.json`: the image's settings (the deploy settings resolved for the image:
  ports, directories, user, containerizers, isolation, `*_options`, the version and the roles it
  holds), the defaults the first boot starts from;
- `/opt/dcos-core/appliance/`: `firstboot.py` and the pieces of this repository it renders the
  configuration with (`roles/settings.py`, `roles/templating.py`, the `*.toml.j2` templates), so
  a booted appliance writes exactly what a deploy would;
- `dcos-firstboot.service`, enabled: at every boot it reads the boot settings (role, master
  address, attributes; from a file, cloud-init user-data or a config drive), writes the
  configuration and starts the services of the role (see `appliance/firstboot.py`).
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra.api import deploy
from pyinfra.operations import files, systemd

from roles import settings
from roles.agent import agent
from roles.common import common
from roles.frameworks import frameworks
from roles.master import master
from roles.service import daemon_reload

ROOT = Path(__file__).resolve().parents[2]
APPLIANCE = ROOT / "appliance"
TEMPLATES = Path(__file__).parent / "templates"
#: what the first boot needs from this repository, relative to it
FIRSTBOOT_FILES = (
    "roles/settings.py",
    "roles/templating.py",
    "roles/master/templates/master.toml.j2",
    "roles/frameworks/templates/marathon.toml.j2",
    "roles/frameworks/templates/chronos.toml.j2",
    "roles/agent/templates/agent.toml.j2",
    "roles/agent/templates/lb.toml.j2",
)


def image_settings(s: dict[str, Any]) -> dict[str, Any]:
    """What `/etc/dcos-core/image.json` holds: every deploy setting, the version, the roles."""
    baked = {key: s[key] for key in settings.NAMES}
    baked.update(dcos_version=s["version"], image_roles=",".join(s["install_roles"]))
    return baked


@deploy("dcos-core appliance image", data_defaults=settings.defaults())
def appliance() -> None:
    """Every role of `image_roles` installed and disabled; the first boot configures the host."""
    s = settings.resolve()
    common()
    if "master" in s["install_roles"]:
        master()
        frameworks()
    if "agent" in s["install_roles"]:
        agent()
    home = f"{s['install_dir']}/appliance"
    files.put(
        name="first boot: firstboot.py",
        src=str(APPLIANCE / "firstboot.py"),
        dest=f"{home}/firstboot.py",
        user="root",
        group="root",
        mode="755",
        create_remote_dir=True,
    )
    files.put(
        name="first boot: roles package marker",
        src=StringIO('"""The parts of the deploy roles the first boot uses."""\n'),
        dest=f"{home}/roles/__init__.py",
        user="root",
        group="root",
        mode="644",
        create_remote_dir=True,
    )
    for rel in FIRSTBOOT_FILES:
        files.put(
            name=f"first boot: {rel}",
            src=str(ROOT / rel),
            dest=f"{home}/{rel}",
            user="root",
            group="root",
            mode="644",
            create_remote_dir=True,
        )
    files.put(
        name="image settings /etc/dcos-core/image.json",
        src=StringIO(json.dumps(image_settings(s), indent=2, sort_keys=True) + "\n"),
        dest=f"{s['config_dir']}/image.json",
        user="root",
        group="root",
        mode="644",
        create_remote_dir=False,  # made by the common role
    )
    unit = files.template(
        name="dcos-firstboot.service",
        src=str(TEMPLATES / "dcos-firstboot.service.j2"),
        dest="/etc/systemd/system/dcos-firstboot.service",
        user="root",
        group="root",
        mode="644",
        create_remote_dir=False,
        s=s,
    )
    daemon_reload(unit)
    systemd.service(
        name="dcos-firstboot enabled (runs at boot)",
        service="dcos-firstboot.service",
        running=False,
        enabled=True,
    )
