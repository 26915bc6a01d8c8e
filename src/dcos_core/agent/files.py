"""`/files/browse` and `/files/read`, confined to the agent's sandboxes.

Every path is resolved (symlinks and `..` included) and must lie under the sandbox root
(`work_dir/slaves`); anything else is refused with `ForbiddenError` before touching it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Final

from dcos_core.errors import ForbiddenError, InvalidError, NotFoundError

READ_MAX: Final = 16 * 1024 * 1024  # bytes returned by one /files/read at most
INT64_MAX: Final = 2**63 - 1  # offsets are int64 in Mesos


class SandboxFiles:
    """Read-only access to the files under `root` (the agent's `work_dir/slaves`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, path: str) -> Path:
        """The real file for `path` (absolute, or relative to the root), if inside the root.

        Returns the path spelled under the configured root (as `/state` shows directories).
        """
        if not path or "\x00" in path:
            raise InvalidError("a path is required", "path")
        real_root = os.path.realpath(self.root)
        given = Path(path)
        real = os.path.realpath(given if given.is_absolute() else self.root / given)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise ForbiddenError(f"'{path}' is outside the agent's sandboxes")
        if not os.path.lexists(real):
            raise NotFoundError(f"'{path}' does not exist")
        return self.root / os.path.relpath(real, real_root)

    def browse(self, path: str) -> list[dict[str, Any]]:
        """Entries of a directory in the Mesos shape: path, size, mode, mtime, nlink, uid, gid."""
        p = self.resolve(path)
        if not p.is_dir():
            raise InvalidError(f"'{path}' is not a directory", "path")
        out = []
        for child in sorted(p.iterdir()):
            try:
                st = child.lstat()
            except OSError:
                continue
            out.append(
                {
                    "path": str(child),
                    "size": st.st_size,
                    "mode": stat.filemode(st.st_mode),
                    "mtime": st.st_mtime,
                    "nlink": st.st_nlink,
                    "uid": str(st.st_uid),
                    "gid": str(st.st_gid),
                }
            )
        return out

    def read(self, path: str, offset: int = 0, length: int | None = None) -> dict[str, Any]:
        """`{"data", "offset"}` of a file; `offset=-1` answers the size only (Mesos)."""
        p = self.resolve(path)
        if not p.is_file():
            raise InvalidError(f"'{path}' is not a regular file", "path")
        size = p.stat().st_size
        if offset == -1:
            return {"data": "", "offset": size}
        if offset < 0:
            raise InvalidError("must be -1 or at least 0", "offset")
        if offset > INT64_MAX:
            raise InvalidError(f"must be at most {INT64_MAX}", "offset")
        if length is not None and length < 0:
            raise InvalidError("must not be negative", "length")
        if offset >= size:  # past the end (a follower waiting for more): nothing yet
            return {"data": "", "offset": offset}
        n = min(READ_MAX, size - offset if length is None else length)
        with open(p, "rb") as f:
            f.seek(offset)
            data = f.read(max(0, n))
        return {"data": data.decode(errors="replace"), "offset": offset}
