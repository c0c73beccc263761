"""Real news at scale: import growing slices of SaudiNewsNet and ask the news dev questions
over each, in one run.

    OMP_NUM_THREADS=2 python -m bench.news_scale ../shared/data/news/saudinewsnet.jsonl.gz \\
        --questions ../shared/data/news/dev-questions.jsonl --sizes 2000 10000 30100 --out out/news_scale.json

The articles the questions are about (their ``sources``) come first, then the rest of the
archive in its own order (streamed: the archive is never held in memory); each size's new
articles are written as one ``.jsonl.gz`` file and imported by a child ``sanad ingest FILE``
process, as a user would, on top of the previous size, in one index. For each size it prints:
import wall time and articles/s of that step, the import process's own peak RSS, the articles
indexed and recorded as copies, chunks, disk, the time to rebuild the BM25 index from the
store, the dev questions' hit@1 (a hit on any copy of the gold story counts), F1, share of
answerable questions refused, refusal recall, citation precision, p50/p95 latency, and the peak
RSS of the process that answered them.
``--keep DIR`` keeps the index (the next run with the same DIR only imports what is new: a run
killed mid-import and started again carries on). Each row also accounts for every article of
the slice: ``indexed`` + ``copy_records`` (+ refused) = the slice, ``lost`` the difference (0), and
``chunks_in_store`` must equal ``chunks`` (no chunk written twice or left behind). After such a
rerun the sizes before the last measure the whole index as it stands, not their slice.
The children run this checkout's code when they start (a 30,100 import takes more than an hour):
to go on editing meanwhile, run it from a clone with ``--keep`` an absolute path.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path



def ordered(archive: Path, first: set[str]):
    """The archive's lines, the ones whose id is in ``first`` first: two streaming passes."""
    def lines():
        with gzip.open(archive, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)["id"], line.rstrip("\n")

    head = [line for i, line in lines() if i in first]
    yield from head
    yield from (line for i, line in lines() if i not in first)


def import_step(path: Path, env: dict) -> tuple[float, int, list[str], str]:
    """``sanad ingest PATH`` in a child process: (wall s, its own peak RSS in MB, refused lines, summary)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(path)], env=env,
                                 stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # the rusage of this child alone
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode:
        raise SystemExit(f"sanad ingest {path} failed ({child.returncode}):\n{stderr[-2000:]}")
    refused = [line for line in stderr.splitlines() if line.startswith("not ingested:")]
    return wall, round(usage.ru_maxrss / 1024), refused, stdout.strip()


def measure(home: Path, questions_path: Path, ids: list[str]) -> dict:
    """One size's numbers over the index in ``home``, in this (fresh) process."""
    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    sanad = Sanad(load_settings(home=home, corpus=""))
    t0 = time.perf_counter()
    shutil.rmtree(sanad.settings.keyword_path, ignore_errors=True)  # BM25 rebuilt from the store's chunks
    chunks = len(sanad.keyword())
    bm25 = time.perf_counter() - t0
    # nothing lost, nothing twice: every article of the slice is indexed or recorded as a copy
    # (or was refused), and the store holds exactly the chunks its articles list
    ids = list(dict.fromkeys(ids))
    indexed = set(sanad.doc_ids())
    copies = sanad.originals(i for i in ids if i not in indexed)
    accounted = len(indexed & set(ids)) + len(copies)
    stored = sanad.store.col.count()
    rep = ev.run(sanad, ev.read_questions(questions_path), progress=False)
    return {
        "accounted": accounted,
        "indexed": len(indexed),
        "copy_records": len(copies),
        "chunks": chunks,
        "chunks_in_store": stored,
        "bm25_build_s": round(bm25, 2),
        "hit@1": rep["retrieval"]["hit@1"],
        "f1": rep["answer"]["f1"],
        "refused": rep["abstention"]["false_abstain_rate"],
        "refusal_recall": rep["abstention"]["recall"],
        "citation_precision": rep["citations"]["precision"],
        "p50_ms": rep["latency_ms"]["p50"],
        "p95_ms": rep["latency_ms"]["p95"],
        "answer_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


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
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one size's numbers
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.keep, args.questions, json.loads(args.measure.read_text()))))
        return

    from config import load_settings
    from rag import evaluation as ev

    questions = ev.read_questions(args.questions)
    home = (args.keep or Path(tempfile.mkdtemp(prefix="sanad-scale-"))).resolve()
    base = load_settings()
    env = {**os.environ, "SANAD_HOME": str(home), "SANAD_CACHE_DIR": str(base.cache_path), "SANAD_CORPUS": ""}
    results, done, seen = [], 0, []
    work = Path(tempfile.mkdtemp(prefix="sanad-scale-files-"))
    lines = ordered(args.archive, {s for q in questions for s in q.sources})
    try:
        for size in sorted(set(args.sizes)):
            step = work / f"articles-{done}-{size}.jsonl.gz"
            with gzip.open(step, "wt", encoding="utf-8") as fh:
                for line in lines:
                    fh.write(line + "\n")
                    seen.append(json.loads(line)["id"])
                    if len(seen) == size:
                        break
            size = len(seen)  # the archive may hold fewer
            if size == done:
                break
            wall, import_rss, refused, summary = import_step(step, env)
            print(summary, file=sys.stderr)
            for line in refused[:3]:
                print(line, file=sys.stderr)
            imported, done = size - done, size
            ids_file = work / "ids.json"
            ids_file.write_text(json.dumps(seen))
            # the questions in a fresh process: Chroma's persistent client does not see another
            # process's writes, and this is what a new `sanad ask` meets
            measured = subprocess.run(
                [sys.executable, __file__, "--measure", str(ids_file), "--questions", str(args.questions),
                 "--keep", str(home), str(args.archive)], env=env, capture_output=True, text=True)
            if measured.returncode:
                raise SystemExit(f"measuring {size} articles failed:\n{measured.stderr[-2000:]}")
            m = json.loads(measured.stdout.strip().splitlines()[-1])
            lost = len(dict.fromkeys(seen)) - m.pop("accounted") - len(refused)
            row = {"articles": size, "import_s": round(wall, 1),
                   "articles_per_s": round(imported / wall, 2) if wall else None,
                   "import_rss_mb": import_rss, "refused_records": len(refused), "lost": lost,
                   "disk_mb": round(disk(home) / 1e6, 1), **m}
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
