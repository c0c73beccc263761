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
import json
import random
import sys
import time
from pathlib import Path

import numpy as np


DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ANSWERABLE = {"arcd": "arcd/arcd-train.json", "tydi": "tydiqa/tydiqa-goldp-dev-ar.json",
              "mlqa": "mlqa/mlqa-dev-ar.json"}
AAQAD = "reader/aaqad-ar.json"
READER_AAQAD = (31, 4000)  # the shipped reader's AAQAD sample: seed, size (docs/training.md)


def squad(path: Path):
    """(title, context, question, answers) of every question of a SQuAD (v2) file; answers [] when impossible."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for art in data["data"]:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                answers = [] if qa.get("is_impossible") else [a["text"] for a in qa.get("answers") or []]
                yield art.get("title", ""), para["context"], qa["question"], answers


def reader_seen_aaqad(path: Path) -> set[str]:
    """The AAQAD questions the shipped reader was trained on (training/reader.py's sample)."""
    items = [(t, c, q) for t, c, q, _ in squad(path)]
    seed, size = READER_AAQAD
    return {q for _, _, q in random.Random(seed).sample(items, size)}


def questions(data: Path, unanswerable: int, seed: int = 7) -> tuple[list[dict], list[dict]]:
    """(questions, paragraphs): every answerable question of the sets, ``unanswerable`` AAQAD ones."""
    if any("arcd-test" in p for p in ANSWERABLE.values()):
        raise SystemExit("ARCD-test is the measure: never trained on")
    paras: dict[tuple[str, str], str] = {}
    out = []

    def para_id(name: str, title: str, context: str) -> str:
        return paras.setdefault((title, context), f"{name}-{len(paras)}")

    for name, rel in ANSWERABLE.items():
        for k, (title, context, q, answers) in enumerate(squad(data / rel)):
            if answers:
                out.append({"id": f"{name}-q{k}", "set": name, "title": title, "question": q, "answers": answers,
                            "kind": "answerable", "source": para_id(name, title, context)})
    seen = reader_seen_aaqad(data / AAQAD)
    pool = [(t, c, q) for t, c, q, a in squad(data / AAQAD) if not a and q not in seen]
    for k, (title, context, q) in enumerate(random.Random(seed).sample(pool, min(unanswerable, len(pool)))):
        out.append({"id": f"aaqad-u{k}", "set": "aaqad", "title": title, "question": q, "answers": [],
                    "kind": "unanswerable", "source": para_id("aaqad", title, context)})
    records = [{"id": pid, "title": title, "text": context} for (title, context), pid in paras.items()]
    return out, records


def absent_questions(data: Path, indexed_titles: set[str], n: int, seed: int = 13) -> list[dict]:
    """``n`` AAQAD answerable questions (not the reader's) on titles the index does not hold."""
    seen = reader_seen_aaqad(data / AAQAD)
    pool = [(t, q) for t, c, q, a in squad(data / AAQAD) if a and q not in seen and t not in indexed_titles]
    return [{"id": f"aaqad-x{k}", "set": "aaqad", "title": t, "question": q, "answers": [], "kind": "absent",
             "source": ""} for k, (t, q) in enumerate(random.Random(seed).sample(pool, min(n, len(pool))))]


def sanad_at(work: Path):
    from config import load_settings
    from rag import Sanad

    return Sanad(load_settings(home=work / "home", corpus="", dedupe=False))


def cmd_index(args) -> None:
    qs, records = questions(args.data, args.unanswerable)
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.work / "paragraphs.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    (args.work / "questions.json").write_text(json.dumps(qs, ensure_ascii=False), encoding="utf-8")
    sanad = sanad_at(args.work)
    t0 = time.perf_counter()
    report = sanad.ingest(path, progress=True)
    print(f"{len(records)} paragraphs ({len(report.added)} added) in {time.perf_counter() - t0:.0f} s; "
          f"{len(qs)} questions", file=sys.stderr)


# --- near misses ---------------------------------------------------------------------------
_CLITIC = ("و", "ف", "ب", "ل", "ك")


def _form(word: str) -> tuple[str, str]:
    """(clitic, rest): a one-letter conjunction/preposition before the article, else ''."""
    if len(word) > 4 and word[0] in _CLITIC and word[1:3] == "ال":
        return word[0], word[1:]
    return "", word


def near_misses(qs: list[dict], paragraphs: dict[str, dict], embed, share: float, seed: int = 11) -> list[dict]:
    """Near-miss twins of a ``share`` of the answerable questions (see the module docstring)."""
    from rag.answer.question import Question
    from rag.chunking import split_sentences
    from rag.lexicon import tokenize
    from rag.normalize import normalize, soft_match, stem

    rng = random.Random(seed)
    vocab: dict[str, str] = {}  # stem -> a surface word, from every question
    for q in qs:
        for t in tokenize(q["question"]):
            w = q["question"][t.start : t.end]
            if len(t.norm) >= 3 and not any(ch.isdigit() for ch in w):
                vocab.setdefault(t.norm, _form(w)[1])
    words = sorted(vocab)
    print(f"embedding {len(words)} question words", file=sys.stderr)
    V = np.stack([embed(vocab[w]) for w in words])
    out = []
    chosen = [q for q in qs if q["kind"] == "answerable" and rng.random() < share]
    for q in chosen:
        para = paragraphs[q["source"]]
        text, ptext = q["question"], para["text"]
        gold = next((ptext[s:e] for s, e in split_sentences(ptext) if any(a in ptext[s:e] for a in q["answers"])), "")
        if not gold:
            continue
        pterms = {t.norm for t in tokenize(ptext + " " + para["title"])}
        sterms = {t.norm for t in tokenize(gold)}
        aterms = {t.norm for a in q["answers"] for t in tokenize(a)}
        parsed = Question.parse(text)
        toks = [t for t in tokenize(text) if len(t.norm) >= 3 and t.norm not in aterms
                and any(soft_match(t.norm, s) for s in sterms) and t.norm in vocab]
        if not toks:
            continue
        focus = [t for t in toks if t.norm == parsed.focus]
        tok = focus[0] if focus and rng.random() < 0.6 else rng.choice(toks)
        word = text[tok.start : tok.end]
        clitic, rest = _form(word)
        definite = stem(normalize(rest)) != normalize(rest)
        sims = V @ V[words.index(tok.norm)]
        picks = []
        for j in np.argsort(-sims)[1:200]:
            cand = vocab[words[j]]
            cn = words[j]
            if (stem(normalize(cand)) != normalize(cand)) != definite or soft_match(cn, tok.norm):
                continue
            if any(soft_match(cn, p) for p in pterms):
                continue
            picks.append(cand)
            if len(picks) == 5:
                break
        if not picks:
            continue
        new = clitic + rng.choice(picks)
        out.append({**q, "id": q["id"] + "-nm", "question": text[: tok.start] + new + text[tok.end :],
                    "answers": [], "kind": "near_miss", "changed": f"{word} -> {new}", "twin": q["id"]})
    return out


# --- rows ----------------------------------------------------------------------------------
def neutral_judge():
    """A judge that weighs nothing: every candidate logit 0, every probability 0.5."""
    from rag.answer.judge import FEATURES, QUESTION_FEATURES, Judge, Layer

    n, m = len(FEATURES), len(QUESTION_FEATURES)
    question = Layer(np.zeros(m), np.ones(m), np.zeros(m), 0.0, QUESTION_FEATURES)
    return Judge(np.zeros(n), np.ones(n), np.zeros(n), 0.0, threshold=0.0, closest=0.0, question=question)


RETRIEVAL = ("dense_gap", "dense_spread", "keyword_margin")  # the question layer's retrieval evidence


def retrieval_evidence(retrieved) -> dict[str, float]:
    """The RETRIEVAL fields of a ``Retrieved``, as rows record them."""
    return {k: getattr(retrieved, k) for k in RETRIEVAL}


def candidate_rows(sanad, answerer, q: dict) -> list[dict]:
    """The candidates of one question as the answerer reads them, with labels."""
    from rag.answer.question import Question
    from rag.evaluation.metrics import normalize_answer

    text = q["question"]
    retrieved = sanad.retrieve(text)
    parsed = Question.parse(text)
    sents = answerer.sentences(parsed, retrieved.hits)
    judged = answerer.judged(parsed, sents, retrieved) if sents else []
    from rag.evaluation.metrics import f1

    golds = [normalize_answer(a) for a in q["answers"] if normalize_answer(a)]
    rows = []
    for c in judged:
        sent = normalize_answer(c.sentence.text)
        # positive: the sentence holds a gold answer and the span gives it (F1 >= 0.5)
        label = int(q["kind"] == "answerable" and any(g in sent for g in golds) and f1(c.text, q["answers"]) >= 0.5)
        rows.append({"id": q["id"], "kind": q["kind"], "set": q["set"], "title": q["title"], "label": label,
                     "doc": c.sentence.hit.chunk.doc_id, "gold_doc": q["source"], "span": c.text,
                     **retrieval_evidence(retrieved),
                     **{k: (None if v != v else v) for k, v in c.evidence.items()}})
    return rows


def cmd_rows(args) -> None:
    qs = json.loads((args.work / "questions.json").read_text(encoding="utf-8"))
    paragraphs = {}
    with (args.work / "paragraphs.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            paragraphs[r["id"]] = r
    sanad = sanad_at(args.work)
    nm_path = args.work / "near_misses.json"
    if not nm_path.exists():
        nms = near_misses(qs, paragraphs, sanad.embedder.embed_query, args.near_miss_share)
        nm_path.write_text(json.dumps(nms, ensure_ascii=False, indent=0), encoding="utf-8")
    nms = json.loads(nm_path.read_text(encoding="utf-8"))
    absent_path = args.work / "absent.json"
    if not absent_path.exists():
        titles = {p["title"] for p in paragraphs.values()}
        absent_path.write_text(json.dumps(absent_questions(args.data, titles, args.absent), ensure_ascii=False),
                               encoding="utf-8")
    absent = json.loads(absent_path.read_text(encoding="utf-8"))
    allq = qs + nms + absent
    random.Random(3).shuffle(allq)
    if args.limit:
        allq = allq[: args.limit]
    out = args.work / "rows.jsonl"
    done = set()
    if out.exists():
        with out.open(encoding="utf-8") as fh:
            done = {json.loads(line)["id"] for line in fh if line.strip()}
    answerer = sanad.extractive_answerer(judge=neutral_judge(), threshold=0.0)
    todo = [q for q in allq if q["id"] not in done]
    print(f"{len(allq)} questions ({len(nms)} near misses), {len(todo)} to read", file=sys.stderr)
    t0 = time.perf_counter()
    with out.open("a", encoding="utf-8") as fh:
        for k, q in enumerate(todo, 1):
            try:
                rows = candidate_rows(sanad, answerer, q) or [{"id": q["id"], "kind": q["kind"], "empty": True}]
            except Exception as exc:  # a question the pipeline cannot read is reported, not trained on
                print(f"{q['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
                rows = [{"id": q["id"], "kind": q["kind"], "empty": True, "error": str(exc)}]
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            if k % 100 == 0:
                fh.flush()
                print(f"{k}/{len(todo)} {(time.perf_counter() - t0) / k:.2f} s a question", file=sys.stderr)


def cmd_retrieval(args) -> None:
    """Add the question layer's retrieval evidence to rows read before rows recorded it
    (WORK/retrieval.json, one retrieval per question, no reader pass)."""
    done = set(load_rows(args.work / "rows.jsonl"))
    qs = [q for name in ("questions.json", "near_misses.json", "absent.json")
          for q in json.loads((args.work / name).read_text(encoding="utf-8"))]
    sanad = sanad_at(args.work)
    out = {}
    for q in qs:
        if q["id"] in done:
            r = sanad.retrieve(q["question"])
            out[q["id"]] = retrieval_evidence(r)
    (args.work / "retrieval.json").write_text(json.dumps(out), encoding="utf-8")
    print(f"retrieval evidence of {len(out)} questions", file=sys.stderr)


def cmd_sample(args) -> None:
    nms = json.loads((args.work / "near_misses.json").read_text(encoding="utf-8"))
    for q in random.Random(5).sample(nms, min(args.n, len(nms))):
        print(f"{q['changed']:40s} | {q['question']}")


# --- fit -----------------------------------------------------------------------------------
def load_rows(path: Path) -> dict[str, list[dict]]:
    """Candidate rows by question id; retrieval evidence from WORK/retrieval.json where a row lacks it."""
    backfill = path.with_name("retrieval.json")
    extra = json.loads(backfill.read_text(encoding="utf-8")) if backfill.exists() else {}
    by_q: dict[str, list[dict]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if not r.get("empty"):
                if "dense_gap" not in r and r["id"] in extra:
                    r.update(extra[r["id"]])
                by_q.setdefault(r["id"], []).append(r)
    return by_q


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
    from rag.answer.judge import FEATURES, QUESTION_FEATURES, WEIGHTS_FILE, fit, fit_layer

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
