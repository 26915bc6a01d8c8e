"""Inventory of a VM being baked into an appliance image (Packer runs this; see packer/).

The one host is in group `images`: `deploy.py` installs every role of `image_roles` on it and
enables nothing (roles/appliance). Packer's `shell-local` provisioner passes the build VM through
the environment:

    DCOS_IMAGE_HOST, DCOS_IMAGE_PORT (22), DCOS_IMAGE_USER (root; another user gets sudo)
    DCOS_IMAGE_SSH_PRIVATE_KEY   the key itself (Packer's `build.SSHPrivateKey`), else
    DCOS_IMAGE_SSH_KEY_FILE      a path to it (Packer 1.6.6 gives no key content for a key file)
    DCOS_IMAGE_ROLES             image_roles, e.g. "master,agent,public_agent" (the default)
    DCOS_IMAGE_DOCKER            "true" to bake the Docker engine in (docker_enabled)
    DCOS_IMAGE_VERSION           dcos_version ("" = the version of this checkout)
    DCOS_IMAGE_DATA              more settings as a JSON object (roles/settings.py)

By hand, against any Debian 12 VM you can SSH to:

    DCOS_IMAGE_HOST=10.0.0.50 DCOS_IMAGE_SSH_KEY_FILE=~/.ssh/id_ed25519 \\
        pyinfra -y inventories/image.py deploy.py
"""

import atexit
import json
import os
import tempfile

_env = os.environ.get


def _need(name: str) -> str:
    value = _env(name, "").strip()
    if not value:
        raise SystemExit(f"inventories/image.py: set {name} (see the docstring)")
    return value


def _key_file() -> str:
    """The key itself wins (Packer's generated key on clouds); else the file (qemu, by hand)."""
    key = _env("DCOS_IMAGE_SSH_PRIVATE_KEY", "").strip()
    if not key:
        return os.path.expanduser(_need("DCOS_IMAGE_SSH_KEY_FILE"))
    fd, tmp = tempfile.mkstemp(prefix="dcos-image-key-")  # 0600
    with os.fdopen(fd, "w") as f:
        f.write(key if key.endswith("\n") else key + "\n")
    atexit.register(os.unlink, tmp)
    return tmp


_user = _env("DCOS_IMAGE_USER", "").strip() or "root"
_data = {
    "ssh_user": _user,
    "ssh_port": int(_env("DCOS_IMAGE_PORT", "").strip() or 22),
    "ssh_key": _key_file(),
    "ssh_strict_host_key_checking": "no",
    "ssh_known_hosts_file": "/dev/null",
    **({"_sudo": True} if _user != "root" else {}),
    "image_roles": _env("DCOS_IMAGE_ROLES", "").strip() or "master,agent,public_agent",
    "docker_enabled": _env("DCOS_IMAGE_DOCKER", "").strip().lower() in ("1", "true", "yes"),
    **({"dcos_version": v} if (v := _env("DCOS_IMAGE_VERSION", "").strip()) else {}),
    **json.loads(_env("DCOS_IMAGE_DATA", "").strip() or "{}"),
}

images = [(_need("DCOS_IMAGE_HOST"), _data)]
