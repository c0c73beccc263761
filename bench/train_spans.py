"""Fit the answer-span weights (rag/span_weights.json) on a SQuAD file (ARCD-train).

    python bench/train_spans.py ../shared/data/arcd/arcd-train.json [--write]

For each question, the sentence of its paragraph that holds the gold answer is cut into
candidate spans (rag/answer/span_ranker.py); a linear model is fitted so that, within each question,
candidates with a high SQuAD F1 against the gold answers score highest (a softmax over the
candidates with a target sharpened towards the best F1, L2-regularized). The articles are
cross-validated by title (5 folds) to pick the regularization before the final fit on everything; --write saves the
weights. Never run this on a test set."""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from rag.answer.linear import LinearModel, fit, softmax
from rag.answer.question import Question, question_type
from rag.answer.span_ranker import FEATURES, WEIGHTS_FILE, candidates
from rag.chunking import split_sentences
from rag.evaluation import metrics
from rag.normalize import tokenize

SHARPNESS = 10.0  # target ∝ exp(SHARPNESS * F1)


def load(path: Path) -> list[dict]:
    """One example per question whose answer lies inside one sentence."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs = [(a.get("title", ""), p) for a in data for p in a["paragraphs"]]
    df: Counter[str] = Counter()
    for _t, p in paragraphs:
        df.update(set(t.norm for t in tokenize(p["context"])))
    n = len(paragraphs)

    def idf(term: str) -> float:
        d = df.get(term, 0)
        return math.log(1 + (n - d + 0.5) / (d + 0.5))

    examples = []
    for title, p in paragraphs:
        text = p["context"]
        sents = split_sentences(text)
        for qa in p["qas"]:
            golds = [a["text"] for a in qa["answers"]]
            a0 = qa["answers"][0]
            s_e = next(((s, e) for s, e in sents if s <= a0["answer_start"] < e), None)
            if s_e is None or a0["answer_start"] + len(a0["text"]) > s_e[1] + 1:
                continue
            sentence = text[s_e[0] : s_e[1]]
            c = candidates(Question.parse(qa["question"]), sentence, idf)
            if not c.bounds:
                continue
            f1 = np.array([metrics.f1(sentence[s:e], golds) for s, e in c.bounds])
            whole = metrics.f1(sentence, golds)
            examples.append(
                {"title": title, "qtype": question_type(qa["question"]), "X": c.X, "f1": f1, "whole_f1": whole}
            )
    return examples


def train(examples: list[dict], l2: float, l2_typed: float) -> LinearModel:
    groups = [(e["X"], softmax(SHARPNESS * e["f1"]), e["qtype"]) for e in examples]
    return fit(FEATURES, groups, l2, l2_typed)


def evaluate(model: LinearModel, examples: list[dict]) -> dict:
    """F1 of the top-scoring candidate of each example, overall and per question type."""
    picked, per_type = [], {}
    for e in examples:
        f = float(e["f1"][int(np.argmax(e["X"] @ model.weights(e["qtype"])))])
        picked.append(f)
        per_type.setdefault(e["qtype"], []).append(f)
    return {"picked": picked, "per_type": per_type}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad", type=Path)
    ap.add_argument("--l2", type=float, nargs="*", default=[0.003])
    ap.add_argument("--l2-typed", type=float, nargs="*", default=[0.0003, 0.003])
    ap.add_argument("--write", action="store_true", help=f"save the final weights to {WEIGHTS_FILE}")
    args = ap.parse_args()
    examples = load(args.squad)
    titles = sorted({e["title"] for e in examples})
    folds = [set(titles[i::5]) for i in range(5)]
    print(f"{len(examples)} questions with a one-sentence answer; 5-fold cross-validation by title")
    best = None
    for l2 in args.l2:
        for l2_typed in args.l2_typed:
            picked, per_type = [], {}
            for held in folds:
                model = train([e for e in examples if e["title"] not in held], l2, l2_typed)
                r = evaluate(model, [e for e in examples if e["title"] in held])
                picked += r["picked"]
                for t, v in r["per_type"].items():
                    per_type.setdefault(t, []).extend(v)
            f = float(np.mean(picked))
            print(f"l2={l2:<7} l2_typed={l2_typed:<6} held-out F1 {f:.3f}  per type:",
                  {t: (len(v), round(float(np.mean(v)), 3)) for t, v in sorted(per_type.items())})
            if best is None or f > best[2]:
                best = (l2, l2_typed, f)
    whole = float(np.mean([e["whole_f1"] for e in examples]))
    oracle = float(np.mean([e["f1"].max() for e in examples]))
    print(f"whole sentence F1 {whole:.3f}; best candidate (oracle) F1 {oracle:.3f}")
    final = train(examples, best[0], best[1])
    print(f"final fit on all {len(examples)} with l2={best[0]} l2_typed={best[1]}: "
          f"in-sample F1 {np.mean(evaluate(final, examples)['picked']):.3f}")
    if args.write:
        final.save(WEIGHTS_FILE, trained_on=args.squad.name, questions=len(examples), l2=best[0],
                   l2_typed=best[1], cross_validated_f1=round(best[2], 4), made_by="bench/train_spans.py")
        print(f"wrote {WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
