"""Make a config drive for an appliance: a small vfat disk image labelled CIDATA (NoCloud).

    python -m appliance.seed --role agent --master 10.0.0.5:5050 --attributes rack=r1 \\
        --ssh-key ~/.ssh/id_ed25519.pub -o seed.img
    qemu-system-x86_64 ... -drive file=dcos-core.qcow2,if=virtio \\
        -drive file=seed.img,if=virtio,format=raw,readonly=on

The drive holds `user-data` (a `#cloud-config` document with the `dcos_core:` settings the
appliance's first boot reads, see appliance/firstboot.py) and `meta-data` (instance id and host
name). cloud-init reads the same drive on images that have it. Made with `mkfs.vfat` and `mcopy`
(Debian dosfstools, mtools): no loop device, no root needed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import yaml

ROLES = ("master", "agent", "public_agent")


def user_data(dcos_core: dict[str, Any], ssh_keys: list[str] | None = None) -> str:
    """The `#cloud-config` document for these settings."""
    doc: dict[str, Any] = {"dcos_core": dcos_core}
    if ssh_keys:
        doc["ssh_authorized_keys"] = ssh_keys
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False)


def make_seed(out: Path, user_data_text: str, hostname: str | None = None) -> Path:
    """Write a vfat image labelled CIDATA holding `user-data` and `meta-data` to `out`."""
    instance = f"dcos-{uuid.uuid4().hex[:12]}"
    meta = f"instance-id: {instance}\nlocal-hostname: {hostname or instance}\n"
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="dcos-seed-") as tmp:
        for name, text in (("user-data", user_data_text), ("meta-data", meta)):
            (Path(tmp) / name).write_text(text)
        _run(["mkfs.vfat", "-n", "CIDATA", "-C", str(out), "2048"])
        _run(["mcopy", "-o", "-i", str(out), f"{tmp}/user-data", f"{tmp}/meta-data", "::"])
    return out


def _run(cmd: list[str]) -> None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit(f"{cmd[0]} not found: apt-get install dosfstools mtools") from None
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {p.stderr.strip() or p.returncode}")


def _pairs(text: str | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise SystemExit(f"--{what}: {part!r} is not key=value")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", required=True, choices=ROLES)
    ap.add_argument("--master", help="the master's host:port (required for agents)")
    ap.add_argument("--attributes", help="agent attributes: rack=r1,zone=a")
    ap.add_argument("--resources", help="agent resources: cpus=4,mem=8192 (default: discovered)")
    ap.add_argument("--ip", help="the address to advertise (default: detected at boot)")
    ap.add_argument("--ssh-key", action="append", default=[], help="a public key file for root")
    ap.add_argument("--hostname", help="local-hostname in meta-data")
    ap.add_argument("-o", "--output", type=Path, default=Path("seed.img"))
    args = ap.parse_args(argv)
    if args.role != "master" and not args.master:
        ap.error("an agent needs --master host:port")
    settings: dict[str, Any] = {"role": args.role}
    for key in ("master", "ip"):
        if getattr(args, key):
            settings[key] = getattr(args, key)
    if args.attributes:
        settings["attributes"] = _pairs(args.attributes, "attributes")
    if args.resources:
        settings["resources"] = _pairs(args.resources, "resources")
    keys = [Path(k).expanduser().read_text().strip() for k in args.ssh_key]
    make_seed(args.output, user_data(settings, keys), args.hostname)
    print(f"{args.output}: config drive CIDATA, role {args.role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
