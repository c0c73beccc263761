"""Sanad against the LangChain baseline, in one run, same machine, same model.

    python bench/compare.py ../shared/data/arcd/arcd-test.json [--limit N]

Baseline: RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) +
HuggingFaceEmbeddings on the same local multilingual-e5-small directory (no prompts, as a
LangChain user would write it) + Chroma.from_documents + similarity_search(k=5).
Sanad: its own chunking, hybrid retrieval and extractive answering (Sanad.ask).
Each side runs in its own process so its peak RSS is its own; both start with an empty
embedding cache. Prints hit@1, hit@5, ingest seconds, query p50/p95 ms, peak RSS, ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values, q):
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def model_dir(cache: Path) -> str:
    from config import load_settings
    from embeddings import Embedder

    return Embedder(load_settings(home=cache, cache_dir=str(cache))).model_path()


def run_sanad(squad: Path, limit: int, cache: Path) -> dict:
    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    articles, questions = ev.read_squad(squad)
    questions = questions[:limit] if limit else questions
    home = Path(tempfile.mkdtemp(prefix="bench-sanad-"))
    settings = load_settings(home=home, cache_dir=str(cache), corpus="", embed_cache=False)
    sanad = Sanad(settings)
    sanad.embedder.model  # load the model outside the timed part, as the baseline does
    t0 = time.perf_counter()
    sanad.ingest_articles(articles)
    sanad.keyword()  # the keyword index is part of ingest
    ingest = time.perf_counter() - t0
    ranks, lat = [], []
    for q in questions:
        t = time.perf_counter()
        ans = sanad.ask(q.question)
        lat.append((time.perf_counter() - t) * 1000)
        docs = [h.chunk.doc_id for h in ans.hits]
        ranks.append(docs.index(q.sources[0]) + 1 if q.sources[0] in docs else None)
    return summary("sanad", ranks, lat, ingest, sanad.store.count())


def run_baseline(squad: Path, limit: int, cache: Path) -> dict:
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag import evaluation as ev

    articles, questions = ev.read_squad(squad)
    questions = questions[:limit] if limit else questions
    embeddings = HuggingFaceEmbeddings(
        model_name=model_dir(cache), model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True}
    )
    embeddings.embed_query("warm up")
    t0 = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = splitter.split_documents(
        [Document(page_content=a.text, metadata={"doc_id": a.doc_id}) for a in articles]
    )
    store = Chroma.from_documents(
        docs, embeddings, collection_name="baseline", persist_directory=tempfile.mkdtemp(prefix="bench-lc-"),
        client_settings=ChromaSettings(anonymized_telemetry=False),
    )
    ingest = time.perf_counter() - t0
    ranks, lat = [], []
    for q in questions:
        t = time.perf_counter()
        found = store.similarity_search(q.question, k=5)
        lat.append((time.perf_counter() - t) * 1000)
        ids = [d.metadata["doc_id"] for d in found]
        ranks.append(ids.index(q.sources[0]) + 1 if q.sources[0] in ids else None)
    return summary("baseline", ranks, lat, ingest, len(docs))


def summary(name, ranks, lat, ingest, chunks) -> dict:
    n = len(ranks)
    return {
        "side": name,
        "questions": n,
        "chunks": chunks,
        "hit@1": sum(1 for r in ranks if r == 1) / n,
        "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
        "ingest_s": ingest,
        "query_p50_ms": percentile(lat, 0.5),
        "query_p95_ms": percentile(lat, 0.95),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad", type=Path)
    ap.add_argument("--limit", type=int, default=0, help="ask only the first N questions")
    ap.add_argument("--side", choices=["sanad", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, default=None, help="model build folder (default: a temporary one)")
    args = ap.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-cache-"))
    if args.side:
        fn = run_sanad if args.side == "sanad" else run_baseline
        print(json.dumps(fn(args.squad, args.limit, cache)))
        return
    model_dir(cache)  # build once, outside both measurements
    results = {}
    for side in ("baseline", "sanad"):
        out = subprocess.run(
            [sys.executable, __file__, str(args.squad), "--side", side, "--limit", str(args.limit), "--cache", str(cache)],
            capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        )
        if out.returncode:
            sys.exit(f"{side} failed:\n{out.stderr[-3000:]}")
        results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    b, s = results["baseline"], results["sanad"]
    print(f"{'metric':<16}{'baseline':>12}{'sanad':>12}{'sanad/base':>12}")
    for key in ("chunks", "hit@1", "hit@5", "ingest_s", "query_p50_ms", "query_p95_ms", "peak_rss_mb"):
        ratio = s[key] / b[key] if b[key] else float("nan")
        print(f"{key:<16}{b[key]:>12.3f}{s[key]:>12.3f}{ratio:>12.2f}")
    print(f"hit@1 difference (sanad - baseline): {s['hit@1'] - b['hit@1']:+.3f}")


if __name__ == "__main__":
    main()
