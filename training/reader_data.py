"""The reader's training data (training/reader.py trains on it): SQuAD-shaped sets read, split
by title into train / held-out / folds, each question turned into the windows the pipeline
reads (its sentence, a passage as Sanad stores it) with negatives from other articles."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
from pathlib import Path

from rag.chunking import chunk_article, split_sentences
from rag.lexicon import tokenize
from rag.records import Article


def _title_hash(title: str) -> int:
    return int(hashlib.sha256(title.encode("utf-8")).hexdigest()[:8], 16)


def held_out(title: str, share: float) -> bool:
    """Deterministic split of ARCD-train paragraphs by title."""
    return (_title_hash(title) % 10_000) < share * 10_000


def fold_of(title: str, folds: int) -> int:
    """Which of ``folds`` groups an ARCD-train title falls in (fold readers, ``--fold K/N``)."""
    return _title_hash(title) // 10_000 % folds


def parse_fold(text: str) -> tuple[int, int] | None:
    """'K/N' -> (K, N): hold out the ARCD-train titles of fold K of N instead of --dev-share."""
    if not text:
        return None
    k, n = (int(x) for x in text.split("/"))
    if not 0 <= k < n:
        raise SystemExit(f"--fold {text}: K must be in 0..N-1")
    return k, n


def split_spec(spec: str) -> tuple[str, int]:
    """'PATH' or 'PATH:CAP' (at most CAP questions of that file, a seeded sample)."""
    path, sep, cap = spec.rpartition(":")
    return (path, int(cap)) if sep and cap.isdigit() else (spec, 0)


def paragraph_chunks(title: str, context: str, max_chars: int):
    """The paragraph's chunks as the pipeline stores and reads them (``chunk_article``, one
    sentence of overlap): the windows of --passages, its retrieved negatives and its dev curve."""
    return chunk_article(Article(doc_id="p", title=title, text=context), max_chars, 1)


def squad_items(path: str, unanswerable: bool = False):
    """(title, context, question, answer, answer start) per question; with ``unanswerable``
    also the questions with no answer (SQuAD v2 ``is_impossible`` or no answers), as answer "" at -1."""
    raw = gzip.decompress(Path(path).read_bytes()) if str(path).endswith(".gz") else Path(path).read_bytes()
    data = json.loads(raw.decode("utf-8"))
    for art in data["data"]:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers") or []
                if answers:
                    ans = answers[0]
                    yield art.get("title", ""), para["context"], qa["question"], ans["text"], ans["answer_start"]
                elif unanswerable:
                    yield art.get("title", ""), para["context"], qa["question"], "", -1


def examples_for(context: str, question: str, answer: str, a0: int, rng: random.Random, windows_ctx: float,
                 negatives: float = 1.0):
    """(window text, answer start, answer end in the window) for the gold window and a hard negative."""
    if context[a0 : a0 + len(answer)] != answer:
        a0 = context.find(answer)
        if a0 < 0:
            return []
    a1 = a0 + len(answer)
    sents = split_sentences(context)
    if not sents:
        return []
    first = next((i for i, (s, e) in enumerate(sents) if s <= a0 < e or a0 < s), None)
    if first is None:
        return []
    last = first
    while last + 1 < len(sents) and sents[last][1] < a1:
        last += 1
    lo, hi = first, last
    if rng.random() < windows_ctx and lo > 0:
        lo -= 1
    if rng.random() < windows_ctx and hi + 1 < len(sents):
        hi += 1
    ws, we = sents[lo][0], sents[hi][1]
    out = [(context[ws:we], a0 - ws, a1 - ws)]
    # hard negative: the other sentence sharing most words with the question
    qterms = {t.norm for t in tokenize(question)}
    others = [(len(qterms & {t.norm for t in tokenize(context[s:e])}), rng.random(), s, e)
              for i, (s, e) in enumerate(sents) if not (first <= i <= last) and not (s <= a0 < e)]
    if others and rng.random() < negatives:
        _, _, s, e = max(others)
        if answer not in context[s:e]:
            out.append((context[s:e], -1, -1))
    return out


def passage_examples(title: str, context: str, question: str, answer: str, a0: int, rng: random.Random,
                     max_chars: int, negatives: float = 1.0):
    """(window, answer start, end in the window) over the paragraph's chunks, as the pipeline
    stores and reads them (``chunk_article``): the chunk holding the answer is a positive, each
    other chunk a "no answer" window with chance ``negatives``; every chunk of an unanswerable
    question (``a0 < 0``) is a "no answer" window."""
    if a0 >= 0 and context[a0 : a0 + len(answer)] != answer:
        a0 = context.find(answer)
        if a0 < 0:
            return []
    a1 = a0 + len(answer)
    out = []
    for c in paragraph_chunks(title, context, max_chars):
        if a0 >= 0 and c.start <= a0 and a1 <= c.end:
            out.append((c.text, a0 - c.start, a1 - c.start))
        elif a0 < 0 or (not (c.start < a1 and a0 < c.end) and answer not in c.text and rng.random() < negatives):
            out.append((c.text, -1, -1))  # a chunk cutting the answer is neither
    if a0 >= 0 and not any(e >= 0 for _, e, _ in out):
        return []  # the answer in no one chunk (a sentence cut): no positive, so no negatives either
    return out


class NegativePool:
    """The sentences of some paragraphs, to find for a question the sentence of *another*
    article that shares the most (idf-weighted) words with it: a "retrieved negative". At run
    time the reader also reads sentences of articles a question is not about, and its margin
    chooses between them and feeds the refusal model; the same-paragraph hard negatives alone
    never show it such sentences."""

    def __init__(self, paragraphs: list[tuple[str, str]], max_chars: int = 0):
        """Sentences, or with ``max_chars`` chunks of at most that many characters (passage windows)."""
        self.sents: list[tuple[str, str]] = []  # (title, sentence or chunk)
        index: dict[str, list[int]] = {}
        for title, context in paragraphs:
            if max_chars:
                units = [(c.start, c.end) for c in paragraph_chunks(title, context, max_chars)]
            else:
                units = split_sentences(context)
            for s, e in units:
                sid = len(self.sents)
                self.sents.append((title, context[s:e]))
                for term in {t.norm for t in tokenize(context[s:e])}:
                    index.setdefault(term, []).append(sid)
        n = max(len(self.sents), 1)
        self.index = index
        self.idf = {t: math.log(1 + n / len(ids)) for t, ids in index.items()}

    def best(self, question: str, title: str, answer: str) -> str | None:
        """The best-matching sentence of an article other than ``title`` that lacks ``answer``."""
        score: dict[int, float] = {}
        for term in {t.norm for t in tokenize(question)}:
            for sid in self.index.get(term, ()):
                score[sid] = score.get(sid, 0.0) + self.idf[term]
        for sid in sorted(score, key=lambda k: (-score[k], k)):
            other_title, text = self.sents[sid]
            if other_title != title and answer not in text:
                return text
        return None


def best_sentence(context: str, question: str) -> str | None:
    """The sentence of ``context`` sharing most words with ``question``: what a reader would be
    shown for a question the paragraph does not answer."""
    qterms = {t.norm for t in tokenize(question)}
    scored = [(len(qterms & {t.norm for t in tokenize(context[s:e])}), -s, context[s:e])
              for s, e in split_sentences(context) if e - s > 15]
    return max(scored)[2] if scored else None


def build_examples(paths: list[str], dev_share: float, seed: int, windows_ctx: float, negatives: float, cap: int,
                   fold: tuple[int, int] | None = None, retrieved: float = 0.0, passage_chars: int = 0,
                   near_misses: float = 0.0):
    """Training windows (question, window, answer start, end; -1 for none) and the dev
    questions. A path may be 'PATH:CAP' (its own cap; ``cap`` for the others). ``retrieved``:
    the chance per question of a retrieved negative (NegativePool), drawn from the training
    paragraphs of the same file only. ``passage_chars``: windows are the paragraph's chunks of
    at most that many characters (``passage_examples``), and unanswerable questions train
    "no answer"; 0: the sentence windows of ``examples_for``. ``near_misses``: the chance per
    answerable question of its near-miss twin (training/near_misses.py) asked against the same
    window as a "no answer" example; with it, sentence windows also train unanswerable questions
    (the paragraph's best-matching sentence, "no answer")."""
    rng = random.Random(seed)
    train, dev = [], []
    loaded = []
    for spec in paths:
        path, own_cap = split_spec(spec)
        if "arcd-test" in Path(path).name:
            raise SystemExit("ARCD-test is the measure: it is never trained on")
        loaded.append((path, own_cap, list(squad_items(path, unanswerable=bool(passage_chars or near_misses)))))
    changer = None
    if near_misses:
        from rag.answer.question import Question
        from training.near_misses import NearMisses

        texts = {c: None for *_, items in loaded for _, c, *_ in items}
        changer = NearMisses(list(texts) + [q for *_, items in loaded for _, _, q, *_ in items])
    for path, own_cap, items in loaded:
        arcd = "arcd" in Path(path).name
        limit = own_cap or cap
        if limit and len(items) > limit:
            items = random.Random(seed).sample(items, limit)
        kept = []
        for title, context, q, ans, a0 in items:
            if arcd and (fold_of(title, fold[1]) == fold[0] if fold else held_out(title, dev_share)):
                dev.append((title, context, q, ans, a0))
            else:
                kept.append((title, context, q, ans, a0))
        pool = NegativePool(list(dict.fromkeys((t, c) for t, c, *_ in kept)), passage_chars) if retrieved else None
        for title, context, q, ans, a0 in kept:
            if passage_chars:
                windows = passage_examples(title, context, q, ans, a0, rng, passage_chars, negatives)
            elif a0 < 0:
                best = best_sentence(context, q)
                windows = [(best, -1, -1)] if best else []
            else:
                windows = examples_for(context, q, ans, a0, rng, windows_ctx, negatives)
            for w, s, e in windows:
                train.append((q, w, s, e))
            if changer is not None and a0 >= 0 and windows and windows[0][1] >= 0 and rng.random() < near_misses:
                parsed = Question.parse(q)
                made = changer.make(q, context + " " + title, ans, rng, {parsed.focus} if parsed.focus else set(),
                                    window=windows[0][0])
                if made:
                    train.append((made[0], windows[0][0], -1, -1))
            if pool is not None and rng.random() < retrieved:
                neg = pool.best(q, title, ans or "\0")
                if neg is not None:
                    train.append((q, neg, -1, -1))
    return train, dev
