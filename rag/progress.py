"""Progress of a long import: a tqdm bar on a terminal; anywhere else (cron, ``nohup``, a CI
job, a pipe) one line on stderr every ``every`` seconds with the articles done (of the total
when known), the rate, the time left and the errors so far."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    def __init__(self, total: int | None, every: float, errors: Callable[[], int] = lambda: 0,
                 desc: str = "ingesting", stream=None):
        self.stream = stream or sys.stderr
        self.total, self.every, self.errors, self.desc = total, every, errors, desc
        self.done = 0
        self.start = self.last = time.monotonic()
        self.bar = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="article", mininterval=1.0, smoothing=0.1, file=self.stream)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.start, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.desc}: {self.done}" + (f" of {self.total} articles ({100 * self.done / self.total:.0f}%)"
                                                if self.total else " articles"),
                 f"{rate:.1f} articles/s"]
        if self.total and rate > 0:
            parts.append(f"about {_duration((self.total - self.done) / rate)} left")
        parts.append(f"{self.errors()} errors")
        return ", ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
