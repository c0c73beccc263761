"""Real news at scale: import growing slices of SaudiNewsNet and ask the news dev questions
over each, in one run.

    OMP_NUM_THREADS=2 python bench/news_scale.py ../shared/data/news/saudinewsnet.jsonl.gz \\
        --questions ../shared/data/news/dev-questions.jsonl --sizes 2000 10000 30100 --out out/news_scale.json

The articles the questions are about (their ``sources``) come first, then the rest of the
archive in its own order; each size is imported as one ``.jsonl.gz`` file through
``Sanad.ingest`` (the path ``sanad ingest FILE.jsonl.gz`` takes), on top of the previous size,
in one index. For each size it prints: import wall time and articles/s of that step, copies
found, chunks, disk, the process's peak RSS so far, the time to rebuild the BM25 index from the
store, and the dev questions' hit@1 (a hit on any copy of the gold story counts), F1, share of
answerable questions refused, refusal recall, citation precision, p50/p95 latency.
``--keep DIR`` keeps the index (the next run with the same DIR only imports what is new: a run
killed mid-import and started again carries on). Each row also accounts for every article of
the slice: ``indexed`` + ``copy_records`` (+ refused) = the slice, ``lost`` the difference (0), and
``chunks_in_store`` must equal ``chunks`` (no chunk written twice or left behind).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ordered(archive: Path, first: set[str]) -> list[str]:
    """The archive's lines, the ones whose id is in ``first`` first."""
    head, tail = [], []
    with gzip.open(archive, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                (head if json.loads(line)["id"] in first else tail).append(line.rstrip("\n"))
    return head + tail


def disk(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True)
    return int(out.stdout.split()[0]) if out.returncode == 0 else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 30100])
    ap.add_argument("--out", type=Path, default=Path("out/news_scale.json"))
    ap.add_argument("--keep", type=Path, help="index folder to keep (default: a temporary one)")
    args = ap.parse_args()

    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    questions = ev.read_questions(args.questions)
    lines = ordered(args.archive, {s for q in questions for s in q.sources})
    home = args.keep or Path(tempfile.mkdtemp(prefix="sanad-scale-"))
    base = load_settings()
    sanad = Sanad(load_settings(home=home, cache_dir=str(base.cache_path), corpus=""))
    results, done = [], 0
    work = Path(tempfile.mkdtemp(prefix="sanad-scale-files-"))
    try:
        for size in sorted(set(min(s, len(lines)) for s in args.sizes)):
            step = work / f"articles-{done}-{size}.jsonl.gz"
            with gzip.open(step, "wt", encoding="utf-8") as fh:
                fh.write("\n".join(lines[done:size]) + "\n")
            t0 = time.perf_counter()
            report = sanad.ingest(step, progress=sys.stderr.isatty())
            wall = time.perf_counter() - t0
            if report.errors:
                print(f"{len(report.errors)} records refused, e.g. {report.errors[0]}", file=sys.stderr)
            imported = size - done
            done = size
            t0 = time.perf_counter()
            sanad._keyword = None  # the BM25 index rebuilt from the store's chunks, as on a new machine
            shutil.rmtree(sanad.settings.keyword_path, ignore_errors=True)
            chunks = len(sanad.keyword())
            bm25 = time.perf_counter() - t0
            # nothing lost, nothing twice: every article of the slice is indexed or recorded as a copy
            # (or was refused), and the store holds exactly the chunks its articles list
            ids = list(dict.fromkeys(json.loads(line)["id"] for line in lines[:size]))
            indexed = set(sanad.doc_ids())
            copies = sanad.originals(i for i in ids if i not in indexed)
            lost = len(ids) - len(indexed & set(ids)) - len(copies) - len(report.errors)
            stored = sanad.store.col.count()
            rep = ev.run(sanad, questions, progress=False)
            row = {
                "articles": size,
                "import_s": round(wall, 1),
                "articles_per_s": round(imported / wall, 2) if wall else None,
                "copies": len(report.copies),
                "indexed": len(indexed),
                "copy_records": len(copies),
                "lost": lost,
                "chunks": chunks,
                "chunks_in_store": stored,
                "disk_mb": round(disk(home) / 1e6, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "bm25_build_s": round(bm25, 2),
                "hit@1": rep["retrieval"]["hit@1"],
                "f1": rep["answer"]["f1"],
                "refused": rep["abstention"]["false_abstain_rate"],
                "refusal_recall": rep["abstention"]["recall"],
                "citation_precision": rep["citations"]["precision"],
                "p50_ms": rep["latency_ms"]["p50"],
                "p95_ms": rep["latency_ms"]["p95"],
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    cols = list(results[0]) if results else []
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join("" if r[c] is None else str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
