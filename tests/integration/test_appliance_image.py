"""The appliance image for real: Packer builds it, QEMU boots it, the agent in it joins a master.

Software emulation (no KVM on these machines), no way out of any VM:

1. the local base image (`appliance/base_image.py`, cached in the test cache) — a bootable
   Debian 12 disk made from an mmdebstrap root filesystem;
2. `packer build -only=qemu.dcos` with Debian's Packer 1.6.6 (`packer/legacy.sh`): QEMU user
   networking with `restrict=on`, pyinfra installs the image over the forwarded SSH port, the
   testinfra image checks run against the build VM, `appliance/seal.sh`, the manifest;
3. the testinfra checks against the built image's root filesystem (`--connection=chroot`, the
   filesystem copied out of the disk with debugfs, no mount): installed, nothing enabled, sealed;
4. the image booted on a private bridge made here (a tap, DHCP with no router: it reaches the
   machine's bridge address and nothing else) with a config drive saying "agent, master at the
   bridge address": the agent registers with a master running on this machine and runs a task;
   the testinfra checks of a deployed agent pass against the VM;
5. a wrong setting (no master) makes `systemctl restart dcos-firstboot` fail with the reason on
   the serial console and in the journal; fixed, a re-run brings the agent back.

The figures (image build time, boot to registered agent) are printed and written to
`figures.json` in the test's directory; `python -m bench.appliance` reports the same.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from appliance.base_image import ensure_base_image
from appliance.seed import make_seed, user_data
from tests.appliancekit import extract_rootfs, infra_checks, packer_build
from tests.cluster import Cluster, RawScheduler, task_info, wait_for
from tests.testhosts import CACHE, ensure_ssh_key
from tests.vm import VM, TapBridge

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.hosts,
    pytest.mark.timeout(2400),
]


def test_build_boot_and_join(tmp_path: Path) -> None:
    figures: dict[str, Any] = {}
    key = ensure_ssh_key(CACHE)
    t = time.monotonic()
    base = ensure_base_image(CACHE, authorized_key=key.with_suffix(".pub"))
    figures["base_image_s (cached after the first run)"] = round(time.monotonic() - t, 1)

    # 2. the Packer build
    out = tmp_path / "img"
    out.mkdir()
    log = tmp_path / "packer.log"
    figures["packer_build_phases_s"] = phases = packer_build(out, base, key, log)
    figures["packer_build_s"] = phases["total"]
    text = log.read_text()
    assert "Running local shell script" in text and " passed in " in text  # the image checks
    image = out / "qemu" / "dcos-core.qcow2"
    manifest = json.loads((out / "manifest.json").read_text())
    (build,) = manifest["builds"]
    assert build["builder_type"] == "qemu" and build["files"][0]["name"] == "dcos-core.qcow2"
    assert build["custom_data"]["roles"] == "master,agent,public_agent"
    figures["image_size_mb"] = round(image.stat().st_size / 2**20)

    # 3. the image's root filesystem: installed, nothing enabled, sealed
    rootfs = extract_rootfs(image, tmp_path / "rootfs")
    out_chroot, figures["testinfra_image_chroot_passed"] = infra_checks(
        "--connection=chroot", f"--hosts={rootfs}"
    )
    assert "test_image_sealed.py::test_no_ssh_host_keys" in out_chroot
    shutil.rmtree(rootfs)

    # 4. boot it as an agent of a master on this machine, over a network made here
    with TapBridge(tmp_path / "net", prefix="dcai", subnet="10.221.0") as bridge:
        (tmp_path / "cluster").mkdir()
        cluster = Cluster(
            tmp_path / "cluster",
            master_ip=bridge.address,
            agent_ping_timeout=5,
            max_agent_ping_timeouts=12,
        )
        try:
            cluster.start_master()
            settings = {"role": "agent", "master": cluster.master_addr, "attributes": {"os": "vm"}}
            seed = make_seed(
                tmp_path / "seed.img",
                user_data(settings, [key.with_suffix(".pub").read_text().strip()]),
            )
            t0 = time.monotonic()
            with VM(image, tmp_path / "vm", ssh_key=key, net=bridge, seed=seed) as vm:
                agents = wait_for(lambda: cluster.state()["slaves"], 900, "the agent registered")
                figures["boot_to_registered_agent_s"] = round(time.monotonic() - t0, 1)
                (agent,) = agents
                assert agent["hostname"] == vm.ip
                assert agent["attributes"].get("os") == "vm"
                vm.wait_ssh(120)
                figures["boot_to_ssh_s"] = vm.timings["boot_to_ssh_s"]
                status = json.loads(vm.ssh("cat /etc/dcos-core/firstboot.json").stdout)
                assert status["role"] == "agent" and status["source"].startswith("config drive")

                # a task on the appliance's agent
                sched = RawScheduler(cluster.master_addr)
                sched.subscribe()
                offer = sched.wait_offers(timeout=60)[0]
                sched.launch(offer, [task_info("t1", offer, "echo hello-from-the-appliance")])
                sched.wait_update("t1", "TASK_FINISHED", timeout=120)
                found = vm.ssh(
                    "grep -rl hello-from-the-appliance /var/lib/dcos-core/agent --include=stdout"
                )
                assert found.stdout.strip(), "the task's output is not in its sandbox"
                sched.close()

                # the checks of a deployed agent, against the VM
                _, figures["testinfra_vm_passed"] = infra_checks(
                    "--hosts=ssh://vm", f"--ssh-config={vm.ssh_config}"
                )

                # 5. a wrong setting: a clear failure; fixed: back
                vm.ssh("printf 'role = \"agent\"\\n' > /etc/dcos-core/appliance.toml")
                assert vm.ssh("systemctl restart dcos-firstboot", check=False).returncode != 0
                journal = vm.ssh("journalctl -u dcos-firstboot --no-pager -o cat").stdout
                assert "`master`: missing: an agent needs the master's host:port" in journal
                wait_for(lambda: "cannot configure this host" in vm.console(), 30, "console")
                vm.ssh(
                    f'printf \'role = "agent"\\nmaster = "{cluster.master_addr}"\\n\''
                    " > /etc/dcos-core/appliance.toml"
                )
                vm.ssh("systemctl restart dcos-firstboot", timeout=120)
                assert vm.ssh("systemctl is-active dcos-agent").stdout.strip() == "active"
                wait_for(
                    lambda: httpx.get(f"{cluster.url}/slaves", timeout=5).json()["slaves"][0][
                        "active"
                    ],
                    120,
                    "agent active",
                )
        finally:
            cluster.stop()
    print(json.dumps(figures))
    (tmp_path / "figures.json").write_text(json.dumps(figures, indent=2))
