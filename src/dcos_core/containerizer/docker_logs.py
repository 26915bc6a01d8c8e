"""The log pumps of Docker containers: each copies one stream of a container's log to a file.

A pump is a daemon thread that follows `docker logs --timestamps` of one stream (stdout or stderr)
from `since` on and appends the payload to a sandbox file. It checkpoints the timestamp of the last
line it copied (`<stream>.since` in the container's runtime directory, at most every
`SINCE_SAVE_INTERVAL` seconds and when it ends), so that a restarted agent resumes where it
stopped without copying a line twice.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import docker.errors
import requests

log = logging.getLogger("dcos_core.containerizer.docker")

SINCE_SAVE_INTERVAL: Final = 0.25  # seconds between checkpoints of a log pump's position


Stamp = tuple[int, int]  # (seconds since the epoch, nanoseconds)


def parse_log_timestamp(text: str) -> Stamp:
    """Parse a Docker log timestamp (RFC 3339, UTC, up to nanoseconds).

    Example:
        >>> parse_log_timestamp("2024-01-02T03:04:05.5Z")
        (1704164645, 500000000)
    """
    t = text.strip()
    if not t.endswith("Z"):
        raise ValueError(f"not a UTC timestamp: {text!r}")
    whole, _, frac = t[:-1].partition(".")
    secs = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return secs, int((frac or "0")[:9].ljust(9, "0"))


def read_stamp(path: Path) -> Stamp | None:
    """The checkpoint written by `write_stamp`, or None if there is none (or it is unreadable)."""
    try:
        s, _, n = path.read_text().strip().partition(".")
        return int(s), int(n or 0)
    except (OSError, ValueError):
        return None


def write_stamp(path: Path, stamp: Stamp) -> None:
    """Checkpoint `stamp` at `path` atomically (a temporary file renamed over it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{stamp[0]}.{stamp[1]:09d}\n")
    os.replace(tmp, path)


@dataclass
class LogPump:
    """Copies one stream of a container's log to a file, from `since` on, until it ends."""

    api: Any
    docker_id: str
    stream: str  # "stdout" or "stderr"
    path: Path
    stamp_file: Path
    since: Stamp | None
    thread: threading.Thread | None = None
    _chunks: Any = None
    _stopped: bool = False

    def start(self, name: str) -> None:
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        last = self.since
        saved = last
        saved_at = 0.0
        try:
            self._chunks = chunks = self.api.logs(
                self.docker_id,
                stdout=self.stream == "stdout",
                stderr=self.stream == "stderr",
                stream=True,
                follow=True,
                timestamps=True,
                since=last[0] if last else None,
            )
            with open(self.path, "ab") as out:
                for chunk in chunks:
                    if self._stopped:
                        break
                    head, _, payload = chunk.partition(b" ")
                    try:
                        stamp = parse_log_timestamp(head.decode())
                    except (ValueError, UnicodeDecodeError):
                        stamp, payload = None, chunk
                    if stamp is not None and last is not None and stamp <= last:
                        continue  # already copied before a restart (`since` has 1 s resolution)
                    out.write(payload)
                    out.flush()
                    if stamp is not None:
                        last = stamp
                        now = time.monotonic()
                        if now - saved_at >= SINCE_SAVE_INTERVAL:
                            write_stamp(self.stamp_file, stamp)
                            saved, saved_at = stamp, now
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            log.info("log pump %s of %s ended: %s", self.stream, self.docker_id[:12], e)
        finally:
            if last is not None and last != saved:
                with contextlib.suppress(OSError):
                    write_stamp(self.stamp_file, last)

    def stop(self) -> None:
        """Stop copying (the container keeps running); `join` waits for the thread."""
        self._stopped = True
        chunks = self._chunks
        if chunks is not None:
            with contextlib.suppress(Exception):
                chunks.close()

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the thread to end (the stream ended or `stop`)."""
        if self.thread is not None:
            self.thread.join(timeout)
