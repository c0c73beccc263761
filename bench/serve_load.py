"""The HTTP API's cost: the same questions through ``Sanad.ask`` in this process and through
``POST /ask`` on a real uvicorn (127.0.0.1), with 1, 4 and 16 concurrent clients, in one run.

    SANAD_HOME=... python -m bench.serve_load [--questions FILE.jsonl] [--rounds 3] [--seconds 0]

Prints per row: requests, errors, questions/s, p50 and p95 latency, and the server process's
RSS after it (``--seconds N``: each concurrency level runs N seconds instead of a fixed number
of rounds, for a soak test)."""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SEED_QUESTIONS = ["من هو وزير الداخلية الروسي؟", "من دشن خط السكة الحديد السريع؟", "كم تبلغ تكلفة محطة التحلية؟",
                  "متى أطلقت وزارة الصحة حملة التطعيم؟", "من فاز بكأس العالم لكرة القدم؟"]


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0.0


def main() -> None:
    import httpx
    import uvicorn

    from config import load_settings
    from rag import Sanad
    from serve.app import build_app

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=Path)
    ap.add_argument("--rounds", type=int, default=3, help="times each client asks every question")
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    a = ap.parse_args()
    qs = ([json.loads(line)["question"] for line in a.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
          if a.questions else SEED_QUESTIONS)
    settings = load_settings(serve_rate_per_minute=10**9, serve_workers=16)
    sanad = Sanad(settings)
    sanad.ensure_ready()
    for q in qs:  # warm: model, reader, keyword index
        sanad.ask(q)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(build_app(sanad, settings), host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/ask"

    def timed(fn, q):
        t = time.perf_counter()
        ok = fn(q)
        return time.perf_counter() - t, ok

    def in_process(q):
        sanad.ask(q)
        return True

    client = httpx.Client(timeout=300)

    def over_http(q):
        return client.post(url, json={"question": q}).status_code == 200

    print(f"{len(qs)} questions x {a.rounds} rounds per client")
    print(f"{'way':12s} {'clients':>7s} {'requests':>8s} {'errors':>6s} {'q/s':>6s} {'p50 ms':>7s} {'p95 ms':>7s} {'RSS MB':>7s}")
    for name, fn in (("in-process", in_process), ("HTTP", over_http)):
        for clients in a.clients:
            jobs = [q for _ in range(a.rounds * clients) for q in qs]
            t0 = time.perf_counter()
            results = []
            with ThreadPoolExecutor(clients) as pool:
                if a.seconds:
                    while time.perf_counter() - t0 < a.seconds:
                        results += list(pool.map(lambda q: timed(fn, q), qs * clients))
                else:
                    results = list(pool.map(lambda q: timed(fn, q), jobs))
            wall = time.perf_counter() - t0
            lat = [r[0] * 1000 for r in results]
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{name:12s} {clients:7d} {len(results):8d} {sum(not r[1] for r in results):6d} "
                  f"{len(results) / wall:6.2f} {statistics.median(lat):7.0f} {pct(lat, 0.95):7.0f} {rss:7.0f}")
    server.should_exit = True


if __name__ == "__main__":
    main()
