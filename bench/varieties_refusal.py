"""Refusal across varieties: answerable refused / unanswerable answered per variety and threshold.

    OMP_NUM_THREADS=1 python bench/varieties_refusal.py [--data ../shared/data/belebele-eqa/dev]

The first half of belebele-eqa dev's passages is indexed (``--indexed second``: the second); every variety's questions are asked;
those on the other half cannot be answered. For each question the refusal model's probability is
computed twice: with the word-matching signals (coverage, keyword margin) as measured, and as
shipped (unknown for a question that is not MSA: rag/answer/refusal.py ``LEXICAL``). One table
per threshold. ``abstain_threshold_varieties`` was chosen from it (docs/quality.md).

``--distractors FILE...`` adds those SQuAD files' paragraphs to the index (the same questions
over a larger index, as bench/refusal_scale.py does for one set); ``--index-dir`` keeps the
index for reruns, ``--json`` writes every question's signals and probabilities
(bench/tune_varieties.py fits the refusal model for English and dialect questions on them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEMS = ("MSA", "EN", "arz", "apc", "ars", "ary", "acm")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "belebele-eqa" / "dev")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.683, 0.75, 0.8, 0.85])
    ap.add_argument("--indexed", choices=("first", "second"), default="first",
                    help="which half of the passages is indexed (the other half's questions are to refuse)")
    ap.add_argument("--distractors", type=Path, nargs="*", default=[], help="SQuAD files whose paragraphs are added")
    ap.add_argument("--index-dir", type=Path, help="keep the index here (an existing one is reused)")
    ap.add_argument("--json", type=Path, help="write each question's probabilities here")
    args = ap.parse_args()

    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev
    from rag.answer.question import Question

    arts, _ = ev.read_squad(args.data / "MSA.json")
    first = {a.doc_id for a in arts[: len(arts) // 2]}
    half = first if args.indexed == "first" else {a.doc_id for a in arts} - first
    # a distractor file's paragraph ids («title/0») may be another file's: each file gets its own
    distractors = [replace(a, doc_id=f"{path.stem}:{a.doc_id}") for path in args.distractors
                   for a in ev.read_squad(path)[0]]
    home = args.index_dir or Path(tempfile.mkdtemp(prefix="sanad-varieties-refusal-"))
    try:
        sanad = Sanad(load_settings(home=home, cache_dir=str(load_settings().cache_path), corpus=""))
        report = sanad.ingest_articles([a for a in arts if a.doc_id in half] + distractors, progress=False)
        if report.errors:
            raise SystemExit(f"bench/varieties_refusal.py: {len(report.errors)} paragraphs failed to index")
        print(f"{len(half)} passages and {len(distractors)} distractor paragraphs indexed, "
              f"{sanad.stats()['chunks']} chunks", flush=True)
        answerer = sanad.answerer
        probs: dict[str, dict[bool, list[tuple[float, float]]]] = {}
        rows: list[dict] = []  # every question's signals (word-matching ones as measured), for --json
        for stem in STEMS:
            _, questions = ev.read_squad(args.data / f"{stem}.json")
            probs[stem] = {True: [], False: []}
            for item in questions:
                retrieved = sanad.retrieve(item.question)
                q = Question.parse(item.question)
                choice = answerer.choose(q, answerer.sentences(q, retrieved.hits))
                sig = answerer.signals(choice, retrieved)
                measured = answerer.model.probability(sig)
                shipped = answerer.confidence(choice, retrieved, q)  # as shipped: the model for its variety
                probs[stem][item.sources[0] in half].append((measured, shipped))
                rows.append({"variety": stem, "id": item.id, "answerable": item.sources[0] in half,
                             "msa": q.variety == "msa", "measured": measured, "shipped": shipped,
                             "dense_top": retrieved.dense_top, **sig})
    finally:
        if not args.index_dir:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        about = {"indexed": args.indexed, "distractors": [str(p) for p in args.distractors]}
        args.json.write_text(json.dumps({**about, "rows": rows}) + "\n", encoding="utf-8")
    n_in, n_out = len(probs["MSA"][True]), len(probs["MSA"][False])
    print(f"{n_in} answerable and {n_out} unanswerable questions per variety; answerable refused / unanswerable answered")
    print("| signals, threshold | " + " | ".join(STEMS) + " |")
    print("|---|" + "---|" * len(STEMS))
    for col, label in ((0, "measured"), (1, "shipped")):
        for t in args.thresholds:
            cells = []
            for stem in STEMS:
                a = np.array(probs[stem][True])[:, col]
                u = np.array(probs[stem][False])[:, col]
                cells.append(f"{100 * (a < t).mean():.0f}% / {100 * (u >= t).mean():.0f}%")
            print(f"| {label}, {t} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
