"""dcos-core appliance first boot: configure this host from its boot settings, start its role.

Run by `dcos-firstboot.service` at every boot of an appliance image (and by hand after fixing a
setting: `systemctl restart dcos-firstboot`). Nothing changes and nothing restarts when the
settings did not change.

Boot settings come from the first of these that has them:

1. `/etc/dcos-core/appliance.toml` — a file (own hypervisors, or cloud-init `write_files`);
2. cloud-init user-data (`/var/lib/cloud/instance/user-data.txt`), a `#cloud-config` document
   with a `dcos_core:` mapping (cloud-init itself ignores that key);
3. a config drive: a filesystem labelled `CIDATA`/`cidata` (NoCloud: `user-data`) or `config-2`
   (OpenStack: `openstack/latest/user_data`), holding the same `#cloud-config` document.

    #cloud-config
    dcos_core:
      role: agent                   # master | agent | public_agent (required)
      master: 10.0.0.5:5050         # the master's host:port (required for agents)
      attributes: {rack: r1}        # agent attributes (or "rack:r1;zone:a")
      resources: {cpus: 4}          # agent resources (default: discovered)
      ip: 10.0.1.7                  # address to advertise (default: the one routing to the master)
      agent_options: {...}          # any other deploy setting of roles/settings.py by name
    ssh_authorized_keys: [ssh-ed25519 AAAA...]   # root's keys, applied here when there is no
                                                 # cloud-init (cloud-init applies them itself)

The file form is the same keys at the top level of a TOML document.

From these and the image's own settings (`/etc/dcos-core/image.json`, written when the image was
built) it derives the host's settings with the deploy's own code (`roles/settings.py`), renders the
deploy's templates into `/etc/dcos-core/<service>.toml`, writes `/etc/dcos-core/roles`, enables
and starts the services of the role and disables those of other roles (a re-run with another role
switches). A missing or wrong setting is reported on the console and in the journal, with what to
fix, and the unit fails; nothing is started with a half-written configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _p in (HERE, HERE.parent):  # the image: roles/ beside this file; the repository: one up
    if (_p / "roles" / "settings.py").is_file():
        sys.path.insert(0, str(_p))
        break

from roles import settings, templating  # noqa: E402

ROLES = settings.ROLE_NAMES
#: the dcos-core services of each role, in start order
SERVICES: Mapping[str, tuple[str, ...]] = {
    "master": ("master", "marathon", "chronos"),
    "agent": ("agent",),
    "public_agent": ("agent", "lb"),
}
ALL_SERVICES = ("master", "marathon", "chronos", "agent", "lb")
TEMPLATES: Mapping[str, str] = {
    "master": "master/templates/master.toml.j2",
    "marathon": "frameworks/templates/marathon.toml.j2",
    "chronos": "frameworks/templates/chronos.toml.j2",
    "agent": "agent/templates/agent.toml.j2",
    "lb": "agent/templates/lb.toml.j2",
}
GROUPS: Mapping[str, str] = {
    "master": settings.MASTERS,
    "agent": settings.AGENTS,
    "public_agent": settings.PUBLIC_AGENTS,
}
#: boot setting -> deploy setting
ALIASES: Mapping[str, str] = {
    "master": "master_address",
    "attributes": "agent_attributes",
    "resources": "agent_resources",
}
#: deploy settings fixed when the image was built (they name what is installed where)
BAKED = frozenset(
    {
        "install_dir",
        "config_dir",
        "data_dir",
        "system_user",
        "dcos_version",
        "wheelhouse_dir",
        "image_roles",
        "docker_enabled",
        "docker_options",
        "apt_proxy",
        "agent_upgrade_batch",
        "restart_timeout",
    }
)
SETTINGS_FILE = "etc/dcos-core/appliance.toml"
USER_DATA = "var/lib/cloud/instance/user-data.txt"
DRIVE_LABELS = ("CIDATA", "cidata", "config-2", "CONFIG-2")
DRIVE_FILES = ("user-data", "openstack/latest/user_data")
FIX_HINT = (
    "Fix the settings (/etc/dcos-core/appliance.toml, which wins over user-data and the config "
    "drive), then run: systemctl restart dcos-firstboot"
)


class BootSettingsError(Exception):
    """The boot settings cannot configure this host: `problems` are `(key, reason)` pairs."""

    def __init__(self, origin: str, problems: list[tuple[str, str]]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"dcos-firstboot: cannot configure this host (settings from {self.origin}):"]
        lines += [
            f"  - `{key}`: {reason}" if key else f"  - {reason}" for key, reason in self.problems
        ]
        lines.append(FIX_HINT)
        return "\n".join(lines)


@dataclass
class Source:
    """Boot settings as found: where (for messages) and the `dcos_core` mapping."""

    origin: str
    settings: dict[str, Any]
    authorized_keys: list[str] = field(default_factory=list)


@dataclass
class System:
    """What first boot reads and changes on the machine (replaced in tests)."""

    root: Path = Path("/")
    run: Callable[[list[str]], subprocess.CompletedProcess[str]] = field(
        default=lambda cmd: subprocess.run(cmd, capture_output=True, text=True, check=False)
    )

    def path(self, rel: str) -> Path:
        return self.root / rel.lstrip("/")

    def hostname(self) -> str:
        return socket.gethostname()

    def route_source(self, host: str, port: int) -> str | None:
        """The local address this host uses to reach `host` (no packet is sent)."""
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((host, port))
                return str(s.getsockname()[0])
        except OSError:
            return None

    def global_addresses(self) -> list[str]:
        """The host's global IPv4 addresses, in `ip addr` order."""
        p = self.run(["ip", "-4", "-o", "addr", "show", "scope", "global"])
        return re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", p.stdout)

    @contextlib.contextmanager
    def config_drive(self) -> Iterator[tuple[str, Path] | None]:
        """A config drive mounted read-only: (its description, mount point), or None."""
        for label in DRIVE_LABELS:
            dev = self.path(f"dev/disk/by-label/{label}")
            if not dev.exists():
                continue
            if dev.is_dir():  # tests: a directory stands for the drive's files
                yield f"config drive {label}", dev
                return
            with tempfile.TemporaryDirectory(prefix="dcos-config-drive-") as mnt:
                p = self.run(["mount", "-o", "ro", str(dev), mnt])
                if p.returncode != 0:
                    raise BootSettingsError(
                        f"config drive {label}",
                        [("", f"cannot mount {dev}: {p.stderr.strip() or p.returncode}")],
                    )
                try:
                    yield f"config drive {label} ({os.path.realpath(dev)})", Path(mnt)
                finally:
                    self.run(["umount", mnt])
            return
        yield None

    def has_cloud_init(self) -> bool:
        return any(
            self.path(p).exists() for p in ("usr/bin/cloud-init", "usr/local/bin/cloud-init")
        )


# --- reading the settings -----------------------------------------------------------------------


def parse_user_data(text: str, origin: str) -> Source | None:
    """The `dcos_core` settings of a `#cloud-config` document (None if it has none)."""
    if not text.lstrip().startswith("#cloud-config"):
        return None
    import yaml  # PyYAML: a dependency of dcos-core, in the image's venv

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BootSettingsError(origin, [("", f"not valid YAML: {e}")]) from None
    if not isinstance(doc, dict) or "dcos_core" not in doc:
        return None
    data = doc["dcos_core"]
    if not isinstance(data, dict):
        raise BootSettingsError(origin, [("dcos_core", "must be a mapping of settings")])
    keys = doc.get("ssh_authorized_keys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise BootSettingsError(origin, [("ssh_authorized_keys", "must be a list of keys")])
    return Source(origin, dict(data), list(keys))


def parse_settings_file(text: str, origin: str) -> Source:
    """The settings of `/etc/dcos-core/appliance.toml` (the same keys, at the top level)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BootSettingsError(origin, [("", f"not valid TOML: {e}")]) from None
    keys = data.pop("ssh_authorized_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise BootSettingsError(origin, [("ssh_authorized_keys", "must be a list of keys")])
    return Source(origin, data, keys)


def find_source(system: System) -> tuple[Source | None, list[str]]:
    """The first source holding settings, and every place looked at (for the error message)."""
    looked = []
    f = system.path(SETTINGS_FILE)
    looked.append(f"/{SETTINGS_FILE}")
    if f.is_file():
        return parse_settings_file(f.read_text(), f"/{SETTINGS_FILE}"), looked
    ud = system.path(USER_DATA)
    looked.append(f"cloud-init user-data (/{USER_DATA})")
    if ud.is_file():
        src = parse_user_data(ud.read_text(errors="replace"), "cloud-init user-data")
        if src:
            return src, looked
    looked.append(f"a config drive labelled {'/'.join(DRIVE_LABELS)}")
    with system.config_drive() as drive:
        if drive:
            name, mnt = drive
            for rel in DRIVE_FILES:
                if (mnt / rel).is_file():
                    src = parse_user_data((mnt / rel).read_text(errors="replace"), f"{name} {rel}")
                    if src:
                        return src, looked
    return None, looked


# --- deciding what to write -------------------------------------------------------------------


@dataclass
class Plan:
    """What this host becomes: its role, settings, files and the units to run and to stop."""

    role: str
    settings: dict[str, Any]
    files: dict[str, str]  # path relative to the root -> content (root:<user> 0640 / 0644)
    start: list[str]  # units, in order
    stop: list[str]


def load_image(system: System) -> dict[str, Any]:
    path = system.path("etc/dcos-core/image.json")
    try:
        image = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BootSettingsError(
            "the image", [("", f"/etc/dcos-core/image.json is unreadable ({e}): not an appliance?")]
        ) from None
    if not isinstance(image, dict):
        raise BootSettingsError("the image", [("", "/etc/dcos-core/image.json is not an object")])
    return image


def plan(source: Source, image: dict[str, Any], system: System) -> Plan:
    """Check the boot settings and derive everything to write (reads only the network facts)."""
    spec = set(settings.NAMES)
    data = dict(source.settings)
    problems: list[tuple[str, str]] = []
    held = settings.split_roles(str(image.get("image_roles", ",".join(ROLES))))
    role = data.pop("role", None)
    if role is None:
        problems.append(("role", f"missing: one of {', '.join(ROLES)}"))
    elif role not in ROLES:
        problems.append(("role", f"{role!r} is not one of {', '.join(ROLES)}"))
    elif role not in held:
        problems.append(("role", f"{role!r}: this image holds only {', '.join(held)}"))
    overrides: dict[str, Any] = {}
    for key, value in data.items():
        name = ALIASES.get(key, key)
        if key in BAKED or name in BAKED:
            problems.append((key, "is fixed when the image is built (packer/ variables)"))
        elif name not in spec:
            problems.append((key, "unknown setting (see roles/settings.py)"))
        else:
            overrides[name] = value
    if role in ("agent", "public_agent"):
        master = overrides.get("master_address")
        if not master:
            problems.append(("master", "missing: an agent needs the master's host:port"))
        elif not isinstance(master, str) or not re.fullmatch(r"[^\s:/]+:\d{1,5}", master):
            problems.append(("master", f"{master!r} is not host:port (e.g. 10.0.0.5:5050)"))
    if problems:
        raise BootSettingsError(source.origin, problems)
    assert role is not None
    if "ip" not in overrides:
        ip = _detect_ip(role, overrides, system)
        if not ip:
            raise BootSettingsError(
                source.origin,
                [("ip", "not set and no address found to advertise (no route to the master?)")],
            )
        overrides["ip"] = ip
    merged = {**{k: v for k, v in image.items() if k in spec}, **overrides}
    get = _getter(merged)
    name = system.hostname()
    masters = [(name, get)] if role == "master" else []
    try:
        s = settings.derive(
            name,
            get,
            [GROUPS[role]],
            masters,
            lambda: str(image.get("dcos_version") or ""),
            resolver=lambda host: host,
        )
    except settings.SettingsError as e:
        reason = str(e).split(": ", 1)[-1]
        key = re.search(r"setting `([^`]+)`", reason)
        raise BootSettingsError(source.origin, [(key.group(1) if key else "", reason)]) from None
    tpl_root = Path(settings.__file__).resolve().parent
    config_dir = s["config_dir"].lstrip("/")
    files = {
        f"{config_dir}/{svc}.toml": templating.render(tpl_root / TEMPLATES[svc], s=s)
        for svc in SERVICES[role]
    }
    files[f"{config_dir}/roles"] = "".join(f"{r}\n" for r in s["roles"])
    start = [f"dcos-{svc}.service" for svc in SERVICES[role]]
    if s["docker_enabled"] and role != "master":
        start.insert(0, "docker.service")
    stop = [f"dcos-{svc}.service" for svc in ALL_SERVICES if f"dcos-{svc}.service" not in start]
    return Plan(role, s, files, start, stop)


def _getter(values: Mapping[str, Any]) -> Callable[[str, Any], Any]:
    def get(key: str, default: Any = None) -> Any:
        return values.get(key, default)

    return get


def _detect_ip(role: str, overrides: Mapping[str, Any], system: System) -> str | None:
    master = overrides.get("master_address")
    if role != "master" and isinstance(master, str) and ":" in master:
        host, port = master.rsplit(":", 1)
        found = system.route_source(host, int(port))
        if found and not found.startswith("127."):
            return found
    addresses = system.global_addresses()
    return addresses[0] if addresses else None


# --- applying it --------------------------------------------------------------------------------


def apply(p: Plan, source: Source, system: System, log: Callable[[str], None]) -> dict[str, Any]:
    """Write the files that changed, then switch the units; returns the status written."""
    user = p.settings["system_user"]
    try:
        gid = pwd.getpwnam(user).pw_gid if system.root == Path("/") else -1
    except KeyError:
        gid = -1
    changed = []
    for rel, content in p.files.items():
        path = system.path(rel)
        if path.is_file() and path.read_text() == content:
            continue
        mode = 0o644 if rel.endswith("/roles") else 0o640
        _write(path, content, mode, gid)
        changed.append(rel)
        log(f"wrote /{rel}")
    cloud_init = system.has_cloud_init()
    if source.authorized_keys and not cloud_init and _authorize(system, source.authorized_keys):
        log(f"added {len(source.authorized_keys)} key(s) to /root/.ssh/authorized_keys")
    changed_units = {f"dcos-{Path(rel).stem}.service" for rel in changed}
    for unit in p.stop:
        if _systemctl(system, "is-enabled", unit) == "enabled" or _active(system, unit):
            _check(system, ["systemctl", "disable", "--now", unit])
            log(f"stopped and disabled {unit} (not a service of role {p.role})")
    for unit in p.start:
        if _systemctl(system, "is-enabled", unit) != "enabled":
            _check(system, ["systemctl", "enable", unit])
        # --no-block: the units are ordered after this one, which is still running
        if _active(system, unit) and unit in changed_units:
            _check(system, ["systemctl", "restart", "--no-block", unit])
            log(f"restarting {unit} (its configuration changed)")
        elif not _active(system, unit):
            _check(system, ["systemctl", "start", "--no-block", unit])
            log(f"starting {unit}")
    status = {
        "role": p.role,
        "source": source.origin,
        "address": p.settings["address"],
        "master": p.settings["master"],
        "services": p.start,
        "changed": changed,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write(
        system.path(p.settings["config_dir"].lstrip("/") + "/firstboot.json"),
        json.dumps(status, indent=2) + "\n",
        0o644,
        -1,
    )
    return status


def _write(path: Path, content: str, mode: int, gid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.chmod(tmp, mode)
        if gid >= 0:
            os.chown(tmp, 0, gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _authorize(system: System, keys: list[str]) -> bool:
    ssh = system.path("root/.ssh")
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = ssh / "authorized_keys"
    have = path.read_text().splitlines() if path.is_file() else []
    new = [k.strip() for k in keys if k.strip() and k.strip() not in have]
    if new:
        _write(path, "".join(f"{k}\n" for k in [*have, *new]), 0o600, -1)
    return bool(new)


def _systemctl(system: System, verb: str, unit: str) -> str:
    return system.run(["systemctl", verb, unit]).stdout.strip()


def _active(system: System, unit: str) -> bool:
    return _systemctl(system, "is-active", unit) in ("active", "activating", "reloading")


def _check(system: System, cmd: list[str]) -> None:
    p = system.run(cmd)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {(p.stderr or p.stdout).strip()}")


# --- the program --------------------------------------------------------------------------------


def main(argv: list[str] | None = None, system: System | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="/", help="the root filesystem (tests)")
    parser.add_argument(
        "--check", action="store_true", help="check the settings and print the plan; change nothing"
    )
    args = parser.parse_args(argv)
    system = system or System(root=Path(args.root))

    def log(msg: str) -> None:
        print(f"dcos-firstboot: {msg}", flush=True)

    try:
        image = load_image(system)
        source, looked = find_source(system)
        if source is None:
            raise BootSettingsError(
                "nowhere",
                [("role", "no boot settings found; looked at " + ", ".join(looked))],
            )
        p = plan(source, image, system)
        log(
            f"settings from {source.origin}: role {p.role}, address {p.settings['address']}, "
            f"master {p.settings['master']}"
        )
        if args.check:
            for rel, content in p.files.items():
                print(f"--- /{rel}\n{content}", end="")
            log(f"would start {', '.join(p.start)}; stop {', '.join(p.stop) or 'nothing'}")
            return 0
        apply(p, source, system, log)
    except BootSettingsError as e:
        print(e.report(), file=sys.stderr, flush=True)
        return 1
    except (OSError, RuntimeError) as e:
        print(f"dcos-firstboot: failed: {e}\n{FIX_HINT}", file=sys.stderr, flush=True)
        return 1
    log(f"done: this host is a {p.role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
