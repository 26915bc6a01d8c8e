"""What every dcos-core host gets, whatever its role.

- Debian packages through apt (`python3`, `python3-venv`; the index is updated only when a
  package is missing), with the optional `apt_proxy` written to `/etc/apt/apt.conf.d/01dcos-proxy`;
- the system user (`dcos`: system, nologin, home `/var/lib/dcos-core`);
- `/etc/dcos-core` (root:dcos 0750), `/var/lib/dcos-core`, `/opt/dcos-core` (+ `bin`, `wheelhouse`);
- `/opt/dcos-core/bin/dcos-wait` (used by the restarts to wait for a service to come back);
- the wheelhouse tarball built on the control machine (`roles.wheelhouse`), uploaded only when its
  checksum differs;
- `/etc/dcos-core/roles`: the host's roles, one a line (master, agent, public_agent);
- a venv holding exactly `dcos-core==<version>` installed from the uploaded wheelhouse (no index),
  one per wheelhouse: `/opt/dcos-core/venvs/<version>-<sha256[:12]>`, built in parallel on every
  host while the running services keep using the previous one.

`activate_code()` (called by the master and agent roles right before their restarts) points the
symlink `/opt/dcos-core/venv` (what the units run) at the host's venv and writes
`/etc/dcos-core/version`; its change is what makes the roles restart their services for new code.
A switch back to a version whose venv is still there (the previous one is kept) is instant.
"""

from __future__ import annotations

import logging
import shlex
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase, StringCommand, deploy, operation
from pyinfra.api.operation import OperationMeta
from pyinfra.context import ctx_state
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import FileContents
from pyinfra.operations import apt, files

from roles import settings, wheelhouse

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
WAIT_SCRIPT = HERE / "files" / "dcos-wait"
BASE_PACKAGES = ("python3", "python3-venv")
APT_PROXY_FILE = "/etc/apt/apt.conf.d/01dcos-proxy"
TARBALL_NAME = "dcos-core-wheelhouse.tar"
STAMP_NAME = ".dcos-core-wheelhouse"

log = logging.getLogger("pyinfra")


@operation()
def debs(packages: list[str] | tuple[str, ...]) -> Any:
    """Ensure Debian packages are installed; `apt-get update` runs only when one is missing.

    (`apt.packages(update=True)` would update on every run; hosts without internet only see
    their configured mirror or proxy, so updating needlessly also makes re-runs slow.)
    """
    installed = host.get_fact(DebPackages)
    missing = [p for p in packages if p not in installed]
    if not missing:
        host.noop(f"packages are installed: {', '.join(packages)}")
        return
    yield from apt.update._inner()
    yield from apt.packages._inner(packages=missing, no_recommends=True)


class PasswdEntry(FactBase):
    """`{"home": ..., "shell": ..., "uid": ...}` of a user from `getent passwd`, or None."""

    def command(self, user: str) -> str:
        return f"getent passwd {shlex.quote(user)} || true"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        for line in output:
            fields = line.split(":")
            if len(fields) >= 7:
                return {"uid": int(fields[2]), "home": fields[5], "shell": fields[6]}
        return None


@operation()
def system_user(user: str, home: str, shell: str = "/usr/sbin/nologin") -> Any:
    """A system user with its own group, `home` (not created) and `shell`.

    One `getent` per run (pyinfra's `server.user` reads every user's details: ~1 s per host).
    """
    entry = host.get_fact(PasswdEntry, user=user)
    q = shlex.quote
    if entry is None:
        yield (
            f"useradd --system --user-group --no-create-home --home-dir {q(home)}"
            f" --shell {q(shell)} {q(user)}"
        )
        return
    changes = []
    if entry["home"] != home:
        changes.append(f"--home {q(home)}")
    if entry["shell"] != shell:
        changes.append(f"--shell {q(shell)}")
    if changes:
        yield f"usermod {' '.join(changes)} {q(user)}"
    else:
        host.noop(f"user {user} exists")


@operation()
def venv_install(venvs_dir: str, venv_id: str, tarball: str, version: str, keep: str) -> Any:
    """Create the venv `<venvs_dir>/<venv_id>` holding exactly `dcos-core==version`.

    The venv is built from scratch from the wheelhouse `tarball` (no index) and a stamp file is
    written last: a venv with the stamp is complete and left alone, one without (an interrupted
    run) is rebuilt. Other venvs are removed, except the one `keep` (the symlink the services
    run) points to, so a host holds at most the running and the next version.
    """
    target = f"{venvs_dir}/{venv_id}"
    stamp = f"{target}/{STAMP_NAME}"
    lines = host.get_fact(FileContents, path=stamp)
    if lines and lines[0].strip() == venv_id:
        host.noop(f"dcos-core {version} is installed in {target}")
        return
    q = shlex.quote
    wheels = f"{venvs_dir}/.wheels-{venv_id}"
    # pip runs from its wheel (in the wheelhouse) inside a venv made without pip: ~40 % faster
    # than ensurepip + pip, and the venv holds only dcos-core and its dependencies.
    pip = (
        f'pipwhl=$(ls {q(wheels)}/wheels/pip-*.whl | head -n 1) && [ -n "$pipwhl" ] &&'
        " PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_CACHE_DIR=1"
        f' PIP_ROOT_USER_ACTION=ignore {q(target + "/bin/python")} "$pipwhl/pip" install'
        f" --quiet --no-index --find-links {q(wheels + '/wheels')} {q(f'dcos-core=={version}')}"
    )
    prune = (
        f"current=$(readlink -f {q(keep)} || true); for d in {q(venvs_dir)}/*; do"
        f' [ "$d" = {q(target)} ] || [ "$(readlink -f "$d")" = "$current" ] || rm -rf "$d";'
        " done"
    )
    script = " && ".join(
        [
            f"mkdir -p {q(venvs_dir)}",
            prune,
            f"rm -rf {q(target)} {q(wheels)}",
            f"mkdir -p {q(wheels)}",
            f"tar -xf {q(tarball)} -C {q(wheels)}",
            f"python3 -m venv --without-pip {q(target)}",
            pip,
            f"rm -rf {q(wheels)}",
            f"{q(target + '/bin/dcos-core')} version >/dev/null",
            f"echo {q(venv_id)} > {q(stamp)}",
        ]
    )
    yield StringCommand(script)


@operation()
def phase(label: str) -> Any:
    """A barrier every host passes (no command, never a change).

    pyinfra orders operations as a DAG of each host's own sequence, layer by layer, so without
    it a private agent's restart would run in the same layer as a master's. Calling `phase` at
    the same line on every host makes all later operations wait for all earlier ones.
    """
    host.noop(label)
    yield from ()


def upload_wheelhouse(s: dict[str, Any]) -> wheelhouse.Wheelhouse:
    """The wheelhouse of the host's version (built on the control machine once per run)."""
    return wheelhouse.ensure(s["version"], s["wheelhouse_dir"], log=log.info)


@deploy("dcos-core common", data_defaults=settings.defaults())
def common() -> None:
    """Packages, system user, directories, helper script, wheelhouse upload, roles file."""
    s = settings.resolve()
    user = s["system_user"]
    wh = upload_wheelhouse(s)

    if s["apt_proxy"]:
        files.template(
            name="apt proxy",
            src=str(TEMPLATES / "apt-proxy.j2"),
            dest=APT_PROXY_FILE,
            mode="644",
            create_remote_dir=False,  # part of Debian's apt
            s=s,
        )
    else:
        files.file(name="no apt proxy", path=APT_PROXY_FILE, present=False)
    debs(name="Debian packages: python3, python3-venv", packages=list(BASE_PACKAGES))
    system_user(name=f"system user {user}", user=user, home=s["data_dir"])
    files.directory(name="config dir", path=s["config_dir"], user="root", group=user, mode="750")
    files.directory(name="data dir", path=s["data_dir"], user=user, group=user, mode="755")
    for sub in ("", "/bin", "/wheelhouse"):
        files.directory(
            name=f"install dir {s['install_dir']}{sub}",
            path=f"{s['install_dir']}{sub}",
            user="root",
            group="root",
            mode="755",
        )
    files.put(
        name="dcos-wait helper",
        src=str(WAIT_SCRIPT),
        dest=s["wait"],
        user="root",
        group="root",
        mode="755",
        create_remote_dir=False,  # made earlier
    )
    files.put(
        name=f"upload the dcos-core {wh.version} wheelhouse",
        src=str(wh.tarball),
        dest=f"{s['install_dir']}/wheelhouse/{TARBALL_NAME}",
        user="root",
        group="root",
        mode="644",
        create_remote_dir=False,  # made earlier
    )
    venv_install(
        name=f"venv with dcos-core {wh.version}",
        venvs_dir=f"{s['install_dir']}/venvs",
        venv_id=venv_id(wh),
        tarball=f"{s['install_dir']}/wheelhouse/{TARBALL_NAME}",
        version=wh.version,
        keep=s["venv"],
    )
    files.put(
        name="roles file",
        src=StringIO("".join(f"{r}\n" for r in s["roles"])),
        dest=f"{s['config_dir']}/roles",
        user="root",
        group=user,
        mode="644",
        create_remote_dir=False,  # made earlier
    )


def venv_id(wh: wheelhouse.Wheelhouse) -> str:
    """`<version>-<first 12 hex digits of the wheelhouse sha256>`: one venv per wheelhouse."""
    return f"{wh.version}-{wh.sha256[:12]}"


_activations: dict[tuple[int, str], OperationMeta] = {}


def activate_code() -> OperationMeta:
    """Point `/opt/dcos-core/venv` at this host's venv (once per host and run).

    Returns the operation whose change means "the code changed: restart the services". A host
    with two roles (a master that is also an agent) switches once, in its first role, and both
    roles restart on that change.
    """
    key = (id(ctx_state.get()), host.name)
    if key not in _activations:
        _activations[key] = _activate()
    return _activations[key]


@deploy("dcos-core code")
def _activate() -> OperationMeta:
    s = settings.resolve()
    wh = upload_wheelhouse(s)
    op = files.link(
        name=f"{s['venv']} -> dcos-core {wh.version}",
        path=s["venv"],
        target=f"{s['install_dir']}/venvs/{venv_id(wh)}",
        force=True,
        force_backup=False,
        create_remote_dir=False,  # made by the common role
    )
    files.put(
        name="version file",
        src=StringIO(f"{wh.version}\n"),
        dest=f"{s['config_dir']}/version",
        user="root",
        group=s["system_user"],
        mode="644",
        create_remote_dir=False,  # made by the common role
    )
    return op
