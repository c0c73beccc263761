"""The writer lock: one process writes to a SANAD_HOME at a time (imports, removals,
``--rebuild``, ``repair``, feeds). The lock file says who holds it and how far it has got, so
a waiting writer can say whom it waits for, and waits as long as that writer makes progress:
the timeout counts idle time, not total time."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rag.store import StoreError

log = logging.getLogger(__name__)


class Busy(StoreError):
    """Another process holds the writer lock (raised by ``writer_lock(..., wait=False)``)."""

    def __init__(self, message: str, holder: dict):
        super().__init__(message)
        self.holder = holder


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200] if sys.argv and sys.argv[0] else "python"


def holder_of(path: Path) -> dict:
    """What the lock file says of its holder (pid, command, started, done, updated); {} if unknown."""
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe(holder: dict) -> str:
    if not holder:
        return "another Sanad process"
    return (f"pid {holder.get('pid')} ({holder.get('command') or 'sanad'}, "
            f"{holder.get('done', 0)} articles so far)")


class Held:
    """The held lock: ``progress(n)`` records how many articles the holder has done."""

    def __init__(self, fd: int, command: str):
        self.fd = fd
        self.info = {"pid": os.getpid(), "command": command, "started": int(time.time()), "done": 0,
                     "updated": time.time()}
        self._write()
        self._written = 0.0  # the first progress is written at once, later ones every 0.5 s

    def _write(self) -> None:
        data = json.dumps(self.info).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, data, 0)
        self._written = time.monotonic()

    def progress(self, done: int) -> None:
        self.info.update(done=done, updated=time.time())
        if time.monotonic() - self._written >= 0.5:
            self._write()


@contextlib.contextmanager
def writer_lock(path: Path, idle_timeout: float, wait: bool = True, command: str = "") -> Iterator[Held]:
    """Hold ``path`` exclusively. While another process holds it: wait (logging whom for) as
    long as its progress moves within ``idle_timeout`` seconds, or with ``wait=False`` raise
    ``Busy`` at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        last_seen, idle_since, told = None, time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = holder_of(path)
                if not wait:
                    raise Busy(f"{describe(holder)} is writing to {path.parent}", holder) from None
                seen = (holder.get("pid"), holder.get("done"), holder.get("updated"))
                if seen != last_seen:
                    last_seen, idle_since = seen, time.monotonic()
                if not told:
                    log.warning("waiting for %s to finish writing to %s", describe(holder), path.parent)
                    told = True
                if time.monotonic() - idle_since >= idle_timeout:
                    raise StoreError(
                        f"{describe(holder)} is writing to {path.parent} (lock {path.name}) and has made no progress "
                        f"for {idle_timeout:.0f}s; try again when it has finished (if that process is gone, "
                        "the lock is released by itself)") from None
                time.sleep(0.2)
        held = Held(fd, command or command_line())
        if told:
            log.warning("the other writer has finished; going on")
        try:
            yield held
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
