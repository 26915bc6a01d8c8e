"""Real Debian 12 test hosts with systemd as PID 1: systemd-nspawn on a private bridge, over SSH.

What the deploy tests (pyinfra) and the testinfra checks run against. Needs root, Debian
`mmdebstrap systemd-container openssh-client dpkg-dev zstd iptables iproute2` (see
scripts/setup.sh test) and works without systemd as PID 1 on the machine itself.

- `ensure_rootfs()` builds a minbase bookworm root filesystem once with mmdebstrap (sshd, systemd,
  python3) and keeps it in the cache as a zstd tarball plus its unpacked tree; the file names carry
  a stamp of the package list and the customisation, so a change rebuilds it.
- `ensure_apt_repo(packages)` makes a flat apt repository of those packages and the dependencies
  the root filesystem lacks; every guest gets it read-only at /srv/repo and its only apt source is
  `deb [trusted=yes] file:/srv/repo ./` (guests never reach Debian).
- `TestHosts` boots hosts from per-host overlays of the shared tree, each in its own network
  namespace with a veth on the bridge `{prefix}br0` ({subnet}.1 on the machine, {subnet}.{10+i}
  for host i) and no default route; iptables drops everything forwarded between the bridge and
  any other interface. Guests answer SSH as root with the cache's ed25519 key.
- `TestHosts(..., privileged=True)` makes guests that can run a container engine as a real host
  does: every capability, the keyring system calls (runc creates a session keyring) and the
  machine's cgroup v1 hierarchies writable at /sys/fs/cgroup (a guest unit bind-mounts them over
  nspawn's read-only ones before containerd, Docker and the agent start). Such a guest sees the
  whole hierarchy: what it creates must stay under its own `cgroup_parent` (`/{prefix}/{name}`,
  e.g. Docker's `cgroup-parent`), which `stop()` removes with the rest.

Everything a `TestHosts` creates is named after its prefix (netns `{prefix}-NAME`, links
`{prefix}br0`/`{prefix}vN`, overlays with source `{prefix}-NAME`, cgroups
`/sys/fs/cgroup/*/{prefix}`) and removed by `stop()`. A lock file per prefix (and per subnet) in
/run/dcos-test-hosts keeps two live runs apart; whatever a crashed run of the same prefix left
behind is removed when the next one starts. Only processes started here are signalled: the nspawn
processes by PID, and after a crashed run, the processes in that run's own `{prefix}` cgroups.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from appliance.base_image import host_mirrors  # the machine's Debian mirrors, also for images

CACHE = Path(os.environ.get("DCOS_TEST_CACHE", "/var/cache/dcos-core-tests"))
SUITE: Final = "bookworm"
INCLUDE: Final = (
    "python3", "python3-venv", "systemd", "systemd-sysv", "openssh-server", "iproute2", "dbus",
    "procps", "ca-certificates", "curl", "sudo", "iputils-ping",
)  # fmt: skip
# Bump when the customisation of the root filesystem below changes: it is part of the stamp.
CUSTOMIZE_VERSION: Final = 3
GUEST_SOURCES: Final = "deb [trusted=yes] file:/srv/repo ./\n"
SSHD_DROPIN: Final = (
    "# dcos-core test hosts: root logs in with the harness key only; many parallel sessions.\n"
    "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n"
    "MaxStartups 200\nMaxSessions 100\n"
)
# Units that make no sense in a container without a network to Debian.
MASKED_UNITS: Final = (
    "apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service",
    "apt-daily-upgrade.service", "e2scrub_all.timer", "e2scrub_reap.service",
    "systemd-timesyncd.service",
)  # fmt: skip
CGROUP: Final = Path("/sys/fs/cgroup")
# v1 controllers bound into every guest at /run/hostcg/<controller> (a host sub-cgroup per guest).
HOSTCG_CONTROLLERS: Final = ("memory", "cpu", "cpuacct", "pids")
# Privileged guests: the machine's v1 hierarchies at /run/hostcgroot/<controller>, and this unit
# bind-mounts them over /sys/fs/cgroup/<controller> before any container engine starts.
PRIVILEGED_NSPAWN_ARGS: Final = ("--capability=all", "--system-call-filter=@keyring")
CGROUP_MOUNT_UNIT: Final = """\
[Unit]
Description=dcos-core test host: the machine's cgroup v1 hierarchies writable, as on a real host
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target containerd.service docker.service dcos-agent.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -ec 'for c in /run/hostcgroot/*; do \\
    mount --bind "$$c" "/sys/fs/cgroup/$${c##*/}"; done'

[Install]
WantedBy=sysinit.target
"""
LOCK_DIR: Final = Path("/run/dcos-test-hosts")
BOOT_TIMEOUT: Final = 90.0
STOP_GRACE: Final = 10.0


# --- root filesystem and apt repository ---------------------------------------------------------


def _run(
    args: list[str], *, check: bool = True, timeout: float | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)!r} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-2000:]}"
        )
    return proc


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _rootfs_stamp() -> str:
    spec = {"suite": SUITE, "include": INCLUDE, "customize": CUSTOMIZE_VERSION}
    # The sources are left out on purpose: a mirror change does not change what gets installed.
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def _customize(root: Path) -> None:
    """Make a freshly bootstrapped tree a test host image (shared by every guest)."""
    (root / "etc/apt/sources.list").write_text(GUEST_SOURCES)
    for extra in (root / "etc/apt/sources.list.d").glob("*"):
        extra.unlink()
    (root / "usr/sbin/policy-rc.d").unlink(missing_ok=True)  # services must start in guests
    (root / "etc/ssh/sshd_config.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/ssh/sshd_config.d/dcos-test.conf").write_text(SSHD_DROPIN)
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    (root / "etc/machine-id").write_text("")  # written per host before boot
    for unit in MASKED_UNITS:
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    # sshd is enabled by its package; make sure of it (the chroot had no systemd running).
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    if not os.path.lexists(wants / "ssh.service"):
        (wants / "ssh.service").symlink_to("/lib/systemd/system/ssh.service")
    for stale in (root / "var/lib/apt/lists").glob("*_*"):
        stale.unlink()


def _rootfs_paths(cache: Path) -> tuple[Path, Path]:
    stamp = _rootfs_stamp()
    return cache / f"rootfs-{stamp}.tar.zst", cache / f"rootfs-{stamp}"


def _in_use(path: Path) -> bool:
    return str(path) in Path("/proc/mounts").read_text()


def _prune(cache: Path, keep: set[Path]) -> None:
    """Remove older root filesystems and repos, unless some overlay still uses them."""
    for old in cache.glob("rootfs-*"):
        if old in keep or _in_use(old):
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def ensure_rootfs(cache: Path = CACHE) -> Path:
    """The zstd tarball of the test hosts' bookworm root filesystem, built once with mmdebstrap.

    Its unpacked tree (the shared lower layer of every guest's overlay) sits next to it.
    """
    tarball, tree = _rootfs_paths(cache)
    if tarball.is_file() and (tree / ".complete").is_file():
        return tarball
    with _flock(cache / ".lock"):
        if tarball.is_file() and (tree / ".complete").is_file():
            return tarball
        if not tarball.is_file():
            build = cache / f".build-{tree.name}"
            done = cache / f".build-{tree.name}.ok"
            if not done.is_file():
                shutil.rmtree(build, ignore_errors=True)
                cmd = [
                    "mmdebstrap", "--quiet", "--variant=minbase",
                    f"--include={','.join(INCLUDE)}", SUITE, str(build), *host_mirrors(),
                ]  # fmt: skip
                _run(cmd, timeout=900)
                done.touch()
            _customize(build)
            tmp = tarball.with_suffix(".tmp")
            _run(
                ["tar", "--zstd", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                 "-cf", str(tmp), "-C", str(build), "."],
                timeout=600,
            )  # fmt: skip
            tmp.rename(tarball)
            shutil.rmtree(tree, ignore_errors=True)
            build.rename(tree)
            done.unlink()
        else:
            shutil.rmtree(tree, ignore_errors=True)
            tmp_tree = cache / f".unpack-{tree.name}"
            shutil.rmtree(tmp_tree, ignore_errors=True)
            tmp_tree.mkdir(parents=True)
            _run(
                ["tar", "--zstd", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                 "-xpf", str(tarball), "-C", str(tmp_tree)],
                timeout=600,
            )  # fmt: skip
            tmp_tree.rename(tree)
        (tree / ".complete").write_text(f"{tarball.name}\n")
        _prune(cache, {tarball, tree})
    return tarball


def rootfs_tree(cache: Path = CACHE) -> Path:
    """The unpacked root filesystem (read-only lower layer of the overlays)."""
    ensure_rootfs(cache)
    return _rootfs_paths(cache)[1]


def ensure_apt_repo(packages: list[str] | None = None, cache: Path = CACHE) -> Path:
    """A flat apt repository of `packages` (default haproxy) and the dependencies the root
    filesystem lacks: `apt-get install --download-only` against the rootfs' dpkg status,
    then `dpkg-scanpackages`. Built once per package list and root filesystem."""
    pkgs = sorted(set(packages if packages is not None else ["haproxy"]))
    tree = rootfs_tree(cache)
    key = hashlib.sha256(json.dumps([tree.name, pkgs]).encode()).hexdigest()[:12]
    repo = cache / f"repo-{key}"
    if (repo / "Packages").is_file():
        return repo
    with _flock(cache / ".lock"):
        if (repo / "Packages").is_file():
            return repo
        state = cache / "apt"
        for d in ("lists/partial", "cache", "dpkg", "empty", "archives/partial"):
            (state / d).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree / "var/lib/dpkg/status", state / "dpkg/status")
        (state / "sources.list").write_text("\n".join(host_mirrors()) + "\n")
        conf = state / "apt.conf"
        settings = {
            "Dir::Etc::Parts": state / "empty",
            "Dir::Etc::SourceList": state / "sources.list",
            "Dir::Etc::SourceParts": state / "empty",
            "Dir::Etc::PreferencesParts": state / "empty",
            "Dir::State": state,
            "Dir::State::Lists": state / "lists",
            "Dir::State::status": state / "dpkg/status",
            "Dir::Cache": state / "cache",
            "Dir::Cache::archives": state / "archives",
            "Debug::NoLocking": "true",
            "APT::Install-Recommends": "true",
            "APT::Architecture": _run(["dpkg", "--print-architecture"]).stdout.strip(),
        }
        conf.write_text("".join(f'{k} "{v}";\n' for k, v in settings.items()))
        env = {**os.environ, "APT_CONFIG": str(conf), "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-qq"], env=env, timeout=600)
        for old in (state / "archives").glob("*.deb"):
            old.unlink()
        if pkgs:
            _run(
                ["apt-get", "install", "-y", "-qq", "--download-only", *pkgs], env=env, timeout=900
            )
        tmp = cache / f".build-{repo.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for deb in (state / "archives").glob("*.deb"):
            shutil.move(deb, tmp / deb.name)
        index = _run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=tmp).stdout
        (tmp / "Packages").write_text(index)
        shutil.rmtree(repo, ignore_errors=True)
        tmp.rename(repo)
    return repo


def ensure_ssh_key(cache: Path = CACHE) -> Path:
    """The harness' ed25519 key (one per cache), authorised for root on every guest."""
    key = cache / "ssh" / "id_ed25519"
    if key.is_file() and key.with_suffix(".pub").is_file():
        return key
    with _flock(cache / ".lock"):
        if not key.is_file():
            key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key.with_suffix(".pub").unlink(missing_ok=True)
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dcos-test-hosts",
                  "-f", str(key)])  # fmt: skip
    return key


# --- cleanup of everything named after a prefix --------------------------------------------------


def _cgroup_trees(prefix: str) -> list[Path]:
    """Every `/sys/fs/cgroup/<hierarchy>/<prefix>` (and `/sys/fs/cgroup/<prefix>` on pure v2)."""
    out = []
    if (CGROUP / "cgroup.procs").is_file():  # pure cgroup v2
        out.append(CGROUP / prefix)
    elif CGROUP.is_dir():
        for h in sorted(CGROUP.iterdir()):
            if h.is_dir() and not h.is_symlink():
                out.append(h / prefix)
    return [p for p in out if p.is_dir()]


def _cgroup_pids(tree: Path) -> set[int]:
    pids: set[int] = set()
    for procs in tree.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in procs.read_text().split())
    return pids


def _rmdir_tree(tree: Path, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while tree.is_dir():
        dirs = sorted((p for p in tree.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for d in [*dirs, tree]:
            with contextlib.suppress(OSError):
                d.rmdir()
        if not tree.is_dir() or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _kill_cgroup_tree(tree: Path, timeout: float = 5.0) -> None:
    """SIGKILL the processes in a cgroup tree of ours (only ever a `<prefix>` tree)."""
    deadline = time.monotonic() + timeout
    while (pids := _cgroup_pids(tree) - {os.getpid()}) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _overlay_mounts(prefix: str) -> list[str]:
    """Mount points of the overlays of a prefix (their source is `<prefix>-NAME`)."""
    out = []
    for line in Path("/proc/mounts").read_text().splitlines():
        src, target, fstype = line.split()[:3]
        if fstype == "overlay" and src.startswith(f"{prefix}-"):
            out.append(target.replace("\\040", " "))
    return out


def _umount(target: str) -> None:
    if _run(["umount", target], check=False).returncode != 0:
        _run(["umount", "-l", target], check=False)


def _netns_names(prefix: str) -> list[str]:
    out = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"{prefix}-")]


def _link_names(prefix: str) -> list[str]:
    out = _run(["ip", "-o", "link", "show"], check=False).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]
    return [n for n in names if n == f"{prefix}br0" or re.fullmatch(rf"{prefix}v\d+", n)]


def _forward_rules(bridge: str) -> list[list[str]]:
    out = _run(["iptables", "-w", "-S", "FORWARD"], check=False).stdout
    return [line.split() for line in out.splitlines() if bridge in line.split()]


def cleanup(prefix: str) -> None:
    """Remove everything named after `prefix`: processes in its cgroups, overlays, netns, links,
    iptables rules and cgroups. Only call it while holding the prefix' lock (or from stop())."""
    for tree in _cgroup_trees(prefix):
        _kill_cgroup_tree(tree)
    for target in reversed(_overlay_mounts(prefix)):
        _umount(target)
    for ns in _netns_names(prefix):
        _run(["ip", "netns", "delete", ns], check=False)
    for link in _link_names(prefix):
        _run(["ip", "link", "delete", link], check=False)
    for rule in _forward_rules(f"{prefix}br0"):
        if rule[:2] == ["-A", "FORWARD"]:
            _run(["iptables", "-w", "-D", *rule[1:]], check=False)
    for tree in _cgroup_trees(prefix):
        _rmdir_tree(tree)


def lock_holder(prefix: str) -> int | None:
    """PID of the live process holding the prefix' lock, or None."""
    path = LOCK_DIR / f"prefix-{prefix}.lock"
    if not path.is_file():
        return None
    with path.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            text = f.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


def take_lock(name: str, what: str = "test hosts") -> IO[str]:
    """An exclusive, non-blocking flock on LOCK_DIR/name holding our PID; RuntimeError if a
    live run holds it (shared by the test hosts and tests/vm.py's bridges: one namespace)."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    f = (LOCK_DIR / name).open("a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip()
        f.close()
        raise RuntimeError(
            f"{what}: {LOCK_DIR / name} is held by pid {holder or '?'} (another live run); "
            "use another prefix/subnet or stop that run"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


# --- hosts ---------------------------------------------------------------------------------------


@dataclass
class TestHost:
    """A booted guest. `run()` executes a shell command inside it without SSH (nsenter)."""

    __test__ = False  # not a pytest test class

    name: str
    ip: str
    leader_pid: int
    index: int = field(default=0, repr=False)
    nspawn: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    merged: Path | None = field(default=None, repr=False)
    #: the cgroup (in every v1 hierarchy) a privileged guest keeps what it creates under
    cgroup_parent: str = field(default="", repr=False)

    def run(
        self, cmd: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        args = [
            "nsenter", "-t", str(self.leader_pid), "-a",
            "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive",
            "/bin/sh", "-c", f"cd / && {cmd}",
        ]  # fmt: skip
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc


class TestHosts:
    """Booted test hosts on the bridge `{prefix}br0`; a context manager that removes it all."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        work: Path,
        *,
        prefix: str = "dcx",
        subnet: str = "10.213.0",
        packages: list[str] | None = None,
        cache: Path = CACHE,
        nspawn_args: list[str] | None = None,
        privileged: bool = False,
    ) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]{1,7}", prefix):
            raise ValueError(f"prefix {prefix!r}: 2-8 lowercase letters/digits")
        if not re.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}", subnet):
            raise ValueError(f"subnet {subnet!r}: the first three octets, e.g. 10.213.0")
        self.work = work.resolve()
        self.prefix, self.subnet, self.cache = prefix, subnet, cache
        self.packages = packages
        self.nspawn_args = list(nspawn_args or [])
        self.privileged = privileged
        self.bridge = f"{prefix}br0"
        self.hosts: dict[str, TestHost] = {}
        self._next_index = 0
        self._network_up = False
        self._stopped = False
        self._mutex = threading.Lock()
        self._locks = [take_lock(f"prefix-{prefix}.lock")]
        try:
            self._locks.append(take_lock(f"subnet-{subnet}.lock"))
            cleanup(prefix)  # whatever a crashed run of this prefix left behind
            self.work.mkdir(parents=True, exist_ok=True)
            self.ssh_key = ensure_ssh_key(cache)
            self.ssh_config = self.work / "ssh_config"
            self._write_ssh_config()
            self.timings: dict[str, float] = {}
            t = time.monotonic()
            self.lower = rootfs_tree(cache)
            self.repo = ensure_apt_repo(packages, cache)
            self.timings["cache"] = time.monotonic() - t
        except BaseException:
            self._release()
            raise

    # -- public --

    def __enter__(self) -> TestHosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def boot(self, names: list[str]) -> list[TestHost]:
        """Boot hosts in parallel; return once each answers SSH and systemd is up."""
        if self._stopped:
            raise RuntimeError("test hosts already stopped")
        for name in names:
            if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name) or name in self.hosts:
                raise ValueError(f"host name {name!r}: invalid or already booted")
        t = time.monotonic()
        self._network()
        started: list[TestHost] = []
        for name in names:
            with self._mutex:
                index = self._next_index
                self._next_index += 1
            host = TestHost(name, f"{self.subnet}.{10 + index}", 0, index)
            self.hosts[name] = host
            self._prepare(host)
            started.append(host)
        self._write_etc_hosts()
        self._write_ssh_config()
        for host in started:
            self._start(host)
        with ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
            list(pool.map(self._wait_ready, started))
        self.timings[f"boot {','.join(names)}"] = time.monotonic() - t
        return started

    def add(self, name: str) -> TestHost:
        """Boot one more host on the same bridge."""
        return self.boot([name])[0]

    def write_hosts_json(
        self, path: Path, groups: dict[str, list[str]], data: dict[str, Any] | None = None
    ) -> None:
        """The test inventory's input: key, ssh_config, hosts with their groups, shared data."""
        hosts = [
            {
                "name": h.name,
                "ip": h.ip,
                "groups": [g for g, members in groups.items() if h.name in members],
            }
            for h in self.hosts.values()
        ]
        doc = {
            "ssh_key": str(self.ssh_key.resolve()),
            "ssh_config": str(self.ssh_config.resolve()),
            "hosts": hosts,
            "data": data or {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.rename(path)

    def stop(self) -> None:
        """Power every guest off and remove everything this run created. Idempotent."""
        if self._stopped:
            return
        t = time.monotonic()
        try:
            procs = [h.nspawn for h in self.hosts.values() if h.nspawn is not None]
            for p in procs:
                if p.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p.pid, signal.SIGTERM)  # nspawn: orderly poweroff of the guest
            deadline = time.monotonic() + STOP_GRACE
            for p in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=max(0.0, deadline - time.monotonic()))
                if p.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)
            for host in self.hosts.values():
                if host.merged is not None:
                    _umount(str(host.merged))
            cleanup(self.prefix)
            for host in self.hosts.values():
                shutil.rmtree(self.work / host.name, ignore_errors=True)
            self.timings["stop"] = time.monotonic() - t
        finally:
            self._stopped = True
            self._release()

    # -- internals --

    def _release(self) -> None:
        for f in self._locks:
            with contextlib.suppress(OSError):
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()
        self._locks = []

    def _network(self) -> None:
        if self._network_up:
            return
        br = self.bridge
        _run(["ip", "link", "add", br, "type", "bridge"])
        _run(["ip", "addr", "add", f"{self.subnet}.1/24", "dev", br])
        _run(["ip", "link", "set", br, "up"])
        # The machine forwards (ip_forward=1): nothing may leave or enter the bridge through it.
        _run(["iptables", "-w", "-I", "FORWARD", "-i", br, "!", "-o", br, "-j", "DROP"])
        _run(["iptables", "-w", "-I", "FORWARD", "-o", br, "!", "-i", br, "-j", "DROP"])
        self._network_up = True

    def _cgroup_dirs(self, name: str) -> tuple[list[Path], dict[str, Path]]:
        """(tracking cgroups the nspawn process moves into, controller -> host sub-cgroup)."""
        if (CGROUP / "cgroup.procs").is_file():  # pure cgroup v2: one tree, nothing to bind
            return [CGROUP / self.prefix / name], {}
        tracking = [
            CGROUP / h / self.prefix / name
            for h in ("systemd", "unified")
            if (CGROUP / h / "cgroup.procs").is_file()
        ]
        binds = {
            c: CGROUP / c / self.prefix / name
            for c in HOSTCG_CONTROLLERS
            if (CGROUP / c / "cgroup.procs").is_file()
        }
        return tracking, binds

    def _prepare(self, host: TestHost) -> None:
        """Overlay, per-host files, network namespace and cgroups of one host (not started)."""
        base = self.work / host.name
        shutil.rmtree(base, ignore_errors=True)
        upper, workdir, merged = base / "upper", base / "work", base / "merged"
        for d in (upper, workdir, merged):
            d.mkdir(parents=True)
        _run([
            "mount", "-t", "overlay", f"{self.prefix}-{host.name}",
            "-o", f"lowerdir={self.lower},upperdir={upper},workdir={workdir}", str(merged),
        ])  # fmt: skip
        host.merged = merged
        (merged / "etc/hostname").write_text(f"{host.name}\n")
        (merged / "etc/machine-id").write_text(f"{uuid.uuid4().hex}\n")
        ssh = merged / "root/.ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        (ssh / "authorized_keys").write_text(self.ssh_key.with_suffix(".pub").read_text())
        os.chmod(ssh / "authorized_keys", 0o600)
        (merged / "srv/repo").mkdir(parents=True, exist_ok=True)
        ns = f"{self.prefix}-{host.name}"
        veth = f"{self.prefix}v{host.index}"
        _run(["ip", "netns", "add", ns])
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        _run(["ip", "link", "set", veth, "master", self.bridge, "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{host.ip}/24", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        tracking, binds = self._cgroup_dirs(host.name)
        for d in [*tracking, *binds.values()]:
            d.mkdir(parents=True, exist_ok=True)
        host.cgroup_parent = f"/{self.prefix}/{host.name}"
        if self.privileged:
            units = merged / "etc/systemd/system"
            (units / "dcos-test-cgroups.service").write_text(CGROUP_MOUNT_UNIT)
            (units / "sysinit.target.wants").mkdir(exist_ok=True)
            (units / "sysinit.target.wants/dcos-test-cgroups.service").symlink_to(
                "/etc/systemd/system/dcos-test-cgroups.service"
            )

    def _privileged_args(self) -> list[str]:
        """nspawn arguments of a privileged guest: capabilities, keyring, the v1 hierarchies."""
        if not self.privileged:
            return []
        roots = [
            h
            for h in sorted(CGROUP.iterdir())
            if h.is_dir()
            and not h.is_symlink()
            and h.name not in ("systemd", "unified")
            and (h / "cgroup.procs").is_file()
        ]
        return [*PRIVILEGED_NSPAWN_ARGS, *(f"--bind={h}:/run/hostcgroot/{h.name}" for h in roots)]

    def _start(self, host: TestHost) -> None:
        assert host.merged is not None
        tracking, binds = self._cgroup_dirs(host.name)
        args = [
            "systemd-nspawn", "-q", "-D", str(host.merged), "-b",
            "-M", f"{self.prefix}-{host.name}", f"--hostname={host.name}",
            "--register=no", "--keep-unit", "--link-journal=no", "--resolv-conf=off",
            f"--network-namespace-path=/run/netns/{self.prefix}-{host.name}",
            "--console=read-only", f"--bind-ro={self.repo}:/srv/repo",
            *(f"--bind={path}:/run/hostcg/{c}" for c, path in binds.items()),
            *self._privileged_args(),
            *self.nspawn_args,
        ]  # fmt: skip
        # Own cgroups in the name=systemd and unified hierarchies, or several guests collide on
        # their `payload` cgroup; the shell moves itself, then becomes nspawn.
        script = "".join(f'echo $$ > "{d}/cgroup.procs" && ' for d in tracking)
        log = (self.work / f"{host.name}.log").open("wb")
        try:
            host.nspawn = subprocess.Popen(
                ["/bin/sh", "-c", f'{script}exec "$@"', "sh", *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def _log_tail(self, host: TestHost) -> str:
        with contextlib.suppress(OSError):
            return (self.work / f"{host.name}.log").read_text(errors="replace")[-3000:]
        return ""

    def _find_leader(self, host: TestHost) -> int | None:
        assert host.nspawn is not None
        own = os.readlink("/proc/self/ns/pid")
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{host.nspawn.pid}/task/{host.nspawn.pid}/children")
            for pid in children.read_text().split():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/ns/pid") != own:
                        return int(pid)
        return None

    def _wait_ready(self, host: TestHost) -> None:
        assert host.nspawn is not None
        deadline = time.monotonic() + BOOT_TIMEOUT
        state = "not started"
        while True:
            if host.nspawn.poll() is not None:
                raise RuntimeError(
                    f"{host.name}: systemd-nspawn exited {host.nspawn.returncode}:\n"
                    + self._log_tail(host)
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host.name}: not up after {BOOT_TIMEOUT:.0f} s ({state})")
            if not host.leader_pid:
                host.leader_pid = self._find_leader(host) or 0
            elif state not in ("running", "degraded"):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p = host.run("systemctl is-system-running", check=False, timeout=5)
                    state = p.stdout.strip() or p.stderr.strip()
            else:
                ssh = self.ssh(host.name, "true", check=False, timeout=10, connect_timeout=2)
                if ssh.returncode == 0:
                    return
                state = f"ssh: {ssh.stderr.strip()}"
            time.sleep(0.1)

    def ssh(
        self,
        name: str,
        cmd: str,
        *,
        check: bool = True,
        timeout: float = 60,
        connect_timeout: float = 5,
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` on a host over SSH with the harness' ssh_config."""
        args = ["ssh", "-F", str(self.ssh_config), "-o", f"ConnectTimeout={connect_timeout:g}",
                name, cmd]  # fmt: skip
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, args, proc.stdout, proc.stderr)
        return proc

    def _write_ssh_config(self) -> None:
        key = self.ssh_key.resolve()
        blocks = [
            f"Host {h.name} {h.ip}\n"
            f"  HostName {h.ip}\n"
            "  User root\n"
            f"  IdentityFile {key}\n"
            "  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n"
            "  BatchMode yes\n"
            "  LogLevel ERROR\n"
            for h in self.hosts.values()
        ]
        header = "# dcos-core test hosts (tests/testhosts.py); use with `ssh -F THIS_FILE m1`\n"
        tmp = self.ssh_config.with_suffix(".tmp")
        tmp.write_text(header + "\n".join(blocks))
        tmp.rename(self.ssh_config)

    def _write_etc_hosts(self) -> None:
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{h.ip}\t{h.name}" for h in self.hosts.values()]
        text = "\n".join(lines) + "\n"
        for h in self.hosts.values():
            if h.merged is not None and h.merged.is_dir():
                with contextlib.suppress(OSError):
                    (h.merged / "etc/hosts").write_text(text)
