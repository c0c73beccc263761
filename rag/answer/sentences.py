"""Sentence ranking: the cheap first cut of the sentences the reader reads and the judge
weighs (rag/answer/judge.py).

Every sentence of every retrieved chunk is a candidate, scored by how much of the question
it covers (idf-weighted, the asked-about term weighted up, the article's title as context),
its chunk's retrieval rank, and whether it has what the question type asks for (a date, an
amount). Its best few go on; the judge, not this score, chooses among them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from rag.answer.question import AMOUNT, DATE, Question
from rag.answer.varieties import dialect_variants
from rag.chunking import split_sentences
from rag.lexicon import tokenize
from rag.normalize import soft_keys, soft_match
from rag.records import Hit

CONTEXT_CREDIT = 0.5  # a question term found only in the article's title
FOCUS_WEIGHT = 3.0  # the noun a «من هو X» / «ما هي X» question asks about
RANK_WEIGHT = 0.3  # how much the chunk's retrieval rank adds to the sentence's coverage
TYPE_BONUS = 0.15  # a when / how-many question wants a sentence with a date / an amount
HEADLINE_PENALTY = 0.1  # a headline line supports an answer but rarely holds it
_ENDS_SENTENCE = re.compile(r"[.!?؟…][\"'»”)\]]*$")


@dataclass(frozen=True)
class Sentence:
    hit: Hit
    start: int  # article offsets
    end: int
    text: str
    coverage: float  # idf-weighted share of question terms found in the sentence
    score: float


class Matcher:
    """Which words of a vocabulary match each question term softly (rag.normalize.soft_match),
    worked out once per question and vocabulary instead of once per sentence. With
    ``dialect``, a term that matches no word is tried again without a dialect verb's
    tense/aspect prefix and negation suffix («هيعيد» -> «يعيد», «قدرش» -> «قدر»;
    rag/answer/varieties.py)."""

    def __init__(self, qterms: list[str], vocabulary: set[str], dialect: bool = False):
        by_key: dict[str, list[str]] = {}
        for v in vocabulary:
            for k in soft_keys(v):
                by_key.setdefault(k, []).append(v)

        def soft(q: str) -> frozenset[str]:
            return frozenset(v for k in soft_keys(q) for v in by_key.get(k, ()) if soft_match(q, v))

        self.soft = {q: soft(q) for q in qterms}
        if dialect:
            for q in qterms:
                if q not in vocabulary and not self.soft[q]:
                    for bare in dialect_variants(q):
                        found = ({bare} & vocabulary) | soft(bare)
                        if found:
                            self.soft[q] = frozenset(found)
                            break

    def exact_or_soft(self, term: str, terms: frozenset[str]) -> float:
        if term in terms:
            return 1.0
        return 0.8 if not self.soft[term].isdisjoint(terms) else 0.0


def term_weights(qterms: list[str], idf: Callable[[str], float], focus: str | None = None) -> dict[str, float]:
    """idf of each question term; the ``focus`` term counts FOCUS_WEIGHT times."""
    return {t: idf(t) * (FOCUS_WEIGHT if t == focus else 1.0) for t in qterms}


def coverage(
    weights: dict[str, float],
    sterms: frozenset[str],
    match: Matcher,
    context: frozenset[str] = frozenset(),
) -> float:
    """Weighted share of the question's terms (``term_weights``) found in a sentence (a soft
    match counts 0.8); a term found only in the ``context`` (the article's title, which
    every sentence implicitly refers to) earns CONTEXT_CREDIT."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    got = 0.0
    for t, w in weights.items():
        found = match.exact_or_soft(t, sterms)
        if not found and context and match.exact_or_soft(t, context):
            found = CONTEXT_CREDIT
        got += found * w
    return got / total


@lru_cache(maxsize=65536)
def term_set(text: str) -> frozenset[str]:
    """Matching terms of a sentence or title (cached: the same sentences come back often)."""
    return frozenset(t.norm for t in tokenize(text))


def rank_sentences(q: Question, hits: list[Hit], idf: Callable[[str], float]) -> list[Sentence]:
    """Every sentence of ``hits``, best first."""
    qterms, focus, wanted = list(q.terms), q.focus, q.measure
    patterns = (wanted,) if wanted else {"when": (DATE,), "howmany": (AMOUNT,)}.get(q.type, ())
    top = hits[0].score if hits else 0.0
    spans = [(hit, s, e) for hit in hits for s, e in split_sentences(hit.chunk.text)]
    vocabulary = set().union(
        *(term_set(h.chunk.text[s:e]) for h, s, e in spans), *(term_set(h.chunk.title) for h in hits)
    )
    match = Matcher(qterms, vocabulary, dialect=q.variety == "dialect")
    plain, focused = term_weights(qterms, idf), term_weights(qterms, idf, focus)
    out = []
    for hit, s, e in spans:
        c = hit.chunk
        rank = hit.score - top  # <= 0; favours sentences of better chunks
        text = c.text[s:e]
        sterms = term_set(text)
        cov = coverage(plain, sterms, match, term_set(c.title))  # evidence, for abstention
        score = coverage(focused, sterms, match, term_set(c.title)) + RANK_WEIGHT * rank
        if any(p.search(text) for p in patterns):
            score += TYPE_BONUS
        if not _ENDS_SENTENCE.search(text):
            score -= HEADLINE_PENALTY
        out.append(Sentence(hit, c.start + s, c.start + e, text, cov, score))
    out.sort(key=lambda x: -x.score)
    return out
