"""Decide, by measurement, how the trained reader and the hand-written span rules share the
answer stage: which sentence to answer from and whose span to give, per question type.

    python bench/tune_reader.py ../shared/data/arcd/arcd-train.json --index-dir .sanad/idx-arcd-train \
        [--weights rag/answer/reader_weights.safetensors] [--dump out/tune_reader.jsonl]
    python bench/tune_reader.py ../shared/data/arcd/arcd-train.json --index-dir .sanad/idx-arcd-train \
        --fold-readers .sanad/reader-fold0/reader.safetensors .sanad/reader-fold1/reader.safetensors

The questions measured are those of the ARCD-train titles that bench/train_reader.py held out
of training (same --dev-share), or, with --fold-readers (bench/train_reader.py --fold K/N, in K
order), every ARCD-train question, each read by the fold reader that never saw its title;
asked over an index of all of ARCD-train; every one goes
through retrieval and sentence ranking as in `sanad ask`, then the reader reads the --k best
sentences. Printed: sentence_contains and F1 for ways of choosing the sentence, and reader vs
rules F1 per question type on the chosen sentence. Never run this on a test set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.train_reader import fold_of, held_out  # noqa: E402
from config import load_settings  # noqa: E402
from rag import Sanad
from rag import evaluation as ev  # noqa: E402
from rag.answer.question import (  # noqa: E402
    Question,
    clean_question,  # noqa: E402
    question_type,
)
from rag.answer.reader import WEIGHTS_FILE, Reader  # noqa: E402
from rag.answer.span_ranker import extract_span  # noqa: E402
from rag.answer.span_rules import tidy  # noqa: E402
from rag.evaluation import metrics  # noqa: E402


def collect(sanad: Sanad, reader: Reader, questions: list[ev.Question], k: int) -> list[dict]:
    rows = []
    for q in questions:
        text, _ = clean_question(q.question, sanad.settings.max_question_chars)
        retrieved = sanad.retrieve(text)
        sents = sanad.answerer.sentences(text, retrieved.hits)
        top, seen = [], set()
        for s in sents:
            if s.text not in seen:
                seen.add(s.text)
                top.append(s)
            if len(top) == k:
                break
        parsed = Question.parse(text)
        rules = [extract_span(parsed, s.text, sanad.idf) for s in top]
        spans = reader.read(text, [s.text for s in top], rules)
        cands = []
        for s, sp, rule in zip(top, spans, rules):
            cands.append({
                "score": s.score, "coverage": s.coverage, "margin": sp.margin, "span_score": sp.score,
                "rule_score": sp.other if rule else None,
                "reader": s.text[slice(*tidy(s.text, (sp.start, sp.end)))] if sp.end > sp.start else "", "rules": s.text[rule[0] : rule[1]] if rule else s.text,
                "contains": metrics.contains(s.text, q.answers), "doc": s.hit.chunk.doc_id,
            })
        chosen = sanad.answerer.choose(parsed, sents) if sents else None
        rows.append({"question": text, "type": question_type(text), "answers": q.answers, "cands": cands,
                     "chosen": chosen.text if chosen else "", "source": chosen.source if chosen else ""})
    return rows


def choose(row: dict, k: int, w_rank: float) -> dict | None:
    cands = row["cands"][:k]
    if not cands:
        return None
    return max(cands, key=lambda c: c["margin"] + w_rank * c["score"])


def report(rows: list[dict]) -> None:
    n = len(rows)
    print(f"{n} held-out questions")
    print("sentence choice: sentence_contains / reader F1 / rules F1 (on the chosen sentence)")
    for k in (1, 2, 3, 5):
        for w in (0.0, 2.0, 5.0, 10.0, 20.0):
            if k == 1 and w:
                continue
            ch = [choose(r, k, w) for r in rows]
            sc = np.mean([c["contains"] if c else 0 for c in ch])
            fr = np.mean([metrics.f1(c["reader"], r["answers"]) if c else 0 for r, c in zip(rows, ch)])
            fu = np.mean([metrics.f1(c["rules"], r["answers"]) if c else 0 for r, c in zip(rows, ch)])
            print(f"  k={k} w_rank={w:>4}: {sc:.3f} / {fr:.3f} / {fu:.3f}")


def overlapping(c: dict) -> str:
    """The rules' span when it shares a word with the reader's, else the reader's."""
    a, b = set(metrics.normalize_answer(c["reader"]).split()), set(metrics.normalize_answer(c["rules"]).split())
    return c["rules"] if a & b else c["reader"]


def by_type(rows: list[dict], k: int, w: float) -> None:
    print(f"per type, sentence chosen with k={k} w_rank={w}: n, F1 reader / rules / rules-if-overlapping, "
          "EM reader / rules / rules-if-overlapping")
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r["type"], []).append(r)
    for t, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        ch = [choose(r, k, w) for r in rs]
        f = lambda get, m: np.mean([m(get(c), r["answers"]) if c else 0 for r, c in zip(rs, ch)])  # noqa: E731
        reader, rules = (lambda c: c["reader"]), (lambda c: c["rules"])
        print(f"  {t:8} {len(rs):4d}  {f(reader, metrics.f1):.3f} / {f(rules, metrics.f1):.3f} / "
              f"{f(overlapping, metrics.f1):.3f}   {f(reader, metrics.exact_match):.3f} / "
              f"{f(rules, metrics.exact_match):.3f} / {f(overlapping, metrics.exact_match):.3f}")


def combined(rows: list[dict], k: int, w: float, rule_types: set[str], slack: float) -> tuple[float, float]:
    """F1 and EM of the answer stage as rag/answer/extractive.py composes it."""
    f1s, ems = [], []
    for r in rows:
        c = choose(r, k, w)
        if c is None:
            f1s.append(0.0)
            ems.append(0.0)
            continue
        rule_ok = c.get("rule_score") is not None and c["rule_score"] >= c["span_score"] - slack
        text = c["rules"] if r["type"] in rule_types or rule_ok or not c["reader"] else c["reader"]
        f1s.append(metrics.f1(text, r["answers"]))
        ems.append(metrics.exact_match(text, r["answers"]))
    return float(np.mean(f1s)), float(np.mean(ems))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("squad", type=Path)
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--weights", type=Path, default=WEIGHTS_FILE)
    ap.add_argument("--fold-readers", nargs="+", type=Path, default=[], help="instead of --weights: see above")
    ap.add_argument("--dev-share", type=float, default=0.2)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32"])
    ap.add_argument("--dump", type=Path)
    ap.add_argument("--load", type=Path, help="analyse a --dump file instead of asking again")
    args = ap.parse_args()
    if "test" in args.squad.name:
        raise SystemExit("never tune on a test set")
    if args.load:
        rows = [json.loads(x) for x in args.load.read_text().splitlines()]
    else:
        articles, questions = ev.read_squad(args.squad)
        base = load_settings()
        sanad = Sanad(load_settings(home=args.index_dir, cache_dir=str(base.cache_path), corpus=""))
        if sanad.store.count() == 0:
            sanad.ingest_articles(articles)
        doc_title = {a.doc_id: a.title for a in articles}
        n = len(args.fold_readers)
        groups = {}  # reader weights -> the questions it reads
        for q in questions:
            title = doc_title[q.sources[0]]
            if n:
                groups.setdefault(args.fold_readers[fold_of(title, n)], []).append(q)
            elif held_out(title, args.dev_share):
                groups.setdefault(args.weights, []).append(q)
        rows = []
        for weights, asked in groups.items():
            reader = Reader(Path(sanad.embedder.model_path()), weights, threads=args.threads, dtype=args.dtype)
            sanad.answerer.reader = reader
            rows += collect(sanad, reader, asked, args.k)
        if args.dump:
            args.dump.parent.mkdir(parents=True, exist_ok=True)
            args.dump.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    if "chosen" in rows[0]:
        f = np.mean([metrics.f1(r["chosen"], r["answers"]) for r in rows])
        em = np.mean([metrics.exact_match(r["chosen"], r["answers"]) for r in rows])
        share = np.mean([r["source"] == "reader" for r in rows])
        print(f"the answer stage as shipped (rag/answer/extractive.py, no refusal): F1 {f:.3f}, EM {em:.3f}, "
              f"reader's spans {share:.2f}")
    report(rows)
    by_type(rows, 1, 0.0)
    by_type(rows, 3, 10.0)
    print("the answer stage: F1 / EM by sentence choice (k, w_rank), rule types and RULE_SLACK")
    for k, w in ((3, 5.0), (3, 10.0), (2, 10.0)):
        for types in ({"yesno"}, {"when", "yesno"}):
            cells = [f"slack {s:g}: %.3f / %.3f" % combined(rows, k, w, types, s) for s in (-1e9, 0.0, 1.0, 2.0, 3.0, 5.0)]
            print(f"  k={k} w={w} rules for {sorted(types)}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
