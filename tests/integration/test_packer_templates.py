"""The Packer templates of the appliance images (packer/), checked offline with Packer 1.6.6.

Users build with current Packer (`packer init packer/`, then `packer build packer/`); this machine
has Packer 1.6.6, whose builders are built in and which does not know `required_plugins`. So the
directory keeps the plugin requirements alone in `packer.pkr.hcl`, every other file is valid for
both, and `packer/legacy.sh` validates the directory without `packer.pkr.hcl`:

- the whole directory and each source on its own (`-only`) validate with the variables CI gives;
- validation really reads each builder's settings: an unknown key injected into one source, or
  a missing SSH key file for the qemu source, fails it (and `-only` leaves out the others);
- the two forms are in step: `packer.pkr.hcl` holds only the `packer {}` block, with one plugin
  per source type and no other, and no other file says `required_plugins`;
- `packer fmt -check` accepts every file.

Needs `packer` and `ssh-keygen` (scripts/setup.sh test installs them); each validation takes 1-2 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
PACKER_DIR = ROOT / "packer"
LEGACY = PACKER_DIR / "legacy.sh"
# builder (source type) -> the plugin that provides it in current Packer
PLUGINS = {"amazon-ebs": "amazon", "azure-arm": "azure", "qemu": "qemu"}
SOURCES = [f"{builder}.dcos" for builder in PLUGINS]
SETUP = "run scripts/setup.sh test (it installs Debian's packer and openssh-client)"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"`{tool}` is not installed: {SETUP}")
    return path


def run(
    cmd: list[str], env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`cmd` from the repository root, with Packer's update check off."""
    return subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, "CHECKPOINT_DISABLE": "1", **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def validate(*args: str, script: Path = LEGACY, tmpdir: Path | None = None) -> tuple[int, str]:
    """`legacy.sh validate ARGS...`: (exit status, stdout + stderr)."""
    need("packer")
    env = {"TMPDIR": str(tmpdir)} if tmpdir else {}
    proc = run(["bash", str(script), "validate", *args], env=env)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def ci_vars(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The `-var`s CI gives: a base image that exists, a real private key, TCG, a scratch
    output directory, the project's pyinfra and Python."""
    d = tmp_path_factory.mktemp("packer-ci")
    (d / "base.qcow2").write_bytes(b"")
    keygen = need("ssh-keygen")
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "packer-ci", "-f", str(d / "key")],
        check=True,
    )
    pairs = {
        "qemu_base_image": d / "base.qcow2",
        "qemu_ssh_private_key_file": d / "key",
        "qemu_accelerator": "tcg",
        "output_dir": d / "out",
        "pyinfra": ROOT / ".venv/bin/pyinfra",
        "python": ROOT / ".venv/bin/python",
    }
    return [arg for name, value in pairs.items() for arg in ("-var", f"{name}={value}")]


def with_var(args: list[str], name: str, value: str) -> list[str]:
    """`args` with `-var name=...` replaced by `-var name=value`."""
    return [f"{name}={value}" if a.startswith(f"{name}=") else a for a in args]


# --- packer validate ---------------------------------------------------------------------------


def test_the_directory_validates(ci_vars: list[str], tmp_path: Path) -> None:
    status, out = validate(*ci_vars, tmpdir=tmp_path)
    assert status == 0, out
    assert list(tmp_path.iterdir()) == [], "legacy.sh left its temporary copy behind"


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_validates(ci_vars: list[str], source: str) -> None:
    status, out = validate(f"-only={source}", *ci_vars)
    assert status == 0, out


def test_validation_reads_the_qemu_settings_and_only_selects(
    ci_vars: list[str], tmp_path: Path
) -> None:
    """A qemu SSH key file that does not exist fails the qemu source (and the whole directory),
    not the others: `-only` really selects, and the check is not a syntax check."""
    missing = tmp_path / "no-such-key"
    args = with_var(ci_vars, "qemu_ssh_private_key_file", str(missing))
    for selection, fails in [
        ([], True),
        (["-only=qemu.dcos"], True),
        (["-only=amazon-ebs.dcos"], False),
        (["-only=azure-arm.dcos"], False),
        (["-except=qemu.dcos"], False),
    ]:
        status, out = validate(*selection, *args)
        if fails:
            assert status != 0, f"{selection}: passed with a missing key file\n{out}"
            assert "ssh_private_key_file" in out and str(missing) in out, out
        else:
            assert status == 0, f"{selection}\n{out}"


def broken_copy(tmp_path: Path, edit: dict[str, tuple[str, str]]) -> Path:
    """A copy of the repository's packer/ next to symlinks of the repository's other top-level
    entries (so `path.root/..` still finds appliance/ and pyproject.toml), with each file in
    `edit` changed by one (old, new) replacement. Returns the copy's legacy.sh."""
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name != "packer" and not entry.name.startswith("."):
            (repo / entry.name).symlink_to(entry)
    shutil.copytree(PACKER_DIR, repo / "packer")
    for name, (old, new) in edit.items():
        path = repo / "packer" / name
        text = path.read_text()
        assert text.count(old) == 1, f"{name}: {old!r} is not there exactly once"
        path.write_text(text.replace(old, new))
    return repo / "packer" / "legacy.sh"


@pytest.mark.parametrize("builder", list(PLUGINS))
def test_an_unknown_builder_key_fails(ci_vars: list[str], tmp_path: Path, builder: str) -> None:
    header = f'source "{builder}" "dcos" {{\n'
    script = broken_copy(
        tmp_path, {"sources.pkr.hcl": (header, header + "  dcos_no_such_option = true\n")}
    )
    status, out = validate(f"-only={builder}.dcos", *ci_vars, script=script)
    assert status != 0, out
    assert "dcos_no_such_option" in out, out
    # the unbroken copy passes: the failure is the injected key, not the copy
    intact = broken_copy(tmp_path / "intact", {})
    status, out = validate(f"-only={builder}.dcos", *ci_vars, script=intact)
    assert status == 0, out


def test_version_and_image_names(tmp_path: Path) -> None:
    """`dcos_version` "" is the checkout's version (pyproject.toml); image names keep only the
    characters AMI and Azure image names allow and end with the build time."""
    legacy = broken_copy(tmp_path, {}).parent
    (legacy / "packer.pkr.hcl").unlink()

    def console(expr: str, *args: str) -> str:
        proc = run([need("packer"), "console", *args, str(legacy)], stdin=expr + "\n")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout.strip()

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert console("local.dcos_version") == version
    assert re.fullmatch(rf"dcos-core-{re.escape(version)}-\d{{14}}", console("local.image_name"))
    given = ["-var", "dcos_version=2.0.0+local.1"]
    assert re.fullmatch(r"dcos-core-2\.0\.0-local\.1-\d{14}", console("local.image_name", *given))
    assert console("local.tags.dcos_core_version", *given) == "2.0.0+local.1"


# --- the two forms in step ---------------------------------------------------------------------


def strip_comments(text: str) -> str:
    """HCL without its comments (`#`, `//`, `/* */`), strings left as they are."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "#" or text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def top_level(text: str) -> tuple[list[tuple[str, str]], str]:
    """The top-level blocks of an HCL file as (header, body), and whatever else is at the top
    level (attributes: none expected in these files)."""
    text = strip_comments(text)
    blocks: list[tuple[str, str]] = []
    rest: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c == "{":
            if depth == 0:
                header, body_start = text[start:i], i + 1
                line_start = header.rfind("\n") + 1
                rest.append(header[:line_start])
                header = header[line_start:]
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                blocks.append((" ".join(header.split()), text[body_start:i]))
                start = i + 1
        i += 1
    rest.append(text[start:])
    return blocks, "".join(rest).strip()


def hcl_files() -> dict[str, str]:
    files = {p.name: p.read_text() for p in sorted(PACKER_DIR.glob("*.pkr.hcl"))}
    assert {"packer.pkr.hcl", "variables.pkr.hcl", "sources.pkr.hcl", "build.pkr.hcl"} <= set(
        files
    ), sorted(files)
    return files


def test_packer_block_alone_with_one_plugin_per_source_type() -> None:
    files = hcl_files()
    blocks, rest = top_level(files.pop("packer.pkr.hcl"))
    assert [h for h, _ in blocks] == ["packer"] and rest == "", "packer.pkr.hcl: only packer {}"
    body = blocks[0][1]
    assert re.search(r'^\s*required_version\s*=\s*">=\s*1\.1\d', body, re.M), body
    plugins = dict(
        re.findall(r'^\s*([\w-]+)\s*=\s*\{[^{}]*?source\s*=\s*"([^"]+)"', body, re.M | re.S)
    )
    headers = [h for text in files.values() for h, _ in top_level(text)[0]]
    matches = [re.fullmatch(r'source "([^"]+)" "([^"]+)"', h) for h in headers]
    sources = [(m[1], m[2]) for m in matches if m]
    assert len(sources) == sum(h.startswith("source") for h in headers), headers
    assert sorted(sources) == sorted((b, "dcos") for b in PLUGINS), sources
    assert plugins == {p: f"github.com/hashicorp/{p}" for p in PLUGINS.values()}, plugins
    for name, text in files.items():
        assert "required_plugins" not in text, f"{name} mentions required_plugins"
        assert all(h != "packer" for h, _ in top_level(text)[0]), f"{name}: a packer {{}} block"


def test_the_build_has_every_source() -> None:
    builds = [b for h, b in top_level(hcl_files()["build.pkr.hcl"])[0] if h == "build"]
    assert len(builds) == 1, "one build block"
    listed = re.search(r"^\s*sources\s*=\s*\[([^\]]*)\]", builds[0], re.M)
    assert listed, builds[0]
    assert sorted(re.findall(r'"([^"]+)"', listed.group(1))) == sorted(
        f"source.{s}" for s in SOURCES
    )


# --- packer fmt ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in PACKER_DIR.glob("*.pkr.hcl")))
def test_fmt_check(name: str) -> None:
    proc = run([need("packer"), "fmt", "-check", "-diff", str(PACKER_DIR / name)])
    assert proc.returncode == 0, f"run `packer fmt packer/`\n{proc.stdout}{proc.stderr}"


def test_fmt_check_sees_bad_formatting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pkr.hcl"
    bad.write_text('variable "x" {\n  default = "y"\n      type = string\n}\n')
    proc = run([need("packer"), "fmt", "-check", str(bad)])
    assert proc.returncode != 0, proc.stdout + proc.stderr
