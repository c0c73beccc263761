"""Ingestion with each passage engine, side by side in one run: N real news articles indexed,
then retrieval parity on question sets.

    python -m bench.ingest ../shared/data/news/saudinewsnet.jsonl.gz --articles 2000 \\
        --parity ../shared/data/arcd/arcd-test.json ../shared/data/tydiqa/tydiqa-goldp-dev-ar.json \\
        --out out/ingest.json

Each engine runs in a child process of its own (a clean peak RSS), with the embedding cache
off: ``model`` (sentence-transformers, torch fp32: the baseline), ``onnx:fp32``, ``onnx:int8``
and any other ``onnx:VARIANT`` of embeddings/passages_onnx.py (``--engines``). For each it
prints import wall time, articles/s, chunks, the child's peak RSS while importing, the cosine
of its passage vectors against the baseline's (mean and minimum over the first 500 chunks of
the news import), and for every ``--parity`` SQuAD-format set: its paragraphs indexed in a
fresh index and each question's hit@1 / hit@5 by hybrid retrieval (the answer stage is not run).
Threads: every core unless ``OMP_NUM_THREADS`` / ``SANAD_PASSAGE_THREADS`` say otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


SAMPLE = 500  # chunks whose vectors are compared across engines


def child(engine: str, archive: Path, articles: int, parity: list[Path], out: Path) -> dict:
    """One engine's run (in this process): import, RSS, sample vectors, parity."""
    import numpy as np

    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    kind, _, variant = engine.partition(":")
    base = load_settings()
    common = dict(cache_dir=str(base.cache_path), corpus="", embed_cache=False, passage_engine=kind,
                  passage_variant=variant or base.passage_variant)
    work = Path(tempfile.mkdtemp(prefix="sanad-ingest-"))
    step = work / "articles.jsonl.gz"
    with gzip.open(archive, "rt", encoding="utf-8") as src, gzip.open(step, "wt", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= articles:
                break
            dst.write(line)
    sanad = Sanad(load_settings(home=work / "news", **common))
    t0 = time.perf_counter()
    report = sanad.ingest(step, progress=False)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ids = sorted(sanad.store.col.get(include=[])["ids"])[:SAMPLE]
    got = sanad.store.col.get(ids=ids, include=["embeddings"])
    vecs = dict(zip(got["ids"], got["embeddings"]))
    np.save(out / f"{engine.replace(':', '-')}.npy", np.asarray([vecs[i] for i in ids], dtype=np.float32))
    (out / f"{engine.replace(':', '-')}.ids.json").write_text(json.dumps(ids))
    row = {"engine": engine, "articles": articles, "import_s": round(wall, 1),
           "articles_per_s": round(articles / wall, 2), "chunks": sanad.stats().get("chunks"),
           "copies": len(report.copies), "peak_rss_mb": round(rss), "torch_loaded": "torch" in sys.modules}
    for path in parity:
        arts, qs = ev.read_squad(path)
        s = Sanad(load_settings(home=work / path.stem, **common))
        s.ingest_articles(arts, progress=False)
        originals = s.originals({d for q in qs for d in q.sources})
        hit1 = hit5 = 0
        for q in qs:
            gold = set(q.sources) | {originals[d] for d in q.sources if d in originals}
            ranked = [h.chunk.doc_id for h in s.search(q.question, 5)]
            hit1 += bool(ranked[:1] and ranked[0] in gold)
            hit5 += bool(gold & set(ranked))
        row[f"{path.stem} hit@1"] = round(hit1 / len(qs), 4)
        row[f"{path.stem} hit@5"] = round(hit5 / len(qs), 4)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--engines", nargs="+", default=["model", "onnx:fp32", "onnx:int8"])
    ap.add_argument("--parity", type=Path, nargs="*", default=[])
    ap.add_argument("--out", type=Path, default=Path("out/ingest.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--vectors", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.archive, args.articles, args.parity, args.vectors)))
        return

    import numpy as np

    vectors = Path(tempfile.mkdtemp(prefix="sanad-ingest-vectors-"))
    rows = []
    for engine in args.engines:
        cmd = [sys.executable, __file__, str(args.archive), "--articles", str(args.articles), "--child", engine,
               "--vectors", str(vectors), "--parity", *map(str, args.parity)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if done.returncode:
            sys.exit(f"{engine} failed:\n{done.stderr[-3000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    first = args.engines[0].replace(":", "-")
    ref = np.load(vectors / f"{first}.npy")
    ref_ids = json.loads((vectors / f"{first}.ids.json").read_text())
    for row in rows:
        name = row["engine"].replace(":", "-")
        if json.loads((vectors / f"{name}.ids.json").read_text()) != ref_ids:
            row["cos_mean"] = row["cos_min"] = None  # other chunks: not comparable
            continue
        cos = (np.load(vectors / f"{name}.npy") * ref).sum(1)
        row["cos_mean"], row["cos_min"] = round(float(cos.mean()), 5), round(float(cos.min()), 4)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    cols = list(dict.fromkeys(c for r in rows for c in r))
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + " |")


if __name__ == "__main__":
    main()
