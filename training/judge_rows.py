"""The judge's training rows (training/judge.py fits on them): the question sets, their one
index, generated near misses and absent-title questions, and each question's candidates as the
answerer reads them at run time, with the judge's evidence (``index``, ``rows``, ``retrieval``,
``sample``; the module docstring of training/judge.py says what each set is)."""


from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from training.near_misses import _form  # one clitic split for both near-miss makers

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
