"""Where a question's time goes: retrieval, the first cut, reading and judging, the whole ask.

    SANAD_HOME=.sanad/news2000 python -m bench.latency ../shared/data/news/dev-questions.jsonl \\
        [--limit 60] [--candidates 8 4]

Asks each question of a Sanad eval JSONL file over the index in SANAD_HOME (a warm-up question
first), once per ``--candidates`` value (judge_candidates), and prints p50 / p95 ms of each stage
side by side. Run it on a quiet machine: the figures are wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path



def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("questions", type=Path)
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--candidates", type=int, nargs="+", default=[8])
    args = ap.parse_args()

    from config import load_settings
    from rag import Sanad
    from rag.answer.question import Question

    qs = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
          if line.strip()][: args.limit]
    print("| judge_candidates | retrieve | first cut | read + judge | whole ask | (ms p50 / p95) |")
    print("|---|---|---|---|---|---|")
    for k in args.candidates:
        sanad = Sanad(load_settings(judge_candidates=k))
        sanad.ask(qs[0])
        answerer = sanad.answerer
        t = {"retrieve": [], "rank": [], "judge": [], "ask": []}
        for q in qs:
            t0 = time.perf_counter()
            retrieved = sanad.retrieve(q)
            t1 = time.perf_counter()
            parsed = Question.parse(q)
            sents = answerer.sentences(parsed, retrieved.hits)
            t2 = time.perf_counter()
            answerer.judged(parsed, sents, retrieved)
            t3 = time.perf_counter()
            sanad.ask(q)
            t4 = time.perf_counter()
            for name, v in (("retrieve", t1 - t0), ("rank", t2 - t1), ("judge", t3 - t2), ("ask", t4 - t3)):
                t[name].append(v)
        cells = " | ".join(f"{pct(v, 0.5):.0f} / {pct(v, 0.95):.0f}" for v in t.values())
        print(f"| {k} | {cells} | n={len(qs)}, median ask {statistics.median(t['ask']) * 1000:.0f} |")


if __name__ == "__main__":
    main()
