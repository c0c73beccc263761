"""Tune retrieval weights and calibrate the abstention threshold on a SQuAD file (ARCD-train).

    python bench/tune.py ../shared/data/arcd/arcd-train.json [--index-dir DIR]

The paragraphs of half of the file's articles (every other title) are indexed; their
questions are the answerable set and the other articles' questions the unanswerable set. Prints hit@1/hit@5/sentence_contains for a
grid of fusion weights, then the abstention threshold with false_abstain_rate <= 0.10
that refuses the most unanswerable questions. Never run this on a test set."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from config import load_settings
from rag import Sanad, metrics
from rag import evaluation as ev


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad", type=Path)
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument("--max-far", type=float, default=0.10)
    args = ap.parse_args()
    articles, questions = ev.read_squad(args.squad)
    titles = sorted({a.title for a in articles})
    keep = set(titles[::2])
    half = {a.doc_id for a in articles if a.title in keep}
    answerable = [q for q in questions if q.sources[0] in half]
    unanswerable = ev.as_unanswerable([q for q in questions if q.sources[0] not in half])
    base = load_settings()
    home = args.index_dir or Path(tempfile.mkdtemp(prefix="sanad-tune-"))
    sanad = Sanad(load_settings(home=home, cache_dir=str(base.cache_path), corpus="", abstain_threshold=-1e9))
    sanad.ingest_articles([a for a in articles if a.doc_id in half])
    print(f"indexed {len(half)} paragraphs; {len(answerable)} answerable, {len(unanswerable)} unanswerable questions")

    best = None
    for wk in (0.3, 0.4, 0.5):
        sanad.settings = sanad.settings.model_copy(update={"weight_dense": 1 - wk, "weight_keyword": wk})
        sanad._answerer = None
        rep = ev.run(sanad, answerable, progress=False)
        r, a = rep["retrieval"], rep["answer"]
        print(f"weight_keyword={wk}: hit@1={r['hit@1']} hit@5={r['hit@5']} "
              f"sentence_contains={a['sentence_contains']} f1={a['f1']}")
        key = (r["hit@1"] + a["sentence_contains"], wk)
        if best is None or key > best:
            best = key
    _, wk = best
    print(f"best: weight_keyword={wk}")
    sanad.settings = sanad.settings.model_copy(update={"weight_dense": 1 - wk, "weight_keyword": wk})
    sanad._answerer = None
    pos = [r["confidence"] for r in ev.run(sanad, answerable, progress=False)["rows"]]
    neg = [r["confidence"] for r in ev.run(sanad, unanswerable, progress=False)["rows"]]
    pos_sorted = sorted(pos)
    threshold = pos_sorted[int(args.max_far * len(pos_sorted))]
    recall = sum(c < threshold for c in neg) / len(neg)
    far = sum(c < threshold for c in pos) / len(pos)
    print(f"abstain_threshold={threshold:.4f}: recall={recall:.3f} false_abstain_rate={far:.3f}")
    for t in (threshold - 0.1, threshold - 0.05, threshold + 0.05):
        print(f"  at {t:.3f}: recall={sum(c < t for c in neg) / len(neg):.3f} far={sum(c < t for c in pos) / len(pos):.3f}")
    print("AUC-ish separation:", metrics.mean([float(p > n) for p in pos[:300] for n in neg[:300]]))


if __name__ == "__main__":
    main()
