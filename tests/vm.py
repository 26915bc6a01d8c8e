"""Virtual machines for the tests: an appliance disk booted under QEMU (software emulation), SSH.

Needs root and Debian `qemu-system-x86 qemu-utils openssh-client`, plus `dnsmasq-base iptables
iproute2` for a `TapBridge`. No KVM on the project's machines: QEMU always runs with
`-accel tcg` (the appliance image boots to sshd in 35-45 s).

- `VM(disk, work, ssh_key=...)` boots `disk` through a qcow2 overlay in `work` (the image itself
  is never written) with its serial console in `work/console.log`; `wait_ssh()`, `ssh()`,
  `console()`, `stop()`; `vm.ssh_config` names it `vm` for `ssh -F` and testinfra's
  `--ssh-config`.
- Network `"user"` (default): QEMU's user networking with `restrict=on` (the guest reaches
  nothing outside), SSH through a forwarded port on 127.0.0.1.
- Network `TapBridge(...)`: a private bridge `{prefix}br0` ({subnet}.1 on the machine), one tap
  per VM and a dnsmasq that hands each VM its pinned address ({subnet}.{10+i}), with neither a
  default route nor DNS; iptables drops whatever would be forwarded between the bridge and any
  other interface. SSH goes straight to the VM's address.

Everything a `TapBridge` makes is named after its prefix and removed on exit; a lock per prefix
and per subnet (in the test hosts' lock directory, so `tests.testhosts` runs and VMs never share
one) keeps live runs apart, and what a crashed run of the same prefix left behind is removed
when the next one starts. Only processes started here are signalled, by PID: QEMU (own session)
and dnsmasq, and after a crash those whose pid file is ours and whose command line is ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

from tests.cluster import free_port
from tests.testhosts import LOCK_DIR, take_lock

SSH_OPTIONS: Final = (
    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
)  # fmt: skip
STOP_GRACE: Final = 20.0
SLOTS: Final = 90  # VMs per TapBridge: {subnet}.10 to {subnet}.99


def _run(args: list[str], *, check: bool = True, timeout: float = 60) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)!r} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def process_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def _kill_if_ours(pidfile: Path, *markers: str) -> None:
    """SIGKILL the process of a pid file left by a crashed run, if it still is what we started
    (its command line contains every marker), and remove the pid file."""
    text = pidfile.read_text().strip() if pidfile.is_file() else ""
    if text.isdigit():
        pid = int(text)
        args = _cmdline(pid)
        if args and all(any(m in a for a in args) for m in markers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while process_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    pidfile.unlink(missing_ok=True)


# --- private network -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TapPort:
    """A VM's place on a TapBridge: its tap device, MAC, pinned address, and where its QEMU
    writes its PID (so that a later run can clean up after a crashed one)."""

    index: int
    tap: str
    mac: str
    ip: str
    pidfile: Path


class TapBridge:
    """A private layer-2 network for VMs: bridge, taps, DHCP with pinned addresses, no way out.

    Use as a context manager (or `start()`/`close()`); `attach()` gives each VM a `TapPort`.
    """

    def __init__(self, work: Path, *, prefix: str = "dcvm", subnet: str = "10.219.0") -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]{0,9}", prefix):
            raise ValueError(f"prefix {prefix!r}: 1-10 of [a-z0-9], starting with a letter")
        if not re.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}", subnet):
            raise ValueError(f"subnet {subnet!r}: the first three octets, e.g. 10.219.0")
        self.work = work
        self.prefix = prefix
        self.subnet = subnet
        self.bridge = f"{prefix}br0"
        self.address = f"{subnet}.1"
        self.dnsmasq_pidfile = LOCK_DIR / f"{prefix}-dnsmasq.pid"
        self.leasefile = work / "leases"
        self.ports: dict[int, TapPort] = {}
        self._dnsmasq: subprocess.Popen[bytes] | None = None
        self._locks: list[IO[str]] = []

    def __enter__(self) -> TapBridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # names of what a prefix owns (also used to clean up after a crashed run)
    @staticmethod
    def _links(prefix: str) -> list[str]:
        out = _run(["ip", "-o", "link", "show"], check=False)
        names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
        return [n for n in names if n == f"{prefix}br0" or re.fullmatch(rf"{prefix}t\d+", n)]

    @staticmethod
    def _rules(bridge: str) -> list[list[str]]:
        out = _run(["iptables", "-w", "-S", "FORWARD"], check=False)
        return [line.split() for line in out.splitlines() if bridge in line.split()]

    @classmethod
    def leftovers(cls, prefix: str) -> list[str]:
        """What of a prefix' network still exists (links, iptables rules, pid files): empty
        after a clean `close()`."""
        out = [f"link {n}" for n in cls._links(prefix)]
        out += [f"iptables {' '.join(r)}" for r in cls._rules(f"{prefix}br0")]
        out += [f"pid file {p}" for p in sorted(LOCK_DIR.glob(f"{prefix}-*.pid"))]
        return out

    @classmethod
    def cleanup(cls, prefix: str) -> None:
        """Remove what a run of `prefix` left: its QEMUs and dnsmasq (by their pid files, if
        their command lines are ours), taps, bridge, iptables rules. Call with the lock held."""
        bridge = f"{prefix}br0"
        for pidfile in LOCK_DIR.glob(f"{prefix}-*.qemu.pid"):
            tap = pidfile.name.removeprefix(f"{prefix}-").removesuffix(".qemu.pid")
            _kill_if_ours(pidfile, "qemu-system", f"ifname={tap}")
        _kill_if_ours(LOCK_DIR / f"{prefix}-dnsmasq.pid", "dnsmasq", f"--interface={bridge}")
        for link in cls._links(prefix):
            _run(["ip", "link", "delete", link], check=False)
        for rule in cls._rules(bridge):
            if rule[:2] == ["-A", "FORWARD"]:
                _run(["iptables", "-w", "-D", *rule[1:]], check=False)

    def start(self) -> None:
        """Take the prefix and subnet locks, clean up a crashed run, make bridge, rules, DHCP."""
        try:
            self._locks.append(take_lock(f"prefix-{self.prefix}.lock", "VM bridge"))
            self._locks.append(take_lock(f"subnet-{self.subnet}.lock", "VM bridge"))
            self.cleanup(self.prefix)
            in_use = _run(["ip", "-o", "-4", "addr", "show"])
            if re.search(rf"inet {re.escape(self.subnet)}\.\d+/", in_use):
                raise RuntimeError(f"{self.subnet}.0/24 is already on an interface of this machine")
            self.work.mkdir(parents=True, exist_ok=True)
            _run(["ip", "link", "add", self.bridge, "type", "bridge"])
            self._no_ipv6(self.bridge)
            _run(["ip", "addr", "add", f"{self.address}/24", "dev", self.bridge])
            _run(["ip", "link", "set", self.bridge, "up"])
            for rule in (["-i", self.bridge, "!", "-o", self.bridge],
                         ["-o", self.bridge, "!", "-i", self.bridge]):  # fmt: skip
                _run(["iptables", "-w", "-I", "FORWARD", *rule, "-j", "DROP"])
            self._start_dnsmasq()
        except BaseException:
            self.close()
            raise

    def _no_ipv6(self, link: str) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/sys/net/ipv6/conf/{link}/disable_ipv6").write_text("1\n")

    def _start_dnsmasq(self) -> None:
        self.dnsmasq_pidfile.unlink(missing_ok=True)
        # Every slot's address pinned up front (dnsmasq runs as nobody: it could not read a
        # hosts file in a private work directory, and needs no reload this way).
        pinned = [f"--dhcp-host={p.mac},{p.ip}" for p in map(self._port, range(SLOTS))]
        args = [
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts",
            f"--interface={self.bridge}", "--bind-interfaces", "--except-interface=lo",
            "--port=0", "--no-resolv", "--dhcp-authoritative",
            f"--dhcp-range={self.subnet}.100,{self.subnet}.150,12h",
            "--dhcp-option=3", "--dhcp-option=6",  # no router, no DNS server
            *pinned, f"--dhcp-leasefile={self.leasefile}",
            f"--pid-file={self.dnsmasq_pidfile}", f"--log-facility={self.work / 'dnsmasq.log'}",
            "--log-dhcp",
        ]  # fmt: skip
        self._dnsmasq = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        # dnsmasq writes its pid file once set up
        while self._read_pidfile() != self._dnsmasq.pid:
            if self._dnsmasq.poll() is not None:
                err = self._dnsmasq.stderr.read().decode() if self._dnsmasq.stderr else ""
                raise RuntimeError(f"dnsmasq exited {self._dnsmasq.returncode}: {err.strip()}")
            if time.monotonic() > deadline:
                raise RuntimeError("dnsmasq did not write its pid file within 10 s")
            time.sleep(0.05)

    @property
    def dnsmasq_pid(self) -> int | None:
        """The PID of our dnsmasq while the bridge is up."""
        return self._dnsmasq.pid if self._dnsmasq is not None else None

    def _read_pidfile(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(self.dnsmasq_pidfile.read_text().strip())
        return None

    def _port(self, index: int) -> TapPort:
        """Slot `index` (0-89): tap `{prefix}t{index}`, address {subnet}.{10+index} and a MAC
        made of the address' last three octets (52:54:00:...), pinned in dnsmasq."""
        octets = [int(o) for o in self.subnet.split(".")] + [10 + index]
        return TapPort(
            index=index,
            tap=f"{self.prefix}t{index}",
            mac="52:54:00:" + ":".join(f"{o:02x}" for o in octets[1:]),
            ip=".".join(map(str, octets)),
            pidfile=LOCK_DIR / f"{self.prefix}-{self.prefix}t{index}.qemu.pid",
        )

    def attach(self) -> TapPort:
        """A new tap on the bridge for a VM, with its pinned DHCP address."""
        if self._dnsmasq is None:
            raise RuntimeError("TapBridge is not started")
        if len(self.ports) >= SLOTS:
            raise RuntimeError(f"a TapBridge has room for {SLOTS} VMs")
        port = self._port(len(self.ports))
        _run(["ip", "tuntap", "add", "dev", port.tap, "mode", "tap"])
        self._no_ipv6(port.tap)
        _run(["ip", "link", "set", port.tap, "master", self.bridge, "up"])
        self.ports[port.index] = port
        return port

    def detach(self, port: TapPort) -> None:
        """Remove a VM's tap (after its QEMU has exited)."""
        _run(["ip", "link", "delete", port.tap], check=False)

    def close(self) -> None:
        """Stop dnsmasq (by PID), remove taps, rules and bridge, release the locks. Idempotent."""
        if self._dnsmasq is not None:
            self._dnsmasq.terminate()
            try:
                self._dnsmasq.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._dnsmasq.kill()
                self._dnsmasq.wait()
            self._dnsmasq = None
            self.dnsmasq_pidfile.unlink(missing_ok=True)
        if self._locks:  # only what we own: a live run of the same prefix keeps its network
            self.cleanup(self.prefix)
        for lock in reversed(self._locks):
            lock.close()
        self._locks.clear()


# --- QEMU ----------------------------------------------------------------------------------------


class Qmp:
    """The QEMU monitor of one VM over its unix socket: one short connection per command."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def command(self, name: str, timeout: float = 5, **arguments: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.path))
            reader = s.makefile("r")
            json.loads(reader.readline())  # greeting
            for cmd in ({"execute": "qmp_capabilities"}, {"execute": name, "arguments": arguments}):
                s.sendall(json.dumps(cmd).encode() + b"\n")
                while True:  # skip asynchronous events
                    reply: dict[str, Any] = json.loads(reader.readline())
                    if "return" in reply or "error" in reply:
                        break
                if "error" in reply:
                    raise RuntimeError(f"QMP {cmd['execute']}: {reply['error']}")
            return reply


class VM:
    """One QEMU virtual machine booted from an overlay of `disk`, reachable over SSH as root.

    Starts at construction; `stop()` (or leaving the `with` block) powers it off, kills it by
    PID if it does not go within `STOP_GRACE` seconds, and removes the overlay. `timings`
    records `boot_to_ssh_s` and `stop_s`.
    """

    def __init__(
        self,
        disk: Path,
        work: Path,
        *,
        ssh_key: Path,
        memory_mb: int = 2048,
        cpus: int = 2,
        net: Literal["user"] | TapBridge = "user",
        seed: Path | None = None,
        name: str = "vm",
    ) -> None:
        self.disk = disk.resolve()
        self.work = work
        self.ssh_key = ssh_key.resolve()
        self.name = name
        self.net = net
        self.overlay = work / "overlay.qcow2"
        self.console_log = work / "console.log"
        self.ssh_config = work / "ssh_config"
        self.qmp = Qmp(work / "qmp.sock")
        self.timings: dict[str, float] = {}
        self.port_on_bridge: TapPort | None = None
        self.host = "127.0.0.1"
        self.port = 22
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._ssh_up = False
        self._tap_released = False
        work.mkdir(parents=True, exist_ok=True)
        try:
            self._start(memory_mb, cpus, seed)
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> VM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def ip(self) -> str | None:
        """The VM's own address on a TapBridge (None on user networking)."""
        return self.port_on_bridge.ip if self.port_on_bridge is not None else None

    def _start(self, memory_mb: int, cpus: int, seed: Path | None) -> None:
        if len(str(self.qmp.path)) > 100:
            raise ValueError(f"work directory path too long for a unix socket: {self.work}")
        _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
              "-b", str(self.disk), str(self.overlay)])  # fmt: skip
        base = [
            "qemu-system-x86_64", "-accel", "tcg", "-m", str(memory_mb), "-smp", str(cpus),
            "-display", "none", "-nodefaults", "-no-reboot", "-name", self.name,
            "-serial", f"file:{self.console_log}",
            "-qmp", f"unix:{self.qmp.path},server=on,wait=off",
            "-drive", f"file={self.overlay},if=virtio,format=qcow2",
            "-device", "virtio-rng-pci",
        ]  # fmt: skip
        if seed is not None:
            base += ["-drive", f"file={seed.resolve()},if=virtio,format=raw,readonly=on"]
        if isinstance(self.net, TapBridge):
            self.port_on_bridge = port = self.net.attach()
            self.host = port.ip
            self._launch([
                *base, "-pidfile", str(port.pidfile),
                "-netdev", f"tap,id=n0,ifname={port.tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={port.mac}",
            ])  # fmt: skip
        else:
            for attempt in range(5):  # the free port may be taken before QEMU binds it
                self.port = free_port()
                fwd = f"hostfwd=tcp:127.0.0.1:{self.port}-:22"
                try:
                    self._launch([
                        *base, "-pidfile", str(self.work / "qemu.pid"),
                        "-netdev", f"user,id=n0,restrict=on,{fwd}",
                        "-device", "virtio-net-pci,netdev=n0",
                    ])  # fmt: skip
                    break
                except RuntimeError as e:
                    if "host forwarding" not in str(e) or attempt == 4:
                        raise
        self._write_ssh_config()

    def _launch(self, args: list[str]) -> None:
        """Start QEMU in its own session; return once its monitor answers (devices are set
        up), RuntimeError with its output if it exits first."""
        self.qmp.path.unlink(missing_ok=True)
        log = (self.work / "qemu.log").open("wb")
        self._started = time.monotonic()
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self._proc.poll() is not None:
                out = (self.work / "qemu.log").read_text(errors="replace").strip()
                self._proc = None
                raise RuntimeError(f"qemu exited at start: {out[-2000:]}")
            with contextlib.suppress(OSError, ValueError):
                self.qmp.command("query-status")
                return
            if time.monotonic() > deadline:
                raise RuntimeError("qemu's monitor did not answer within 30 s")
            time.sleep(0.1)

    def _write_ssh_config(self) -> None:
        self.ssh_config.write_text(
            "# a dcos-core test VM (tests/vm.py): ssh -F THIS_FILE vm\n"
            f"Host {self.name}\n"
            f"  HostName {self.host}\n"
            f"  Port {self.port}\n"
            "  User root\n"
            f"  IdentityFile {self.ssh_key}\n"
            "  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n"
            "  BatchMode yes\n"
            "  LogLevel ERROR\n"
            "  ConnectTimeout 5\n"
        )

    def console(self) -> str:
        """The serial console so far (kernel, systemd, getty)."""
        with contextlib.suppress(OSError):
            return self.console_log.read_text(errors="replace")
        return ""

    def _ssh_args(self, cmd: str, connect_timeout: float) -> list[str]:
        return [
            "ssh", *SSH_OPTIONS, "-o", f"ConnectTimeout={connect_timeout:g}",
            "-i", str(self.ssh_key), "-p", str(self.port), f"root@{self.host}", cmd,
        ]  # fmt: skip

    def ssh(
        self, cmd: str, *, check: bool = True, timeout: float = 60, connect_timeout: float = 5
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command in the VM as root; CalledProcessError if `check` and it fails."""
        args = self._ssh_args(cmd, connect_timeout)
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, args, proc.stdout, proc.stderr)
        return proc

    def wait_ssh(self, timeout: float = 180) -> float:
        """Wait until root can log in over SSH; returns (and records) seconds since QEMU
        started. RuntimeError with the console's tail if QEMU exits or time runs out."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            if not self.running:
                raise RuntimeError(f"{self.name}: qemu exited; console:\n{self.console()[-3000:]}")
            try:
                p = self.ssh("true", check=False, timeout=15, connect_timeout=2)
                if p.returncode == 0:
                    break
                last = p.stderr.strip()
            except subprocess.TimeoutExpired:
                last = "ssh timed out"
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name}: no SSH within {timeout:g} s ({last}); console:\n"
                    f"{self.console()[-3000:]}"
                )
            time.sleep(0.5)
        self._ssh_up = True
        self.timings["boot_to_ssh_s"] = round(time.monotonic() - self._started, 1)
        return self.timings["boot_to_ssh_s"]

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Power the VM off (over SSH if it answered, else the ACPI power button), SIGKILL it
        by PID after `grace` seconds, remove its tap and overlay. Idempotent."""
        start = time.monotonic()
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                asked = False
                if self._ssh_up:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.ssh("systemctl poweroff", check=False, timeout=10)
                        asked = True
                if not asked:
                    with contextlib.suppress(OSError, ValueError, RuntimeError):
                        self.qmp.command("system_powerdown")
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()  # SIGKILL to our QEMU's PID
                    proc.wait()
            self._proc = None
            self.timings["stop_s"] = round(time.monotonic() - start, 1)
        if self.port_on_bridge is not None and isinstance(self.net, TapBridge):
            if not self._tap_released:
                self.net.detach(self.port_on_bridge)
                self._tap_released = True
            self.port_on_bridge.pidfile.unlink(missing_ok=True)
        self.qmp.path.unlink(missing_ok=True)
        self.overlay.unlink(missing_ok=True)
