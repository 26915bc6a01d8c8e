"""The wheelhouse: dcos-core and every runtime dependency as wheels, in one deterministic tarball.

The deploy builds it on the control machine (once per pyinfra run, when `deploy.py` is loaded,
before any operation) and uploads it, so the hosts need neither internet nor PyPI:

- `build/wheelhouse/deps/<hash>/`: `pip wheel` of the project's dependencies and of pip itself
  (the hosts install with it); `<hash>` covers the dependency list, the Python version and the
  machine, so they are fetched again only when `pyproject.toml`'s `dependencies` change (not
  when PyPI publishes a new release);
- `build/wheelhouse/<version>/`: the dcos-core wheel (built from a clean copy of the sources with
  `SOURCE_DATE_EPOCH` set, so the same sources give the same bytes), the tarball
  `dcos-core-<version>-wheelhouse.tar` (entries sorted, fixed mtime, owner root, mode 0644: its
  checksum changes only when the code or the dependencies change) and `stamp.json`;
- when the sources (`src/`, `pyproject.toml`, `README.md`) hash to the value in `stamp.json`,
  the previous tarball is reused without running pip at all (a few milliseconds).

The targets must match the control machine: same Python minor version (3.11 on Debian 12) and
architecture, since compiled dependencies (pydantic-core, httptools, ...) are platform wheels.

Run by hand: `python -m roles.wheelhouse [--force]` prints what it built or reused as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: 1980-01-01: the earliest time a zip (wheel) can hold, used for every file we write.
SOURCE_DATE_EPOCH = 315532800
#: Files and directories of the project that make up the wheel (anything else can't change it).
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "setup.py", "MANIFEST.in")
SOURCE_DIRS = ("src",)
#: Also in the wheelhouse: the hosts run pip from its wheel into venvs made `--without-pip`
#: (ensurepip costs ~3.5 s of CPU per host and leaves an unneeded pip in the venv).
INSTALLER: str | None = "pip"
_SKIP_PARTS = ("__pycache__", ".egg-info", ".mypy_cache", ".pytest_cache", ".ruff_cache")


class WheelhouseError(RuntimeError):
    """Building or finding a wheelhouse failed (the message says what to do)."""


@dataclass(frozen=True)
class Wheelhouse:
    """A tarball of wheels ready to upload."""

    name: str
    version: str
    tarball: Path
    sha256: str
    size: int
    built: bool  # False: reused from the cache
    seconds: float


def project(root: Path = ROOT) -> dict[str, object]:
    """`[project]` of `root/pyproject.toml`."""
    with (root / "pyproject.toml").open("rb") as f:
        table = tomllib.load(f)["project"]
    if not isinstance(table, dict):
        raise WheelhouseError(f"{root}/pyproject.toml has no [project] table")
    return table


def source_version(root: Path = ROOT) -> str:
    """The version of the checkout (`[project] version`)."""
    return str(project(root)["version"])


def _source_paths(root: Path) -> Iterator[Path]:
    for name in SOURCE_FILES:
        if (root / name).is_file():
            yield root / name
    for d in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / d):
            dirnames[:] = sorted(n for n in dirnames if not n.endswith(_SKIP_PARTS))
            for f in sorted(filenames):
                if not f.endswith((".pyc", ".pyo")):
                    yield Path(dirpath) / f


def source_hash(root: Path = ROOT) -> str:
    """sha256 over the relative path, executable bit and content of every source file."""
    h = hashlib.sha256()
    for path in _source_paths(root):
        rel = path.relative_to(root).as_posix()
        h.update(f"{rel}\0{os.access(path, os.X_OK):d}\0{path.stat().st_size}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def deps_key(dependencies: Sequence[str]) -> str:
    """Key of a dependency wheel set: the requirements, the Python version and the machine."""
    text = json.dumps(
        {
            "dependencies": sorted(dependencies),
            "installer": INSTALLER,
            "python": list(sys.version_info[:2]),
            "machine": platform.machine(),
            "platform": sys.platform,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pip(args: Sequence[str], env_extra: dict[str, str] | None = None) -> None:
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **(env_extra or {}),
    }
    cmd = [sys.executable, "-m", "pip", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise WheelhouseError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{tail}")


def deterministic_tar(files: Sequence[tuple[str, Path]], dest: Path) -> None:
    """Write `files` ((name in the archive, local path)) as an uncompressed tar whose bytes
    depend only on the names and contents: sorted, mtime 1980-01-01, root:root, mode 0644."""
    tmp = dest.with_name(dest.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, path in sorted(files):
            info = tarfile.TarInfo(arcname)
            info.size = path.stat().st_size
            info.mtime = SOURCE_DATE_EPOCH
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with path.open("rb") as f:
                tar.addfile(info, f)
    os.replace(tmp, dest)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _copy_sources(root: Path, dest: Path) -> None:
    for path in _source_paths(root):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _build_deps(dependencies: Sequence[str], out_dir: Path, log: Callable[[str], None]) -> Path:
    deps_dir = out_dir / "deps" / deps_key(dependencies)
    if (deps_dir / ".complete").exists():
        return deps_dir
    log(f"fetching {len(dependencies)} dependencies as wheels into {deps_dir}")
    tmp = Path(tempfile.mkdtemp(prefix="deps-", dir=out_dir))
    try:
        wanted = [*([INSTALLER] if INSTALLER else []), *dependencies]
        if wanted:
            _pip(["wheel", "--quiet", "--wheel-dir", str(tmp), *wanted])
        (tmp / ".complete").write_text("\n".join(sorted(dependencies)) + "\n")
        if deps_dir.exists():
            shutil.rmtree(deps_dir)
        deps_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, deps_dir)
        for old in deps_dir.parent.iterdir():  # tarballs are self-contained: old sets can go
            if old != deps_dir and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return deps_dir


def build(
    root: Path = ROOT,
    out_dir: Path | None = None,
    *,
    force: bool = False,
    build_isolation: bool = True,
    log: Callable[[str], None] = lambda _msg: None,
) -> Wheelhouse:
    """Build (or reuse) the wheelhouse tarball of the project at `root`."""
    t0 = time.monotonic()
    out_dir = out_dir or root / "build" / "wheelhouse"
    meta = project(root)
    name, version = str(meta["name"]), str(meta["version"])
    dependencies = [str(d) for d in meta.get("dependencies") or []]  # type: ignore[attr-defined]
    vdir = out_dir / version
    tarball = vdir / f"{name}-{version}-wheelhouse.tar"
    stamp_path = vdir / "stamp.json"
    src = source_hash(root)
    stamp = _read_stamp(stamp_path)
    if (
        not force
        and stamp.get("source") == src
        and stamp.get("deps") == deps_key(dependencies)
        and tarball.is_file()
        and tarball.stat().st_size == stamp.get("size")
    ):
        return Wheelhouse(
            name,
            version,
            tarball,
            str(stamp["sha256"]),
            int(stamp["size"]),
            built=False,
            seconds=time.monotonic() - t0,
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    deps_dir = _build_deps(dependencies, out_dir, log)
    log(f"building the {name} {version} wheel")
    work = Path(tempfile.mkdtemp(prefix="build-", dir=out_dir))
    try:
        _copy_sources(root, work / "src-copy")
        args = ["wheel", "--quiet", "--no-deps", "--wheel-dir", str(work / "wheels")]
        if not build_isolation:
            args.append("--no-build-isolation")
        _pip([*args, str(work / "src-copy")], {"SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)})
        own = sorted((work / "wheels").glob("*.whl"))
        if len(own) != 1:
            raise WheelhouseError(f"expected one wheel of {name}, pip made {own}")
        vdir.mkdir(parents=True, exist_ok=True)
        for old in vdir.glob("*.whl"):
            old.unlink()
        wheel = vdir / own[0].name
        shutil.move(own[0], wheel)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    members = [(f"wheels/{p.name}", p) for p in deps_dir.glob("*.whl")]
    members.append((f"wheels/{wheel.name}", wheel))
    deterministic_tar(members, tarball)
    sha, size = sha256_file(tarball), tarball.stat().st_size
    stamp_path.write_text(
        json.dumps(
            {"source": src, "sha256": sha, "size": size, "deps": deps_dir.name},
            indent=2,
        )
        + "\n"
    )
    log(f"wheelhouse {tarball} ({size / 1e6:.1f} MB, sha256 {sha[:12]})")
    return Wheelhouse(name, version, tarball, sha, size, built=True, seconds=time.monotonic() - t0)


def existing(version: str, out_dir: Path, name: str = "dcos-core") -> Wheelhouse:
    """A wheelhouse built earlier for another version (to pin or roll back to it)."""
    vdir = out_dir / version
    tarball = vdir / f"{name}-{version}-wheelhouse.tar"
    stamp = _read_stamp(vdir / "stamp.json")
    if not tarball.is_file() or not stamp.get("sha256"):
        raise WheelhouseError(
            f"dcos_version {version!r} is not the version of this checkout and "
            f"{tarball} does not exist: check out {version}, run the deploy (or "
            f"`python -m roles.wheelhouse`) once to build it, or unset dcos_version"
        )
    return Wheelhouse(name, version, tarball, str(stamp["sha256"]), int(stamp["size"]), False, 0.0)


def _read_stamp(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_lock = threading.Lock()  # a gevent lock under pyinfra (it monkey-patches threading)
_cache: dict[tuple[str, str], Wheelhouse] = {}


def ensure(
    version: str | None,
    wheelhouse_dir: str | os.PathLike[str] = "build/wheelhouse",
    root: Path = ROOT,
    log: Callable[[str], None] = lambda _msg: None,
) -> Wheelhouse:
    """The wheelhouse of `version` (None = this checkout's), built at most once per process."""
    out_dir = Path(wheelhouse_dir)
    if not out_dir.is_absolute():
        out_dir = root / out_dir
    current = source_version(root)
    version = version or current
    key = (str(out_dir), version)
    with _lock:
        if key not in _cache:
            if version == current:
                _cache[key] = build(root, out_dir, log=log)
            else:
                _cache[key] = existing(version, out_dir, str(project(root)["name"]))
        return _cache[key]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m roles.wheelhouse", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--out", type=Path, default=None, help="default: build/wheelhouse")
    args = parser.parse_args(argv)
    try:
        wh = build(ROOT, args.out, force=args.force, log=lambda m: print(m, file=sys.stderr))
    except WheelhouseError as e:
        print(f"wheelhouse: {e}", file=sys.stderr)
        return 1
    out = asdict(wh)
    out["tarball"] = str(wh.tarball)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
