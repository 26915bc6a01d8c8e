"""What the appliance image test and benchmark share: the Packer build, the image's files, checks.

- `packer_build(out, base, key, log)`: `packer build -only=qemu.dcos` with Debian's Packer 1.6.6
  (`packer/legacy.sh`) under software emulation; returns the duration of each phase, read from
  the time each line of Packer's output arrived;
- `extract_rootfs(image, dest)`: the image's root filesystem copied out of its qcow2 (debugfs
  `rdump`; no loop device, no mount), for the testinfra checks with `--connection=chroot`;
- `infra_checks(*args)`: the `tests/infra` checks against some hosts; fails on a failure or a skip.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

#: Packer output lines that start a phase of the build (in order)
PHASES: tuple[tuple[str, str], ...] = (
    ("boot, wait for systemd", "Waiting for SSH to become available"),
    ("install (pyinfra)", "Running local shell script: /tmp/packer-shell"),
    ("image checks (testinfra)", "check-image.sh"),
    ("seal", "seal.sh"),
    ("shut down, write image", "seal: done"),
)


def packer_build(out: Path, base: Path, key: Path, log: Path) -> dict[str, float]:
    """Build the qemu image into `out` (`out/qemu/dcos-core.qcow2`): phase -> seconds, `total`."""
    args = [
        "bash", str(ROOT / "packer/legacy.sh"), "build", "-only=qemu.dcos",
        "-var", f"qemu_base_image={base}", "-var", f"qemu_ssh_private_key_file={key}",
        "-var", "qemu_accelerator=tcg", "-var", f"output_dir={out}",
        "-var", f"pyinfra={VENV_BIN / 'pyinfra'}", "-var", f"python={VENV_BIN / 'python'}",
    ]  # fmt: skip
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "PACKER_CACHE_DIR": str(out / "cache")}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    t0 = time.monotonic()
    marks: list[tuple[str, float]] = [("start VM", 0.0)]
    pending = list(PHASES)
    with log.open("w") as f:
        proc = subprocess.Popen(
            args, cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            f.write(line)
            if pending and re.search(pending[0][1], line):
                marks.append((pending.pop(0)[0], time.monotonic() - t0))
        rc = proc.wait(timeout=60)
    total = time.monotonic() - t0
    if rc != 0:
        raise AssertionError(f"packer build failed ({rc}):\n{log.read_text()[-6000:]}")
    phases = {
        name: round((marks[i + 1][1] if i + 1 < len(marks) else total) - at, 1)
        for i, (name, at) in enumerate(marks)
    }
    phases["total"] = round(total, 1)
    return phases


def extract_rootfs(image: Path, dest: Path) -> Path:
    """The image's root filesystem (first MBR partition) copied into `dest` with debugfs."""
    raw = dest.with_suffix(".raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image), str(raw)], check=True)
    try:
        with raw.open("rb") as f:
            mbr = f.read(512)
        if mbr[510:512] != b"\x55\xaa":
            raise AssertionError(f"{image}: no MBR")
        start = struct.unpack_from("<I", mbr, 0x1BE + 8)[0] * 512  # first partition's LBA
        dest.mkdir()
        subprocess.run(
            ["debugfs", "-R", f"rdump / {dest}", f"{raw}?offset={start}"],
            check=True,
            capture_output=True,
        )
    finally:
        raw.unlink(missing_ok=True)
    return dest


def infra_checks(*args: str) -> tuple[str, int]:
    """The `tests/infra` checks with these host arguments: (output, checks passed)."""
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA"]
    p = subprocess.run(
        [*pytest, "tests/infra", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = p.stdout + p.stderr
    ok = p.returncode == 0 and " skipped" not in out and "failed" not in out
    assert ok, out[-6000:]
    m = re.search(r"(\d+) passed", out)
    assert m, out[-2000:]
    return out, int(m.group(1))
