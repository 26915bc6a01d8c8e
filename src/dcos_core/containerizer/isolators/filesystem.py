"""filesystem/linux and filesystem/posix: where a task's files are.

* `filesystem/posix`: the task sees the host's filesystem; its sandbox is `MESOS_SANDBOX`.
* `filesystem/linux`: a private mount namespace; host-path volumes are bind-mounted; a task may
  name a container image (`container.mesos.image.docker.name`) that becomes its root filesystem
  (an overlay over the image, so the image is never written to), with the sandbox at
  `/mnt/mesos/sandbox`. Images come from the agent's image store (`--image-dir`): a directory or a
  rootfs tarball (`.tar`, `.tar.gz`, `.tgz`) named after the image, unpacked once.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tarfile
from collections.abc import Collection
from pathlib import Path
from typing import Final

from dcos_core.containerizer.isolators.base import LaunchFragment, NoOpIsolator
from dcos_core.containerizer.spec import LaunchSpec
from dcos_core.errors import InvalidError, IsolationError

SANDBOX_IN_CONTAINER: Final = "/mnt/mesos/sandbox"
_TARBALLS: Final = (".tar", ".tar.gz", ".tgz")


def image_key(name: str) -> str:
    """File-system-safe form of an image name: `library/busybox:1.36` -> `library_busybox_1.36`.

    Example:
        >>> image_key("library/busybox:1.36")
        'library_busybox_1.36'
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


class ImageStore:
    """Root filesystems by image name: `<dir>/<key>/` or `<dir>/<key>.tar[.gz]` (unpacked once
    into `<dir>/.unpacked/<key>`). An absolute path names a directory or tarball directly."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._lock = asyncio.Lock()

    async def rootfs(self, name: str) -> Path:
        async with self._lock:
            return await asyncio.to_thread(self._rootfs, name)

    def _rootfs(self, name: str) -> Path:
        candidates: list[Path] = []
        if name.startswith("/"):
            candidates.append(Path(name))
        elif self.directory is not None:
            key = image_key(name)
            candidates.append(self.directory / key)
            candidates.extend(self.directory / f"{key}{ext}" for ext in _TARBALLS)
        for c in candidates:
            if c.is_dir():
                return c
            if c.is_file() and c.name.endswith(_TARBALLS):
                return self._unpack(c)
        where = f"in {self.directory}" if self.directory else "(no --image-dir is set)"
        raise InvalidError(
            f"image {name!r} not found {where}: put a root filesystem directory or tarball "
            f"named {image_key(name)}[.tar|.tar.gz] there",
            "task.container.mesos.image",
        )

    def _unpack(self, tarball: Path) -> Path:
        base = self.directory or tarball.parent
        dest = base / ".unpacked" / image_key(tarball.name)
        if dest.is_dir():
            return dest
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            with tarfile.open(tarball) as tf:
                tf.extractall(tmp, filter="tar")
        except (OSError, tarfile.TarError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IsolationError(f"cannot unpack image {tarball}: {e}") from None
        tmp.rename(dest)
        return dest


class PosixFilesystemIsolator(NoOpIsolator):
    name = "filesystem/posix"

    async def prepare(self, spec: LaunchSpec) -> LaunchFragment:
        if spec.container.image:
            raise InvalidError(
                "container images need the filesystem/linux isolator (--isolation)",
                "task.container.mesos.image",
            )
        if spec.container.volumes:
            raise InvalidError(
                "volumes need the filesystem/linux isolator (--isolation)",
                "task.container.volumes",
            )
        return LaunchFragment(cwd=str(spec.sandbox))


class LinuxFilesystemIsolator(NoOpIsolator):
    name = "filesystem/linux"

    def __init__(self, runtime_dir: Path, images: ImageStore) -> None:
        self.runtime_dir = runtime_dir
        self.images = images

    async def prepare(self, spec: LaunchSpec) -> LaunchFragment:
        frag = LaunchFragment(namespaces={"mount"})
        if spec.container.image is None:
            frag.cwd = str(spec.sandbox)
            for v in spec.container.volumes:
                target = v.container_path
                frag.mounts.append(
                    {"source": v.host_path, "target": target, "readonly": v.mode == "RO"}
                )
            return frag
        lower = await self.images.rootfs(spec.container.image)
        rt = self.runtime_dir / spec.container_id / "rootfs"
        for d in ("upper", "work", "merged"):
            (rt / d).mkdir(parents=True, exist_ok=True)
        frag.rootfs_overlay = {
            "lower": str(lower),
            "upper": str(rt / "upper"),
            "work": str(rt / "work"),
            "merged": str(rt / "merged"),
        }
        frag.mounts.append(
            {"source": str(spec.sandbox), "target": SANDBOX_IN_CONTAINER, "readonly": False}
        )
        for v in spec.container.volumes:
            frag.mounts.append(
                {"source": v.host_path, "target": v.container_path, "readonly": v.mode == "RO"}
            )
        frag.env["MESOS_SANDBOX"] = SANDBOX_IN_CONTAINER
        frag.cwd = SANDBOX_IN_CONTAINER
        return frag

    async def cleanup(self, container_id: str) -> None:
        # The overlay was mounted in the container's own mount namespace: gone with it.
        await asyncio.to_thread(
            shutil.rmtree, self.runtime_dir / container_id / "rootfs", ignore_errors=True
        )

    async def recover(self, keep: Collection[str], orphans: Collection[str]) -> None:
        for cid in orphans:
            await self.cleanup(cid)
