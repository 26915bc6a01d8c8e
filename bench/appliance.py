"""Appliance benchmark: image build time and boot-to-registered-agent time, software emulation.

    python -m bench.appliance                         # one JSON line of figures
    python -m bench.appliance --boots 3 --plot docs/appliance-bench.png
    python -m bench.appliance --cold-base             # also time the base image from scratch

1. the base image (`appliance/base_image.py`): from the test cache, or built from scratch into a
   temporary cache with `--cold-base` (mmdebstrap dominates);
2. `packer build -only=qemu.dcos` (Packer 1.6.6, `qemu_accelerator=tcg`), timed per phase from
   Packer's output: VM start, boot, install with pyinfra, testinfra image checks, seal, shut down;
3. `--boots` boots of the image, each with a config drive "agent, master at <bridge address>", on a
   private bridge with a master running on this machine: the time from QEMU's start until the
   master lists the agent, split by the guest's own clock (firmware and GRUB, kernel and systemd
   until dcos-firstboot, the first boot itself, the agent's start until it is registered).

No KVM on these machines: everything runs under QEMU's TCG. With KVM the same build and boot are
several times faster.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.appliancekit import packer_build
from tests.cluster import Cluster
from tests.testhosts import CACHE, ensure_ssh_key
from tests.vm import VM, TapBridge

from appliance.base_image import build_base_image, ensure_base_image
from appliance.seed import make_seed, user_data
from bench.harness import emit, pyplot, save, wait_for


def boot_to_registered(image: Path, key: Path, work: Path, n: int) -> list[dict[str, float]]:
    runs = []
    with TapBridge(work / "net", prefix="dcab", subnet="10.222.0") as bridge:
        for i in range(n):
            runs.append(_boot(image, key, work / f"boot-{i}", bridge))
            print(f"boot {i + 1}/{n}: {runs[-1]}", file=sys.stderr, flush=True)
    return runs


def _boot(image: Path, key: Path, work: Path, bridge: TapBridge) -> dict[str, float]:
    """One boot of `image` as an agent of a fresh master on `bridge`, with its phases."""
    (work / "cluster").mkdir(parents=True)
    cluster = Cluster(
        work / "cluster",
        master_ip=bridge.address,
        agent_ping_timeout=5,
        max_agent_ping_timeouts=12,
    )
    try:
        cluster.start_master()
        seed = make_seed(
            work / "seed.img",
            user_data(
                {"role": "agent", "master": cluster.master_addr},
                [key.with_suffix(".pub").read_text().strip()],
            ),
        )
        t0 = time.monotonic()
        with VM(image, work / "vm", ssh_key=key, net=bridge, seed=seed) as vm:
            wait_for(lambda: cluster.state()["slaves"], 900, "agent registered")
            at = time.monotonic()
            registered = at - t0
            vm.wait_ssh(120)
            return {
                "boot_to_registered_agent_s": round(registered, 1),
                **guest_phases(vm, registered, time.monotonic() - at),
            }
    finally:
        cluster.stop()


def guest_phases(vm: VM, registered: float, since: float) -> dict[str, float]:
    """Where the boot went, from the guest's monotonic clock (0 = the kernel starts).

    `registered` is host seconds from QEMU's start to the master listing the agent, `since` the
    seconds between that and now; the guest's uptime now minus `since` is its clock then.
    """
    show = "systemctl show --value -p"
    script = (
        f"cat /proc/uptime; {show} ExecMainStartTimestampMonotonic dcos-firstboot;"
        f" {show} ExecMainExitTimestampMonotonic dcos-firstboot;"
        f" {show} ActiveEnterTimestampMonotonic dcos-agent"
    )
    t = time.monotonic()
    out = vm.ssh(script).stdout.split()
    since += time.monotonic() - t
    uptime = float(out[0]) - since
    fb_start, fb_end, agent_up = (int(x) / 1e6 for x in out[2:5])
    return {
        "firmware_grub_s": round(registered - uptime, 1),
        "kernel_systemd_to_firstboot_s": round(fb_start, 1),
        "firstboot_s": round(fb_end - fb_start, 1),
        "agent_start_to_registered_s": round(uptime - max(fb_end, agent_up), 1),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(9, 3.2))
    rows: list[tuple[str, list[tuple[str, float]]]] = []
    if "base_image_cold_s" in result:
        rows.append(
            ("base image (mmdebstrap + disk)", [("base image", result["base_image_cold_s"])])
        )
    phases = [(k, v) for k, v in result["packer_phases_s"].items() if k != "total"]
    rows.append(("packer build (qemu, TCG)", phases))
    boot = result["boots"][0]
    rows.append(
        (
            "boot to registered agent",
            [
                ("firmware, GRUB", boot["firmware_grub_s"]),
                ("kernel, systemd", boot["kernel_systemd_to_firstboot_s"]),
                ("dcos-firstboot", boot["firstboot_s"]),
                ("agent start, registration", boot["agent_start_to_registered_s"]),
            ],
        )
    )
    colors = plt.get_cmap("tab10").colors
    seen: dict[str, Any] = {}
    for y, (_, segments) in enumerate(rows):
        left = 0.0
        for name, width in segments:
            color = seen.setdefault(name, colors[len(seen) % len(colors)])
            ax.barh(y, width, left=left, color=color, label=name)
            if width > 8:
                ax.text(left + width / 2, y, f"{width:.0f}s", ha="center", va="center", fontsize=8)
            left += width
        ax.text(left + 2, y, f"{left:.0f} s", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("seconds (QEMU software emulation, 2 cores)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=7, loc="lower right", ncol=2)
    ax.set_title("dcos-core appliance: image build and boot to a registered agent")
    save(fig, path, dpi=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boots", type=int, default=2)
    ap.add_argument("--cold-base", action="store_true", help="time the base image from scratch")
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    key = ensure_ssh_key(CACHE)
    result: dict[str, Any] = {"machine": f"{platform.machine()}, no KVM (TCG)"}
    with tempfile.TemporaryDirectory(prefix="dcos-appliance-bench-") as tmp:
        work = Path(tmp)
        if args.cold_base:
            t = time.monotonic()
            phases = build_base_image(work / "base.qcow2", authorized_key=key.with_suffix(".pub"))
            result["base_image_cold_s"] = round(time.monotonic() - t, 1)
            result["base_image_phases_s"] = {k: round(v, 1) for k, v in phases.items()}
            base = work / "base.qcow2"
        else:
            base = ensure_base_image(CACHE, authorized_key=key.with_suffix(".pub"))
        out = work / "img"
        out.mkdir()
        print("packer build (qemu, tcg) ...", file=sys.stderr, flush=True)
        result["packer_phases_s"] = packer_build(out, base, key, work / "packer.log")
        result["packer_build_s"] = result["packer_phases_s"]["total"]
        image = out / "qemu" / "dcos-core.qcow2"
        result["image_size_mb"] = round(image.stat().st_size / 2**20)
        runs = boot_to_registered(image, key, work, args.boots)
    result["boots"] = runs
    result["boot_to_registered_agent_s_median"] = round(
        statistics.median(r["boot_to_registered_agent_s"] for r in runs), 1
    )
    emit(result)
    if args.plot:
        plot(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
