"""A writer lock for the embedded store: two processes never ingest into the same
SANAD_HOME at once (Chroma's embedded store is not made for concurrent writers)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from rag.store import StoreError


@contextlib.contextmanager
def writer_lock(path: Path, timeout: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another Sanad process is writing to {path.parent} (lock {path.name}); "
                        f"waited {timeout:.0f}s - try again when it has finished"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
