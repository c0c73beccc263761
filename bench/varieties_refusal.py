"""Refusal across varieties: answerable refused / unanswerable answered per variety and threshold.

    OMP_NUM_THREADS=1 python bench/varieties_refusal.py [--data ../shared/data/belebele-eqa/dev]

The first half of belebele-eqa dev's passages is indexed; every variety's questions are asked;
those on the other half cannot be answered. For each question the refusal model's probability is
computed twice: with the word-matching signals (coverage, keyword margin) as measured, and as
shipped (unknown for a question that is not MSA: rag/answer/refusal.py ``LEXICAL``). One table
per threshold. ``abstain_threshold_varieties`` was chosen from it (docs/quality.md).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEMS = ("MSA", "EN", "arz", "apc", "ars", "ary", "acm")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "belebele-eqa" / "dev")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.683, 0.75, 0.8, 0.85])
    args = ap.parse_args()

    from config import load_settings
    from rag import Sanad
    from rag import evaluation as ev
    from rag.answer.question import Question

    arts, _ = ev.read_squad(args.data / "MSA.json")
    half = {a.doc_id for a in arts[: len(arts) // 2]}
    home = Path(tempfile.mkdtemp(prefix="sanad-varieties-refusal-"))
    try:
        sanad = Sanad(load_settings(home=home, cache_dir=str(load_settings().cache_path), corpus=""))
        sanad.ingest_articles([a for a in arts if a.doc_id in half])
        answerer = sanad.answerer
        probs: dict[str, dict[bool, list[tuple[float, float]]]] = {}
        for stem in STEMS:
            _, questions = ev.read_squad(args.data / f"{stem}.json")
            probs[stem] = {True: [], False: []}
            for item in questions:
                retrieved = sanad.retrieve(item.question)
                q = Question.parse(item.question)
                choice = answerer.choose(q, answerer.sentences(q, retrieved.hits))
                measured = answerer.model.probability(answerer.signals(choice, retrieved))
                shipped = answerer.model.probability(answerer.signals(choice, retrieved, q))
                probs[stem][item.sources[0] in half].append((measured, shipped))
    finally:
        shutil.rmtree(home, ignore_errors=True)
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
