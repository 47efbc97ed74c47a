"""One writer per run folder: a lock file created atomically, stale once its writer is dead.

Two runs started together on one folder used to interleave their outputs (one died, the
other "completed" holding the first one's overrides). ``RUN_LOCK`` in the folder holds the
writer's pid, host and start time. It is created with ``O_CREAT | O_EXCL``, so of two
processes exactly one gets it. A lock whose pid is dead on this host is stale (the writer
was killed) and is taken over; a lock from another host is never presumed dead.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RUN_LOCK = "run.lock"


class FolderLocked(RuntimeError):
    """Another live process is writing the folder."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: enough to tell a live writer from a dead one, and to say which."""

    pid: int
    host: str
    started: str

    def alive(self) -> bool:
        """True unless the holder is a process of this host that no longer exists."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else
        return True

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started}"


def holder(folder: Path) -> Holder | None:
    """The lock's holder, or None without a (readable) lock."""
    try:
        data = json.loads((Path(folder) / RUN_LOCK).read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def live_holder(folder: Path) -> Holder | None:
    """The holder if it is still running, else None (no lock, unreadable, or stale)."""
    found = holder(folder)
    return found if found is not None and found.alive() else None


def acquire(folder: Path) -> Path:
    """Create the folder's lock for this process; raise ``FolderLocked`` if a live process
    holds it. A stale lock (dead pid) is removed first. ``OSError`` if the folder cannot
    be written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_LOCK
    for _ in range(2):  # second try after clearing a stale lock
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            found = holder(folder)
            if found is not None and found.alive():
                raise FolderLocked(f"{folder} is being written by another run ({found})") from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, out)
        return path
    raise FolderLocked(f"{folder}: another run took the lock as a stale one was cleared")


def release(folder: Path) -> None:
    """Remove the lock if this process holds it (never another process's)."""
    found = holder(folder)
    if found is not None and found.pid == os.getpid() and found.host == socket.gethostname():
        (Path(folder) / RUN_LOCK).unlink(missing_ok=True)


@contextmanager
def held(folder: Path) -> Iterator[None]:
    """Hold the folder's lock for the block, unless this process holds it already (a single
    run's folder, claimed by the guard). A sweep's job takes its own: a worker orphaned by
    a killed sweep may still be writing it when the sweep is resumed."""
    found = holder(folder)
    if found is not None and found.pid == os.getpid() and found.host == socket.gethostname():
        yield
        return
    acquire(folder)
    try:
        yield
    finally:
        release(folder)
