"""`scripts/setup.sh`: the first command (`up.sh`) installs what running a cluster needs, and only
that; the test command installs the rest (QEMU, Packer, GRUB, mtools, test hosts...).

The script runs for real, on a copy of the project, with a PATH where no tool is installed and an
`apt-get` that records what it is asked to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DEBS = {"python3-venv"}
TEST_ONLY_DEBS = {"qemu-system-x86", "qemu-utils", "packer", "grub-pc-bin", "mtools", "mmdebstrap"}


def _installs(tmp_path: Path, *args: str) -> list[str]:
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", project / "scripts" / "setup.sh")
    (project / "pyproject.toml").write_text("")
    venv = project / ".venv" / "bin"
    venv.mkdir(parents=True)  # installed already: the script stops at the Debian packages
    (venv / "python").symlink_to(sys.executable)
    for stamp in ("run", "deploy", "test"):
        (project / ".venv" / f".dcos-core-installed-{stamp}").touch()
    shims = tmp_path / "bin"
    shims.mkdir()
    record = tmp_path / "apt-get.log"
    (shims / "apt-get").write_text(
        f'#!/bin/sh\n[ "$1" = install ] && echo "$@" >>{record}\nexit 0\n'
    )
    # a python3 without venv/ensurepip, as on a fresh Debian
    (shims / "python3").write_text(
        f'#!/bin/sh\ncase "$*" in *"import venv"*) exit 1;; esac\nexec {sys.executable} "$@"\n'
    )
    (shims / "dpkg").write_text("#!/bin/sh\nexit 1\n")  # nothing installed
    for shim in ("apt-get", "python3", "dpkg"):
        (shims / shim).chmod(0o755)
    for tool in ("dirname", "chmod", "rm", "touch"):
        (shims / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    r = subprocess.run(
        ["/bin/bash", str(project / "scripts" / "setup.sh"), *args],
        env={**os.environ, "PATH": str(shims)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    words = record.read_text().split() if record.exists() else []
    return [w for w in words if not w.startswith("-") and w != "install"]


def test_setting_up_to_run_a_cluster_installs_only_what_a_cluster_needs(tmp_path: Path) -> None:
    assert set(_installs(tmp_path)) == CLUSTER_DEBS


def test_setting_up_to_test_installs_the_test_tools_too(tmp_path: Path) -> None:
    debs = set(_installs(tmp_path, "test"))
    assert debs >= CLUSTER_DEBS | TEST_ONLY_DEBS


def test_setting_up_to_deploy_installs_packer_and_ssh_but_no_test_hosts(tmp_path: Path) -> None:
    debs = set(_installs(tmp_path, "deploy"))
    assert {"packer", "openssh-client", "git"} <= debs
    assert not debs & {"qemu-system-x86", "mmdebstrap", "haproxy"}


def test_an_unknown_use_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"usage: scripts/setup\.sh"):
        _installs(tmp_path, "everything")
