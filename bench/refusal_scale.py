"""Does refusal hold as the index grows? The same questions over a small index and over the same
index with thousands of other passages in it, side by side in one run.

    OMP_NUM_THREADS=2 python bench/refusal_scale.py --squad ../shared/data/arcd/arcd-test.json \\
        --unanswerable ../shared/data/arcd/arcd-train.json \\
        --distractors ../shared/data/tydiqa/tydiqa-goldp-dev-ar.json ../shared/data/mlqa/mlqa-dev-ar.json \\
        --limit 300 --index-dir .sanad/refusal-scale

The ``--squad`` file's paragraphs are indexed with its questions as the answerable set, the
``--unanswerable`` file's questions as the set to refuse (as ``sanad eval --squad X
--unanswerable Y`` does); then the ``--distractors`` files' paragraphs are added to a second
index and the same questions are asked again (over an index already built, such as
bench/news_scale.py's ``--keep``, ``sanad eval`` does the same). Prints one table: index, chunks,
F1, EM, answerable refused, refusal recall, hit@1, p50 ms. Nothing is fitted here; use it with
a test set only as a measure (the refusal model is fitted by bench/tune.py on ARCD-train).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(sanad, questions, name: str, paragraphs: int, ev) -> dict:
    out = ev.run(sanad, questions, progress=sys.stderr.isatty())
    row = {"index": name, "paragraphs": paragraphs, "chunks": sanad.store.count(),
           "f1": out["answer"]["f1"], "em": out["answer"]["exact_match"],
           "false_refusals": out["abstention"].get("false_abstain_rate"),
           "refusal_recall": out["abstention"].get("recall"),
           "hit@1": out["retrieval"]["hit@1"], "p50_ms": out["latency_ms"]["p50"]}
    print(json.dumps(row), file=sys.stderr)
    return row


def print_table(results: list[dict]) -> None:
    print("| index | chunks | F1 | EM | answerable refused | refusal recall | hit@1 | p50 ms |")
    print("|---|---|---|---|---|---|---|---|")
    fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    for r in results:
        print(f"| {r['index']} | {r['chunks']:,} | {fmt(r['f1'])} | "
              f"{fmt(r['em'])} | {fmt(r['false_refusals'])} | {fmt(r['refusal_recall'])} | {fmt(r['hit@1'])} | "
              f"{r['p50_ms']:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad", type=Path, required=True, help="SQuAD file: its paragraphs indexed, its questions asked")
    ap.add_argument("--unanswerable", type=Path, help="questions that must be refused")
    ap.add_argument("--distractors", type=Path, nargs="+", required=True, help="SQuAD files whose paragraphs are added")
    ap.add_argument("--limit", type=int, default=0, help="ask at most this many questions of each set (0 = all)")
    ap.add_argument("--index-dir", type=Path, help="keep the two indexes here for reruns")
    ap.add_argument("--json", type=Path, help="also write the metrics here")
    args = ap.parse_args()

    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    base = load_settings()
    articles, questions = ev.read_squad(args.squad)
    questions = questions[: args.limit] if args.limit else questions
    if args.unanswerable:
        extra = ev.as_unanswerable(ev.read_questions(args.unanswerable))
        questions += extra[: args.limit] if args.limit else extra
    # a distractor file's paragraph ids («title/0») may be the test set's: each file gets its own
    distractors = [replace(a, doc_id=f"{path.stem}:{a.doc_id}") for path in args.distractors
                   for a in ev.read_squad(path)[0]]
    if not articles or not questions:
        raise SystemExit("bench/refusal_scale.py: no paragraphs or no questions in the given files")

    root = args.index_dir or Path(tempfile.mkdtemp(prefix="sanad-refusal-scale-"))
    results = []
    try:
        for name, corpus in (("small", articles), ("with distractors", articles + distractors)):
            sanad = Sanad(load_settings(home=root / name.replace(" ", "-"), cache_dir=str(base.cache_path), corpus=""))
            report = sanad.ingest_articles(corpus, progress=False)
            if report.errors:
                raise SystemExit(f"bench/refusal_scale.py: {len(report.errors)} paragraphs failed to index: {report.errors[:3]}")
            results.append(measure(sanad, questions, name, len(corpus), ev))
    finally:
        if not args.index_dir:
            shutil.rmtree(root, ignore_errors=True)

    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
