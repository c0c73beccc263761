"""Fit the refusal model for questions not written in MSA (dialects and English).

    OMP_NUM_THREADS=1 python bench/varieties_refusal.py --json out/varref-first-small.json
    OMP_NUM_THREADS=1 python bench/varieties_refusal.py --indexed second --json out/varref-second-small.json
    D=../shared/data; G="--distractors $D/tydiqa/tydiqa-goldp-dev-ar.json $D/mlqa/mlqa-dev-ar.json"
    OMP_NUM_THREADS=1 python bench/varieties_refusal.py $G --json out/varref-first-grown.json
    OMP_NUM_THREADS=1 python bench/varieties_refusal.py $G --indexed second --json out/varref-second-grown.json
    python bench/tune_varieties.py out/varref-*.json [--write]

The rows are belebele-eqa dev's questions in six varieties (English and five dialects) over
four indexes: either half of its passages alone, and with TyDi-ar dev and MLQA-ar dev's 1,281
paragraphs added (the questions on the other half are the ones to refuse). The same five signals
as the MSA model (rag/answer/refusal.py), with the word-matching ones (coverage, keyword margin)
measured after the varieties lexicon for a dialect question and unknown for an English one.

First a cross-fit: fit on the questions of one group of passages (bench/varieties.py
``half_of``), choose the threshold there, measure on the other group's questions, which the
fit never saw; printed beside the shipped model. Then the fit on every row, whose weights
``--write`` stores in rag/answer/refusal_varieties_weights.json with the threshold that answers
``--max-answered`` of the unanswerable rows (the value for ``abstain_threshold_varieties``).
The belebele dev split is CC BY-SA 4.0; its test split is the measure and is never seen here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from varieties import half_of  # noqa: E402

from rag.answer.refusal import LEXICAL, READER_FEATURES, VARIETIES_WEIGHTS_FILE, AbstentionModel, fit  # noqa: E402

STEMS = ("EN", "arz", "apc", "ars", "ary", "acm")


def matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Signals (an English question's word-matching ones unknown) and labels (1 = answerable)."""
    X = np.array([[float("nan") if r["variety"] == "EN" and n in LEXICAL else r[n] for n in READER_FEATURES]
                  for r in rows], dtype=np.float64)
    return X, np.array([r["answerable"] for r in rows], dtype=np.float64)


def threshold_at(p: np.ndarray, y: np.ndarray, max_answered: float) -> float:
    """The lowest threshold that answers at most ``max_answered`` of the unanswerable rows."""
    return float(np.quantile(p[y == 0], 1 - max_answered))


def table(title: str, rows_by_fold: dict[int, tuple[list[dict], np.ndarray, float]]) -> None:
    print(f"\n{title}: answerable refused / unanswerable answered, on the passages the fit did not see")
    print("| passages measured | threshold | index | " + " | ".join(STEMS) + " | all |")
    print("|---|---|---|" + "---|" * (len(STEMS) + 1))
    sums: dict[str, list] = {}
    for fold, (rows, p, thr) in rows_by_fold.items():
        for index in ("small", "grown"):
            cells = []
            for stem in (*STEMS, None):
                pick = [i for i, r in enumerate(rows) if r["index"] == index and stem in (None, r["variety"])]
                y = np.array([rows[i]["answerable"] for i in pick])
                q = p[pick]
                refused, answered = (q[y] < thr).mean(), (q[~y] >= thr).mean()
                cells.append(f"{100 * refused:.0f}% / {100 * answered:.0f}%")
                if stem is None:
                    sums.setdefault(index, []).append((refused, answered))
            print(f"| group {fold} | {thr:.3f} | {index} | " + " | ".join(cells) + " |")
    for index, v in sums.items():
        print(f"mean over both groups, {index} index: refused {100 * np.mean([a for a, _ in v]):.1f}%, "
              f"unanswerable answered {100 * np.mean([b for _, b in v]):.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", type=Path, nargs="+", help="bench/varieties_refusal.py --json files")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "belebele-eqa" / "dev")
    ap.add_argument("--max-answered", type=float, default=0.08)
    ap.add_argument("--shipped-threshold", type=float, default=0.75, help="the threshold the shipped model is shown at")
    ap.add_argument("--write", action="store_true", help=f"write {VARIETIES_WEIGHTS_FILE.name}")
    args = ap.parse_args()

    title = {qa["id"]: art["title"] for stem in ("MSA", *STEMS)
             for art in json.loads((args.data / f"{stem}.json").read_text(encoding="utf-8"))["data"]
             for para in art["paragraphs"] for qa in para["qas"]}
    rows = []
    for path in args.rows:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for r in doc["rows"]:
            if r["variety"] in STEMS:
                rows.append({**r, "index": "grown" if doc["distractors"] else "small", "group": half_of(title[r["id"]])})
    if not rows:
        raise SystemExit("bench/tune_varieties.py: no English or dialect rows in the given files")

    shipped = AbstentionModel.load(reader=True)
    before, after = {}, {}
    for group in (0, 1):
        train = [r for r in rows if r["group"] != group]
        test = [r for r in rows if r["group"] == group]
        (Xtr, ytr), (Xte, _) = matrix(train), matrix(test)
        # the shipped model reads every non-MSA question's word-matching signals as unknown
        unknown = Xte.copy()
        unknown[:, [READER_FEATURES.index(n) for n in LEXICAL]] = np.nan
        before[group] = (test, np.array([shipped.probability(x) for x in unknown]), args.shipped_threshold)
        model = fit(Xtr, ytr, names=READER_FEATURES)
        ptr = np.array([model.probability(x) for x in Xtr])
        after[group] = (test, np.array([model.probability(x) for x in Xte]), threshold_at(ptr, ytr, args.max_answered))
    table(f"shipped model, word-matching signals unknown, {args.shipped_threshold}", before)
    table(f"refitted, word-matching signals measured for dialects, threshold at {args.max_answered:.0%} answered", after)

    X, y = matrix(rows)
    model = fit(X, y, names=READER_FEATURES)
    p = np.array([model.probability(x) for x in X])
    thr = threshold_at(p, y, args.max_answered)
    print(f"\nfit on all {len(rows)} rows: standardized weights "
          + ", ".join(f"{n} {w:.2f}" for n, w in zip(READER_FEATURES, model.weights))
          + f"; threshold {thr:.3f}")
    if args.write:
        model.save(VARIETIES_WEIGHTS_FILE, trained_on="belebele-eqa dev (English and dialect questions)",
                   questions=len(rows), suggested_threshold=round(thr, 3), made_by="bench/tune_varieties.py")
        print(f"wrote {VARIETIES_WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
