"""Candidate syndicated copies in SaudiNewsNet, for choosing the copy threshold by hand.

Signs every article (rag/dedupe.py), finds the pairs whose estimated Jaccard similarity is at
least --low, prints how many pairs fall in each similarity band, and writes a seeded sample of
pairs per band (both titles, sources and openings) to --out, to be read and marked by a person:
same story (a copy) or not. The marks and the precision per band are in docs/quality.md.

    python bench/copies_sample.py ../shared/data/news/saudinewsnet.jsonl.gz --out out/copies_sample.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasketch import MinHashLSH  # noqa: E402

from rag.dedupe import LONGER, NUM_PERM, lean, signature, similarity  # noqa: E402
from rag.records import Article  # noqa: E402

BANDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--low", type=float, default=0.3)
    ap.add_argument("--per-band", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("out/copies_sample.jsonl"))
    args = ap.parse_args()
    recs = []
    with gzip.open(args.archive, "rt", encoding="utf-8") as fh:
        for line in fh:
            recs.append(json.loads(line))
            if args.limit and len(recs) >= args.limit:
                break
    t0 = time.perf_counter()
    sigs = [signature(Article(r["id"], r["title"], r["text"])) for r in recs]
    print(f"{len(recs)} articles signed in {time.perf_counter() - t0:.1f} s", flush=True)
    lsh = MinHashLSH(threshold=args.low, num_perm=NUM_PERM)
    pairs = []
    for i, sig in enumerate(sigs):
        m = lean(sig.values)
        for j in lsh.query(m):
            sim = similarity(sig, sigs[j])
            if sim >= args.low:
                pairs.append((sim, j, i, max(sig.size, sigs[j].size) / max(1, min(sig.size, sigs[j].size))))
        lsh.insert(i, m)
    print(f"{len(pairs)} pairs at >= {args.low}")
    rng = random.Random(0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for lo, hi in zip(BANDS, BANDS[1:]):
            band = [p for p in pairs if lo <= p[0] < hi]
            same_source = sum(recs[a]["source"] == recs[b]["source"] for _, a, b, _ in band)
            longer = sum(ratio > LONGER for *_, ratio in band)
            print(f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}: {len(band)} pairs, {same_source} within one "
                  f"paper, {longer} with one over {LONGER}x the other's length")
            for sim, a, b, _ in rng.sample(band, min(args.per_band, len(band))):
                out.write(json.dumps({"similarity": round(sim, 3), "a": _brief(recs[a]), "b": _brief(recs[b])},
                                     ensure_ascii=False) + "\n")


def _brief(r: dict) -> dict:
    return {"id": r["id"], "source": r["source"], "date": r["date"], "title": r["title"], "opening": r["text"][:300]}


if __name__ == "__main__":
    main()
