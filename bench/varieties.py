"""The whole pipeline over the same passages asked in seven varieties, side by side.

    OMP_NUM_THREADS=1 python -m bench.varieties [--data ../shared/data/belebele-eqa/dev] [--limit N] [--json FILE]
        [--half K] [--reader-weights FILE]

The files ``MSA.json EN.json arz.json apc.json ars.json ary.json acm.json`` (SQuAD v1.1) hold
the same paragraphs with the same answers; only how the questions are written changes
(Modern Standard Arabic, English, Egyptian, Levantine, Gulf/Najdi, Moroccan, Iraqi). The
paragraphs are indexed once in a temporary index (checked to be the same in every file), every
variety's questions are asked through ``Sanad.ask`` (rag.evaluation.run, as ``sanad eval
--squad`` does) and ONE table is printed: variety, n, F1, its ratio to MSA's F1, EM, the share of
answers whose quoted sentence holds a gold answer (sentence_contains), the share
of answerable questions refused, hit@1 (gold passage first). ``--half K`` asks only the questions
on half K (0 or 1) of the passages (every passage still indexed): the measure of a reader trained
on the other half (bench/varieties_train_set.py); ``--reader-weights`` reads with other weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# file stem -> the variety name the report uses
VARIETIES = {
    "MSA": "msa",
    "EN": "english",
    "arz": "egyptian",
    "apc": "levantine",
    "ars": "gulf",
    "ary": "moroccan",
    "acm": "iraqi",
}


def half_of(title: str) -> int:
    """Which half of the passages a title («belebele-012») is in: every other passage."""
    return int(title.rsplit("-", 1)[-1]) // 3 % 2


def load(data: Path, limit: int):
    """(articles, questions with their variety); the articles of every file must be the same."""
    from rag import evaluation as ev

    articles, questions = None, []
    for stem, variety in VARIETIES.items():
        path = data / f"{stem}.json"
        if not path.exists():
            raise SystemExit(f"bench/varieties.py: {path} is missing")
        arts, qs = ev.read_squad(path)
        texts = {a.doc_id: a.text for a in arts}
        if articles is None:
            articles = arts
        elif texts != {a.doc_id: a.text for a in articles}:
            raise SystemExit(f"bench/varieties.py: {path} has other passages than {data / 'MSA.json'}")
        qs = qs[:limit] if limit else qs
        for q in qs:
            q.variety = variety
        questions += qs
    return articles, questions


def table(by_variety: dict[str, dict]) -> str:
    msa = (by_variety.get("msa") or {}).get("f1")
    lines = ["| variety | n | F1 | F1 / MSA | EM | quoted sentence holds the answer | answerable refused | hit@1 |",
             "|---|---|---|---|---|---|---|---|"]
    for variety in VARIETIES.values():
        m = by_variety.get(variety)
        if not m:
            continue
        ratio = f"{m['f1'] / msa:.2f}x" if msa else "-"
        lines.append(f"| {variety} | {m['n']} | {m['f1']:.3f} | {ratio} | {m['exact_match']:.3f} | "
                     f"{m['sentence_contains']:.3f} | "
                     f"{100 * m['false_abstain_rate']:.0f}% | {m['hit@1']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "belebele-eqa" / "dev")
    ap.add_argument("--limit", type=int, default=0, help="ask at most this many questions of each variety")
    ap.add_argument("--json", type=Path, help="also write the per-variety metrics and rows here")
    ap.add_argument("--half", type=int, choices=(0, 1), help="ask only the questions on this half of the passages")
    ap.add_argument("--reader-weights", type=Path, help="other reader weights (default: the shipped reader's)")
    args = ap.parse_args()

    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev

    articles, questions = load(args.data, args.limit)
    if args.half is not None:
        questions = [q for q in questions if half_of(q.about) == args.half]
    base = load_settings()
    home = Path(tempfile.mkdtemp(prefix="sanad-varieties-"))
    try:
        other = {"reader_weights": str(args.reader_weights), "reader_dtype": "float32"} if args.reader_weights else {}
        sanad = Sanad(load_settings(home=home, cache_dir=str(base.cache_path), corpus="", **other))
        t0 = time.perf_counter()
        sanad.ingest_articles(articles, progress=False)
        print(f"indexed {len(articles)} passages in {time.perf_counter() - t0:.0f} s; "
              f"asking {len(questions)} questions", file=sys.stderr)
        t0 = time.perf_counter()
        report = ev.run(sanad, questions, progress=sys.stderr.isatty())
        print(f"asked in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(table(report["by_variety"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [{k: r.get(k) for k in ("id", "variety", "question", "type", "answer", "abstained", "confidence",
                                       "f1", "gold_answers", "gold_rank")} for r in report["rows"]]
        args.json.write_text(json.dumps({"by_variety": report["by_variety"], "rows": rows}, ensure_ascii=False,
                                        indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
