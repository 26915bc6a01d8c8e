"""The local recipe for the dcos-core base image: a bootable Debian 12 VM disk (qcow2), no cloud.

    python -m appliance.base_image --out build/appliance/base.qcow2 [--authorized-key KEY.pub]
                                   [--size 4G] [--include pkg,...] [--mirror URI ...] [--work DIR]

Needs root and Debian `mmdebstrap e2fsprogs grub-pc-bin qemu-utils`; no loop devices, no
mounts, no partitioning tool:

1. mmdebstrap: a minbase bookworm tree with systemd, sshd, python3, a kernel, haproxy, ...
   (`PACKAGES` plus `--include` extras), fetched from the machine's own Debian mirrors; its
   initramfs leaves out network drivers (the root is on a local disk; 24 MB instead of 36).
2. customise: hostname `dcos-core`, fstab on `LABEL=dcos-root`, systemd-networkd with DHCP on
   every `en*`/`eth*` link (waiting for the network never holds the boot longer than 30 s),
   host keys generated at first boot, root login with a key only, an empty machine-id, Debian's
   own apt sources, GRUB's configuration and modules under /boot/grub.
3. filesystem: a raw disk file with an MBR (one bootable Linux partition from 1 MiB to the end,
   written here) and an ext4 filesystem made straight from the tree at that offset
   (`mkfs.ext4 -E offset=... -d TREE`).
4. grub: a BIOS GRUB (`grub-mkimage -O i386-pc`) in the gap after the MBR and GRUB's boot
   sector in the MBR, i.e. what `grub-bios-setup` would write (checked, patched if need be).
5. convert: `qemu-img convert -O qcow2` to `--out`.

`build_base_image()` does that and returns the phase durations; `ensure_base_image()` builds
once per recipe into a cache directory (what the tests and the Packer builds start from).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

SUITE: Final = "bookworm"
PACKAGES: Final = (
    "python3", "python3-venv", "systemd", "systemd-sysv", "openssh-server", "iproute2", "dbus",
    "procps", "ca-certificates", "linux-image-amd64", "udev", "kmod", "haproxy", "sudo", "curl",
    "e2fsprogs",
)  # fmt: skip
# Bump when the customisation changes (it is part of ensure_base_image()'s stamp, as is a hash
# of this file: any edit of the recipe makes a new image).
CUSTOMIZE_VERSION: Final = 1
HOSTNAME: Final = "dcos-core"
ROOT_LABEL: Final = "dcos-root"
# The apt sources the image keeps: Debian's own (the build may use another mirror).
DEBIAN_SOURCES: Final = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
KERNEL_ARGS: Final = f"root=LABEL={ROOT_LABEL} ro console=tty0 console=ttyS0,115200"
MASKED_UNITS: Final = (
    "apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service",
    "apt-daily-upgrade.service", "e2scrub_all.timer", "e2scrub_all.service",
    "e2scrub_reap.service", "systemd-timesyncd.service",
    # an appliance never prompts on its console (only runs when /etc/machine-id is missing)
    "systemd-firstboot.service",
)  # fmt: skip
HOSTKEYS_UNIT: Final = "dcos-ssh-hostkeys.service"
# The host keys made at first boot (what `ssh-keygen -A` makes, less RSA: a 3072-bit RSA key
# takes 17-23 s to generate under QEMU without KVM, ed25519 and ECDSA 0.2 s each; every SSH
# client of the last ten years, Packer's and paramiko included, takes ed25519).
HOST_KEY_TYPES: Final = ("ed25519", "ecdsa")
# Units this recipe adds or configures (a test checks none of them failed).
OWN_UNITS: Final = (
    HOSTKEYS_UNIT, "ssh.service", "systemd-networkd.service",
    "systemd-networkd-wait-online.service",
)  # fmt: skip
REQUIRED_TOOLS: Final = ("mmdebstrap", "mkfs.ext4", "grub-mkimage", "qemu-img", "chroot")
GRUB_DIR: Final = Path("/usr/lib/grub/i386-pc")
GRUB_MODULES: Final = (
    "biosdisk", "part_msdos", "ext2", "search", "normal", "linux", "echo", "serial",
    "terminal", "test", "configfile",
)  # fmt: skip
SECTOR: Final = 512
PART_START: Final = 2048  # sectors: the partition starts at 1 MiB, GRUB's core.img sits before
# The places grub-bios-setup patches (grub's include/grub/i386/pc/boot.h).
BOOT_KERNEL_SECTOR: Final = 0x5C  # u64: where core.img starts (its first sector, diskboot)
BOOT_DRIVE_CHECK: Final = 0x66  # a 2-byte jmp, NOPed for hard disks
MBR_CODE_END: Final = 0x1B8  # boot code ends here: disk signature and partition table follow
# Last 12 bytes of diskboot (core.img's first sector): the blocklist of the rest of core.img.
DISKBOOT_BLOCKLIST: Final = SECTOR - 12  # u64 start sector, u16 sector count, u16 segment
PHASES: Final = ("mmdebstrap", "customise", "filesystem", "grub", "convert")

# The host keys a machine lacks (`$$` is a `$` for the shell: systemd expands `$`).
_KEYGEN: Final = (
    f"for t in {' '.join(HOST_KEY_TYPES)}; do f=/etc/ssh/ssh_host_$${{t}}_key; "
    '[ -e "$$f" ] || ssh-keygen -q -t "$$t" -N "" -f "$$f"; done'
)
FILES: Final[dict[str, str]] = {
    "etc/hostname": f"{HOSTNAME}\n",
    "etc/hosts": (
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    ),
    "etc/fstab": f"# dcos-core appliance\nLABEL={ROOT_LABEL}\t/\text4\terrors=remount-ro\t0\t1\n",
    "etc/locale.conf": "LANG=C.UTF-8\n",
    "etc/default/locale": "LANG=C.UTF-8\n",
    "etc/machine-id": "",  # empty: systemd makes one at first boot and commits it
    "etc/apt/sources.list": "\n".join(DEBIAN_SOURCES) + "\n",
    "etc/systemd/network/80-dcos-dhcp.network": (
        "# dcos-core appliance: DHCP on every Ethernet link, predictable or kernel names.\n"
        "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n\n[DHCPv4]\nUseDomains=yes\n"
    ),
    "etc/systemd/system/systemd-networkd-wait-online.service.d/dcos-core.conf": (
        "# dcos-core appliance: one link is enough, and never hold the boot longer than 30 s.\n"
        "[Service]\nExecStart=\n"
        "ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30\n"
    ),
    f"etc/systemd/system/{HOSTKEYS_UNIT}": (
        "[Unit]\n"
        "Description=Generate the SSH host keys of this machine (first boot of the image)\n"
        "ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n"
        "Before=ssh.service\n\n"
        "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        f"ExecStart=/bin/sh -ec '{_KEYGEN}'\n\n"
        "[Install]\nWantedBy=multi-user.target ssh.service\n"
    ),
    "etc/ssh/sshd_config.d/dcos-core.conf": (
        "# dcos-core appliance: root logs in with a key only.\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n"
        + "".join(f"HostKey /etc/ssh/ssh_host_{t}_key\n" for t in HOST_KEY_TYPES)
    ),
    "boot/grub/grub.cfg": (
        "# dcos-core appliance: BIOS GRUB installed by appliance/base_image.py\n"
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial console\nterminal_output serial console\n"
        "set default=0\nset timeout=0\n"
        "menuentry 'dcos-core (Debian 12)' {\n"
        f"    search --no-floppy --label {ROOT_LABEL} --set=root\n"
        f"    linux /vmlinuz {KERNEL_ARGS}\n"
        "    initrd /initrd.img\n}\n"
    ),
}
# Put in place before the kernel is installed, so that its initramfs is made with them.
INITRAMFS_FILES: Final[dict[str, str]] = {
    "conf.d/resume": "RESUME=none\n",  # no resume device to look for at boot
    # MODULES=most adds every network and InfiniBand driver for NFS roots; this root is on a
    # local disk. Without them the initramfs is 40 % smaller, which matters under emulation:
    # GRUB reads it at about 3.5 MB/s through the BIOS there.
    "hooks/zz-dcos-core-trim": (
        "#!/bin/sh\n"
        "# dcos-core appliance: the root filesystem is on a local disk: no network drivers.\n"
        'case "$1" in prereqs) exit 0 ;; esac\n'
        'rm -rf "$DESTDIR/lib/modules/$version/kernel/drivers/net" '
        '"$DESTDIR/lib/modules/$version/kernel/drivers/infiniband"\n'
    ),
}
# Embedded in core.img: find the root filesystem by label, whatever BIOS disk it is.
GRUB_EARLY_CFG: Final = (
    f"search --no-floppy --label {ROOT_LABEL} --set=root\nset prefix=($root)/boot/grub\n"
)
# Files dpkg leaves out of the image (documentation; the copyright files stay).
DPKG_EXCLUDES: Final = (
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright", "path-exclude=/usr/share/info/*",
)  # fmt: skip


class BuildError(Exception):
    """A build failed for a reason worth one line to the user (missing tool, failed command)."""


# --- helpers -------------------------------------------------------------------------------------


def _run(args: Sequence[str], *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise BuildError(f"{args[0]}: command not found") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{args[0]} did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-3000:]
        raise BuildError(f"{args[0]} exited {proc.returncode}:\n{tail}")
    return proc


def parse_size(size: str) -> int:
    """Bytes of a size like `4G`, `4096M`, `512K` or `4294967296` (powers of 1024)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", size, re.IGNORECASE)
    if not m:
        raise BuildError(f"bad size {size!r} (expected e.g. 4G, 4096M)")
    return int(m[1]) << (10 * " KMGT".index(m[2].upper() or " "))


def host_mirrors() -> list[str]:
    """The machine's bookworm Debian sources (one-line `deb URI SUITE main` entries).

    Read from /etc/apt/sources.list and sources.list.d (one-line and deb822 formats); other
    repositories, suites and backports are left out. Falls back to `DEBIAN_SOURCES`.
    """
    entries: list[tuple[str, str]] = []
    apt = Path("/etc/apt")
    for f in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]:
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if not line.startswith("#") and ":" in line:
                        k, v = line.split(":", 1)
                        fields[k.strip().lower()] = v.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                entries += [
                    (uri, suite)
                    for uri in fields.get("uris", "").split()
                    for suite in fields.get("suites", "").split()
                ]
        elif f.suffix == ".list":
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 4 and words[0] == "deb":
                    entries.append((words[1], words[2]))
    out: list[str] = []
    for uri, suite in entries:
        if (suite != SUITE and not suite.startswith(f"{SUITE}-")) or suite.endswith("backports"):
            continue
        line = f"deb {uri} {suite} main"
        if "debian" in uri and line not in out:
            out.append(line)
    return out or list(DEBIAN_SOURCES)


@contextlib.contextmanager
def _phase(name: str, timings: dict[str, float]) -> Iterator[None]:
    start = time.monotonic()
    yield
    timings[name] = round(time.monotonic() - start, 1)
    print(f"[base-image] {name}: {timings[name]:.1f} s", flush=True)


def check_prerequisites() -> None:
    """Raise BuildError unless this runs as root with every tool the recipe needs."""
    if os.geteuid() != 0:
        raise BuildError("building the base image needs root (mmdebstrap, chroot, file owners)")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if not (GRUB_DIR / "boot.img").is_file():
        missing.append(f"{GRUB_DIR}/boot.img (Debian grub-pc-bin)")
    if missing:
        raise BuildError(
            f"missing: {', '.join(missing)} "
            "(Debian: apt-get install mmdebstrap e2fsprogs grub-pc-bin qemu-utils)"
        )


# --- phases --------------------------------------------------------------------------------------


def bootstrap(tree: Path, include: Sequence[str], mirrors: Sequence[str], work: Path) -> None:
    """mmdebstrap a minbase bookworm tree with `PACKAGES` and `include` into `tree`, with
    `INITRAMFS_FILES` in /etc/initramfs-tools before the kernel comes."""
    packages = sorted({*PACKAGES, *include})
    staging = work / "initramfs-tools"
    shutil.rmtree(staging, ignore_errors=True)
    for rel, text in INITRAMFS_FILES.items():
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_text(text)
        os.chmod(staging / rel, 0o755 if rel.startswith("hooks/") else 0o644)
    try:
        _run(
            [
                "mmdebstrap", "--quiet", "--mode=root", "--variant=minbase",
                f"--include={','.join(packages)}",
                "--aptopt=Acquire::Retries \"3\"",
                *(f"--dpkgopt={o}" for o in DPKG_EXCLUDES),
                f'--essential-hook=mkdir -p "$1/etc/initramfs-tools" && '
                f'cp -r "{staging}/." "$1/etc/initramfs-tools/"',
                SUITE, str(tree), *mirrors,
            ],
            timeout=1800,
        )  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def customise(tree: Path, authorized_key: Path | None) -> None:
    """Turn the bootstrapped tree into the appliance (see the module docstring)."""
    for rel, text in FILES.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.write_text(text)
    for stale in (tree / "etc/apt/sources.list.d").glob("*"):
        stale.unlink()
    for stale in (tree / "var/lib/apt/lists").glob("*_*"):
        stale.unlink()
    # Each machine makes its own host keys and machine-id at first boot.
    for key in (tree / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    dbus_id = tree / "var/lib/dbus/machine-id"
    if dbus_id.exists() and not dbus_id.is_symlink():
        dbus_id.unlink()
    localtime = tree / "etc/localtime"
    localtime.unlink(missing_ok=True)
    localtime.symlink_to("/usr/share/zoneinfo/Etc/UTC")
    (tree / "usr/sbin/policy-rc.d").unlink(missing_ok=True)
    ssh_dir = tree / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(ssh_dir, 0o700)
    if authorized_key is not None:
        keys = ssh_dir / "authorized_keys"
        keys.write_text(authorized_key.read_text().strip() + "\n")
        os.chmod(keys, 0o600)
    # systemctl and passwd work on files in a chroot (nothing runs there).
    _run(["chroot", str(tree), "systemctl", "enable", "--quiet",
          "systemd-networkd.service", "ssh.service", HOSTKEYS_UNIT])  # fmt: skip
    _run(["chroot", str(tree), "systemctl", "mask", "--quiet", *MASKED_UNITS])
    _run(["chroot", str(tree), "passwd", "--lock", "root"])
    grub = tree / "boot/grub/i386-pc"
    grub.mkdir(parents=True, exist_ok=True)
    for f in GRUB_DIR.iterdir():
        if f.suffix in (".mod", ".lst"):
            shutil.copyfile(f, grub / f.name)
    for link in ("vmlinuz", "initrd.img"):
        if not (tree / link).exists():
            raise BuildError(f"the tree has no /{link} (did linux-image-amd64 install?)")


def _chs(lba: int) -> bytes:
    """The CHS address of an LBA in MBR form (255 heads, 63 sectors, saturated at 1023/254/63)."""
    c, rest = divmod(lba, 255 * 63)
    h, s = divmod(rest, 63)
    if c > 1023:
        c, h, s = 1023, 254, 62
    return bytes([h, ((s + 1) & 0x3F) | ((c >> 2) & 0xC0), c & 0xFF])


def mbr_partition_table(total_sectors: int, signature: int) -> bytes:
    """Bytes 0x1B8..0x200 of an MBR: disk signature, one bootable Linux partition from
    `PART_START` to the end of the disk, three empty entries, 0x55AA."""
    count = total_sectors - PART_START
    entry = (
        bytes([0x80])
        + _chs(PART_START)
        + bytes([0x83])
        + _chs(total_sectors - 1)
        + struct.pack("<II", PART_START, count)
    )
    table = struct.pack("<IH", signature, 0) + entry + bytes(48) + b"\x55\xaa"
    assert len(table) == SECTOR - MBR_CODE_END
    return table


def make_filesystem(tree: Path, raw: Path, size: int, signature: int) -> None:
    """A sparse raw disk of `size` bytes: MBR partition table and ext4 (label `ROOT_LABEL`) made
    from `tree` in the partition."""
    size -= size % (1024 * 1024)
    if size < 64 * 1024 * 1024:
        raise BuildError("the disk must be at least 64M")
    with raw.open("wb") as f:
        f.truncate(size)
        f.seek(MBR_CODE_END)
        f.write(mbr_partition_table(size // SECTOR, signature))
    offset = PART_START * SECTOR
    _run(
        [
            "mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(tree),
            # GRUB 2.06 cannot read these newer ext4 features
            "-O", "^metadata_csum_seed,^orphan_file",
            "-E", f"offset={offset},nodiscard", str(raw), f"{(size - offset) // 1024}k",
        ],
        timeout=1200,
    )  # fmt: skip


def install_grub(raw: Path, work: Path) -> None:
    """BIOS GRUB on the raw disk, as `grub-bios-setup` does it: core.img (diskboot + kernel +
    modules + an early config finding the root by label) from sector 1, GRUB's boot.img as the
    MBR's boot code, pointing at sector 1; the partition table stays."""
    early = work / "grub-early.cfg"
    early.write_text(GRUB_EARLY_CFG)
    core = work / "core.img"
    _run(["grub-mkimage", "-O", "i386-pc", "-d", str(GRUB_DIR), "-c", str(early),
          "-p", "(hd0,msdos1)/boot/grub", "-o", str(core), *GRUB_MODULES])  # fmt: skip
    core_img = bytearray(core.read_bytes())
    sectors = -(-len(core_img) // SECTOR)
    if 1 + sectors > PART_START:
        raise BuildError(f"core.img is {len(core_img)} bytes: too big for the gap before 1 MiB")
    # diskboot loads the rest of core.img from this blocklist: sector 2 on, sectors - 1 of them
    # (grub-mkimage's defaults; patched if a GRUB ever made it otherwise).
    start, count, segment = struct.unpack_from("<QHH", core_img, DISKBOOT_BLOCKLIST)
    if (start, count) != (2, sectors - 1):
        struct.pack_into("<QHH", core_img, DISKBOOT_BLOCKLIST, 2, sectors - 1, segment)
    boot = bytearray((GRUB_DIR / "boot.img").read_bytes()[:MBR_CODE_END])
    struct.pack_into("<Q", boot, BOOT_KERNEL_SECTOR, 1)  # core.img at sector 1 (the default)
    if boot[BOOT_DRIVE_CHECK] == 0xEB:  # a hard disk: trust no BIOS' drive number, like setup
        boot[BOOT_DRIVE_CHECK : BOOT_DRIVE_CHECK + 2] = b"\x90\x90"
    with raw.open("r+b") as f:
        f.seek(0)
        f.write(boot)
        f.seek(SECTOR)
        f.write(core_img)


def convert(raw: Path, out: Path) -> None:
    """`qemu-img convert` the raw disk to qcow2 at `out` (written to a temporary name first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(tmp)],
             timeout=1200)  # fmt: skip
        tmp.rename(out)
    finally:
        tmp.unlink(missing_ok=True)


# --- API -----------------------------------------------------------------------------------------


def build_base_image(
    out: Path,
    *,
    authorized_key: Path | None = None,
    size: str = "4G",
    include: Sequence[str] = (),
    work: Path | None = None,
    mirrors: Sequence[str] | None = None,
) -> dict[str, float]:
    """Build the base image at `out` (qcow2); returns seconds per phase (`PHASES`).

    `authorized_key`: a public key file for root's authorized_keys (e.g. the key Packer
    builds with); `include`: extra Debian packages; `work`: where the tree and the raw disk
    are made (default: a temporary directory next to `out`, removed afterwards);
    `mirrors`: mmdebstrap mirror lines (default: the machine's own, `host_mirrors()`).
    Raises BuildError.
    """
    check_prerequisites()
    size_bytes = parse_size(size)
    if authorized_key is not None and not authorized_key.is_file():
        raise BuildError(f"authorized key {authorized_key}: no such file")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix=".base-image-", dir=out.parent)) if own_work else work
    assert work is not None
    work.mkdir(parents=True, exist_ok=True)
    tree, raw = work / "rootfs", work / "disk.raw"
    signature = int.from_bytes(hashlib.sha256(str(out).encode()).digest()[:4], "little")
    timings: dict[str, float] = {}
    try:
        shutil.rmtree(tree, ignore_errors=True)
        with _phase("mmdebstrap", timings):
            bootstrap(tree, include, host_mirrors() if mirrors is None else mirrors, work)
        with _phase("customise", timings):
            customise(tree, authorized_key)
        with _phase("filesystem", timings):
            make_filesystem(tree, raw, size_bytes, signature)
        with _phase("grub", timings):
            install_grub(raw, work)
        with _phase("convert", timings):
            convert(raw, out)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        for made in (raw, work / "core.img", work / "grub-early.cfg"):
            made.unlink(missing_ok=True)
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    timings["total"] = round(sum(timings.values()), 1)
    return timings


def recipe_stamp(authorized_key: Path | None) -> str:
    """What makes one base image differ from another: packages, customisation version, the
    authorized key's content and this file (the recipe itself)."""
    spec = {
        "suite": SUITE,
        "packages": sorted(PACKAGES),
        "customize": CUSTOMIZE_VERSION,
        "key": authorized_key.read_text().strip() if authorized_key is not None else None,
        "recipe": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def ensure_base_image(cache: Path, authorized_key: Path | None) -> Path:
    """`cache/appliance/base-<stamp>.qcow2`, built once (see `recipe_stamp()`).

    Concurrent callers wait for one build (an fcntl lock); the image appears atomically; older
    base images in that directory are removed once a new one is there (a VM already running
    on one keeps its open file).
    """
    directory = cache / "appliance"
    image = directory / f"base-{recipe_stamp(authorized_key)}.qcow2"
    if image.is_file():
        return image
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not image.is_file():
                work = directory / f".work-{image.stem}"
                shutil.rmtree(work, ignore_errors=True)  # a crashed build's (we hold the lock)
                try:
                    build_base_image(image, authorized_key=authorized_key, work=work)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
            for old in directory.glob("base-*.qcow2"):
                if old != image:
                    old.unlink(missing_ok=True)
            for stale in directory.glob(".base-*.qcow2.tmp-*"):
                stale.unlink(missing_ok=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return image


# --- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m appliance.base_image",
        description="Build the dcos-core base image: a bootable Debian 12 disk (qcow2).",
    )
    parser.add_argument("--out", type=Path, required=True, help="the qcow2 file to write")
    parser.add_argument("--authorized-key", type=Path, help="public key for root (FILE.pub)")
    parser.add_argument("--size", default="4G", help="virtual disk size (default 4G)")
    parser.add_argument(
        "--include", action="append", default=[], help="extra packages (comma-separated)"
    )
    parser.add_argument(
        "--mirror",
        action="append",
        help="mmdebstrap mirror (URI or 'deb URI SUITE COMPONENTS'; repeatable; "
        "default: the machine's bookworm sources)",
    )
    parser.add_argument("--work", type=Path, help="work directory (default: temporary)")
    args = parser.parse_args(argv)
    include = [p for arg in args.include for p in arg.split(",") if p.strip()]
    try:
        timings = build_base_image(
            args.out,
            authorized_key=args.authorized_key,
            size=args.size,
            include=include,
            work=args.work,
            mirrors=args.mirror,
        )
    except BuildError as e:
        print(f"base image: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("base image: interrupted", file=sys.stderr)
        return 130
    print(f"[base-image] {args.out}: {timings['total']:.1f} s in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
