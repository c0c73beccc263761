"""How long ``sanad check`` takes on a large archive, without hours of embedding.

    python -m bench.check_scale ../shared/data/news/saudinewsnet.jsonl.gz --articles 30100 \\
        --home /tmp/check30k --out out/check_scale.json

Writes the first N articles of a JSONL(.gz) archive into a Sanad home the way an import does
(article store first, then the chunks, chunked exactly as Sanad chunks them) but with random
unit vectors instead of the encoder's: ``check`` reads vectors back, it never judges them,
so the store has the size and shape of a real one at a fraction of the cost. Then the BM25
index is built, and ``sanad check`` and ``sanad check --full`` are timed as whole commands
(the child processes' wall time, three runs of the quick check). Rerun with the same --home:
what is written is skipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path


import numpy as np


def articles(path: Path, n: int):
    from rag.records import Article

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in islice(f, n):
            d = json.loads(line)
            yield Article(str(d["id"]), d.get("title", ""), d["text"], d.get("source", ""), d.get("date", ""),
                          d.get("url", ""))


def fill(home: Path, archive: Path, n: int) -> None:
    from config import load_settings
    from rag import Sanad
    from rag.articles import stored
    from rag.chunking import article_hash, chunk_article
    from rag.store import chunk_meta

    sanad = Sanad(load_settings(home=home, corpus=""))
    s = sanad.settings
    rng = np.random.default_rng(0)
    t0, done = time.perf_counter(), 0
    source = articles(archive, n)
    with sanad.writing():
        while batch := list(islice(source, 500)):
            have = sanad.articles.have([a.doc_id for a in batch])
            todo = [a for a in batch if a.doc_id not in have and a.text.strip()]
            rows, chunks, metas = [], [], []
            now = int(time.time())
            for a in todo:
                h = article_hash(a, s.chunk_max_chars, s.chunk_overlap_sentences)
                cs = chunk_article(a, s.chunk_max_chars, s.chunk_overlap_sentences)
                rows.append(stored(a, h, len(cs), now))
                meta = {"doc_hash": h, "n_chunks": len(cs), "source": a.source, "date": a.date, "url": a.url,
                        "path": "", "ingested_at": now}
                chunks += cs
                metas += [chunk_meta(c, meta) for c in cs]
            if todo:
                sanad.articles.put(rows)
                vecs = rng.standard_normal((len(chunks), sanad.embedder.dim)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                for start in range(0, len(chunks), 2000):
                    sanad.store.upsert(chunks[start : start + 2000], vecs[start : start + 2000],
                                       metas[start : start + 2000])
            done += len(batch)
            print(f"\r{done} articles, {time.perf_counter() - t0:.0f}s", end="", file=sys.stderr, flush=True)
        sanad.store.bump_generation()
    print(file=sys.stderr)
    t = time.perf_counter()
    sanad.keyword()
    print(f"keyword index: {time.perf_counter() - t:.1f}s", file=sys.stderr)


def timed(home: Path, *args: str) -> tuple[float, int, str]:
    env = {**os.environ, "SANAD_HOME": str(home), "SANAD_CORPUS": ""}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "check", *args], env=env, capture_output=True, text=True)
    return time.perf_counter() - t, proc.returncode, proc.stdout.strip().splitlines()[-1] if proc.stdout else proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("--articles", type=int, default=30100)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    fill(a.home, a.archive, a.articles)
    quick = [timed(a.home) for _ in range(3)]
    full = timed(a.home, "--full")
    row = {"articles": a.articles, "check_s": [round(q[0], 2) for q in quick], "check_rc": quick[0][1],
           "check_says": quick[0][2], "full_s": round(full[0], 2), "full_rc": full[1], "full_says": full[2]}
    print(json.dumps(row, ensure_ascii=False, indent=1))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(row, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
