"""Fit the judge (rag/answer/judge.py): the probability that a candidate sentence states the
answer, which chooses the sentence and decides refusal.

    python -m training.judge index  --work .sanad/judge          # the paragraphs of the sets below, one index
    python -m training.judge rows   --work .sanad/judge          # candidates read and judged: WORK/rows.jsonl
    python -m training.judge fit    --work .sanad/judge --write  # rag/answer/judge_weights.json

The questions, all asked over one index of every paragraph below (so that other articles'
sentences compete, as in a grown archive):

- answerable: ARCD-train, TyDi-QA GoldP Arabic dev, MLQA Arabic dev (human questions);
- unanswerable: AAQAD's unanswerable questions (SQuAD-v2 style, machine-translated), without
  the 4,000 AAQAD questions the shipped reader was trained on (training/reader.py, seed 31);
- absent: AAQAD answerable questions (not the reader's) whose paragraph is not in the index: a
  question about something the archive does not hold (``absent``);
- near misses: an answerable question with the one thing it asks about changed to something of
  the same kind that its paragraph does not state (``near_miss``): a term of the question that
  the answer's sentence holds is replaced by one of its nearest words in the encoder's space
  (multilingual-e5-small, «query: » word vectors) among the words of all the sets' questions,
  of the same form (with or without the article), stated nowhere in the paragraph or its title.
  «وزير الداخلية» becomes «وزير الخارجية», «قتلى» «جرحى»; seeded, reproducible; ``sample``
  prints some to read by eye.

Each question's candidates are what the answerer reads at run time (its shortlist of
``judge_candidates`` sentences, the reader's SPANS best spans of each and the judge's evidence);
a candidate is positive when the question is answerable, its sentence holds a gold answer
(normalized) and its span gives it (F1 >= 0.5).
``fit`` fits the logistic model over candidates, holding out a fifth of the titles to report
question-level numbers (the likeliest candidate is the one answered from). ARCD-test is never
read here."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from training.judge_rows import (
    DATA,
    cmd_index,
    cmd_retrieval,
    cmd_rows,
    cmd_sample,
    load_rows,
)


def matrix(rows: list[dict]) -> np.ndarray:
    from rag.answer.judge import FEATURES

    return np.array([[np.nan if r.get(f, 0.0) is None else r.get(f, 0.0) for f in FEATURES] for r in rows],
                    dtype=np.float64)


def cross_lingual_copies(by_q: dict[str, list[dict]], share: float, seed: int = 17) -> dict[str, list[dict]]:
    """Copies of a ``share`` of the questions as an English question over Arabic articles would
    be judged: word-matching evidence and cosine unknown, ``cross_lingual`` 1 (rag/answer/judge.py)."""
    from rag.answer.judge import LEXICAL

    rng = random.Random(seed)
    out = {}
    for qid, rows in by_q.items():
        if rng.random() < share:
            out[qid + "-x"] = [{**r, "id": qid + "-x", **{k: None for k in LEXICAL}, "keyword_margin": None,
                                "cross_lingual": 1.0} for r in rows]
    return out


def question_rows(judge, by_q: dict[str, list[dict]]) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """The question layer's inputs per question, and (kind, whether the likeliest candidate
    holds the answer)."""
    from rag.answer.judge import QUESTION_FEATURES, question_evidence
    from rag.records import Retrieved

    X, meta = [], []
    for rows in by_q.values():
        z = [judge.logit(x) for x in matrix(rows)]
        order = np.argsort(z)[::-1]
        best = rows[order[0]]
        retrieved = Retrieved([], 0.0, best.get("dense_gap", np.nan), best.get("dense_spread", np.nan),
                              np.nan if best.get("keyword_margin") is None else best["keyword_margin"])
        ev = question_evidence(z[order[0]], z[order[1]] if len(z) > 1 else None, retrieved)
        X.append([ev[n] for n in QUESTION_FEATURES])
        meta.append((rows[0]["kind"], best["label"]))
    return np.array(X, dtype=np.float64), meta


def question_scores(judge, by_q: dict[str, list[dict]]) -> list[tuple[str, float, int]]:
    """(kind, the question layer's probability, whether the likeliest candidate holds the answer) per question."""
    X, meta = question_rows(judge, by_q)
    ev = [dict(zip(judge.question.names, x)) for x in X]
    return [(k, judge.question.probability(e), ok) for (k, ok), e in zip(meta, ev)]


def report(name: str, scores: list[tuple[str, float, int]], threshold: float) -> None:
    ans = [(p, ok) for k, p, ok in scores if k == "answerable"]
    neg = {k: [p for kk, p, _ in scores if kk == k] for k in ("unanswerable", "near_miss", "absent")}
    pa = np.array([p for p, _ in ans])
    right = np.mean([ok for _, ok in ans])
    allneg = np.array(neg["unanswerable"] + neg["near_miss"] + neg["absent"])
    auc = np.mean([float(a > b) for a in pa[:600] for b in allneg[:600]])
    sure = [(k == "answerable" and ok) for k, p, ok in scores if p >= 0.9]
    print(f"{name}: {len(ans)} answerable (likeliest sentence right {right:.3f}, refused {np.mean(pa < threshold):.3f}); "
          + "; ".join(f"{k} {len(v)} refused {np.mean(np.array(v) < threshold):.3f}" for k, v in neg.items() if v)
          + f"; AUC {auc:.3f}; answers at >= 0.9: {len(sure)}, right {np.mean(sure) if sure else float('nan'):.3f}")


def cmd_fit(args) -> None:
    from rag.answer.judge import (
        FEATURES,
        QUESTION_FEATURES,
        WEIGHTS_FILE,
        fit,
        fit_layer,
    )

    by_q = load_rows(args.work / "rows.jsonl")
    by_q |= cross_lingual_copies(by_q, args.cross_lingual)
    titles = sorted({rows[0]["title"] for rows in by_q.values()})
    held = set(random.Random(1).sample(titles, len(titles) // 5))
    train = {k: v for k, v in by_q.items() if v[0]["title"] not in held}
    dev = {k: v for k, v in by_q.items() if v[0]["title"] in held}

    def fitted(part):
        from dataclasses import replace

        rows = [r for v in part.values() for r in v]
        X, y = matrix(rows), np.array([r["label"] for r in rows], dtype=np.float64)
        # every question weighs the same, whatever its number of candidates; the other
        # candidates of an answerable question weigh --other-weight (they teach which sentence,
        # the rest of the negatives whether at all)
        n = {k: len(v) for k, v in part.items()}
        w = np.array([(args.other_weight if r["kind"] == "answerable" and not r["label"] else 1.0) / n[r["id"]]
                      for r in rows])
        j = fit(X, y, w, l2=args.l2)
        Q, meta = question_rows(j, part)
        answerable = np.array([float(k == "answerable") for k, _ in meta])
        return replace(j, question=fit_layer(Q, answerable, QUESTION_FEATURES, l2=args.l2))

    j = fitted(train)
    print("candidate layer:", {f: round(float(w), 3) for f, w in zip(FEATURES, j.weights)}, "bias", round(j.bias, 3))
    print("question layer:", {f: round(float(w), 3) for f, w in zip(QUESTION_FEATURES, j.question.weights)})
    report("train", question_scores(j, train), args.threshold)
    report("held-out titles", question_scores(j, dev), args.threshold)
    final = fitted(by_q)
    report("all (fitted on all)", question_scores(final, by_q), args.threshold)
    if args.write:
        from dataclasses import replace

        final = replace(final, threshold=args.threshold, closest=args.closest)
        final.save(WEIGHTS_FILE, trained_on="ARCD-train, TyDi-QA GoldP ar dev, MLQA ar dev, AAQAD unanswerable "
                   "(not the reader's), near misses of the answerable ones", made_by="training/judge.py",
                   questions=len(by_q))
        print(f"wrote {WEIGHTS_FILE}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["index", "rows", "retrieval", "fit", "sample"])
    ap.add_argument("--work", type=Path, default=Path(".sanad/judge"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--unanswerable", type=int, default=700)
    ap.add_argument("--near-miss-share", type=float, default=0.5)
    ap.add_argument("--absent", type=int, default=600, help="questions about titles the index does not hold")
    ap.add_argument("--limit", type=int, default=0, help="read at most this many questions (a trial)")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--other-weight", type=float, default=0.1,
                    help="weight of an answerable question's candidates that do not hold its answer")
    ap.add_argument("--cross-lingual", type=float, default=0.2, help="share of questions also fitted as cross-lingual")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--closest", type=float, default=0.3)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("-n", type=int, default=40)
    args = ap.parse_args()
    {"index": cmd_index, "rows": cmd_rows, "retrieval": cmd_retrieval, "fit": cmd_fit,
     "sample": cmd_sample}[args.command](args)


if __name__ == "__main__":
    main()
