"""The span ranker of the rules path (``reader = false``): every run of 1..MAX_SPAN_WORDS words
of the sentence (and the whole sentence) is a candidate; a linear model scores each from
features of its place next to the question's words (``candidates``), with one weight vector
shared by all questions and one per question type. The weights in ``span_weights.json`` were
fitted on ARCD-train by ``bench/train_spans.py`` (rerun it to refit); nothing here needs the
data at run time. ``extract_span`` is the rules path's span: a rule where one applies, else
the ranker's best candidate."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rag.answer.linear import LinearModel
from rag.answer.question import AMOUNT, AMOUNT_WORDS, DATE, Question
from rag.answer.span_rules import (
    BREAK,
    RULE_TYPES,
    counted_span,
    measured_span,
    quoted_span,
    rule_span,
    rule_span_at,
    said_span,
    tidy,
)
from rag.normalize import STOPWORDS, Token, normalize, soft_match, tokenize

MAX_SPAN_WORDS = 12
_LOCATIVE = frozenset(normalize(w) for w in "في إلى الى من داخل قرب شمال جنوب شرق غرب وسط بمدينة مدينة".split())
_COPULA = frozenset(normalize(w) for w in "هو هي هم وهو وهي وهم كان كانت يدعى تدعى اسمه اسمها وهما".split())
WEIGHTS_FILE = Path(__file__).with_name("span_weights.json")

FEATURES = (
    "bias", "len1", "len2", "len3", "len4_5", "len6_8", "len9_", "whole", "len_frac", "start_stop", "end_stop", "inner_breaks",
    "left_matched", "left_matched_over_stop", "right_matched", "right_matched_over_stop",
    "near", "break_left", "break_right", "sent_start", "sent_end", "rarity", "digits",
    "date_exact", "date_share", "amount_exact", "amount_share", "locative_before", "al_start",
    "cluster_left", "cluster_right", "position", "copula_before", "latin_share",
    "stop_before", "stop_after", "wa_start", "wa_after", "wa_inside", "maximal_run",
    "rule_exact", "rule_overlap",
)
_F = {name: i for i, name in enumerate(FEATURES)}


@dataclass
class Candidates:
    """Candidate spans of one sentence: token ranges, character offsets and features."""

    bounds: list[tuple[int, int]]  # character offsets into the sentence
    X: np.ndarray  # (n, len(FEATURES))


def candidates(q: Question, text: str, idf: Callable[[str], float] | None = None) -> Candidates:
    toks: list[Token] = tokenize(text, keep_stopwords=True)
    n = len(toks)
    if n == 0:
        return Candidates([], np.zeros((0, len(FEATURES))))
    qset = set(q.terms)
    raw = [normalize(text[t.start : t.end]) for t in toks]
    m = np.array([any(soft_match(t.norm, term, prepositions=False) for term in qset) for t in toks], dtype=bool)
    st = np.array([r in STOPWORDS for r in raw], dtype=bool)
    brk = np.array([i > 0 and bool(BREAK.search(text[toks[i - 1].end : toks[i].start])) for i in range(n)])
    top = idf("\uffff\uffff") if idf else 1.0  # an unseen term: the largest idf
    rar = np.array([0.0 if s else (min(idf(t.norm) / top, 1.0) if idf else 0.5) for t, s in zip(toks, st)])
    dig = np.array([any(c.isdigit() for c in r) for r in raw])
    latin = np.array([any("a" <= c <= "z" for c in r) for r in raw])
    al = np.array([r.startswith("ال") or r.startswith("وال") for r in raw])

    def marks(*patterns: re.Pattern) -> tuple[np.ndarray, set[tuple[int, int]]]:
        inside = np.zeros(n, dtype=bool)
        exact = set()
        for mt in (mt for p in patterns for mt in p.finditer(text)):
            idx = [i for i, t in enumerate(toks) if t.start >= mt.start() and t.end <= mt.end()]
            if idx:
                inside[idx] = True
                exact.add((idx[0], idx[-1]))
        return inside, exact

    date_in, date_exact = marks(DATE)
    amount_in, amount_exact = marks(AMOUNT, AMOUNT_WORDS)

    # size of the matched cluster ending at / starting from each token (stop words bridge)
    def cluster(start: int, step: int) -> float:
        k, size, gap = start, 0, 0
        while 0 <= k < n:
            if m[k]:
                size, gap = size + 1, 0
            elif st[k] and gap == 0 and size > 0:
                gap = 1
            else:
                break
            k += step
        return math.log1p(size)

    cum_m = np.concatenate([[0], np.cumsum(m)])
    cum_brk = np.concatenate([[0], np.cumsum(brk)])
    cum_rar = np.concatenate([[0], np.cumsum(rar)])
    cum_content = np.concatenate([[0], np.cumsum(~st)])
    cum_date = np.concatenate([[0], np.cumsum(date_in)])
    cum_amount = np.concatenate([[0], np.cumsum(amount_in)])
    cum_dig = np.concatenate([[0], np.cumsum(dig)])
    cum_latin = np.concatenate([[0], np.cumsum(latin)])
    left_cluster = [cluster(a - 1, -1) if a > 0 else 0.0 for a in range(n)]
    right_cluster = [cluster(b + 1, 1) if b + 1 < n else 0.0 for b in range(n)]

    ranges = [(a, b) for a in range(n) for b in range(a, min(n, a + MAX_SPAN_WORDS))]
    if n > MAX_SPAN_WORDS:
        ranges.append((0, n - 1))
    A = np.array([r[0] for r in ranges])
    B = np.array([r[1] for r in ranges])
    K = B - A + 1
    # nearest matched token before each position / after each position (for "near")
    idx = np.arange(n)
    prev_m = np.maximum.accumulate(np.where(m, idx, -10**6))
    next_m = np.minimum.accumulate(np.where(m, idx, 10**6)[::-1])[::-1]
    pad = lambda arr, fill: np.concatenate([[fill], arr, [fill]])  # noqa: E731  (index -1 and n)
    m_p, st_p, brk_p = pad(m, False), pad(st, False), pad(brk, False)
    prev_p, next_p = pad(prev_m, -10**6), pad(next_m, 10**6)
    raw_p = ["", *raw, ""]
    X = np.zeros((len(ranges), len(FEATURES)))
    col = lambda name: X[:, _F[name]]  # noqa: E731
    col("bias")[:] = 1.0
    whole = K > MAX_SPAN_WORDS
    col("whole")[:] = whole
    for name, lo, hi in (("len1", 1, 1), ("len2", 2, 2), ("len3", 3, 3), ("len4_5", 4, 5), ("len6_8", 6, 8),
                         ("len9_", 9, MAX_SPAN_WORDS)):
        col(name)[:] = (K >= lo) & (K <= hi)
    col("len_frac")[:] = K / n
    nm = cum_m[B + 1] - cum_m[A]
    col("start_stop")[:] = st[A]
    col("end_stop")[:] = st[B]
    col("inner_breaks")[:] = np.minimum(cum_brk[B + 1] - cum_brk[A + 1], 2) / 2
    # padded arrays: position i of the text is i + 1
    col("left_matched")[:] = m_p[A]
    col("left_matched_over_stop")[:] = st_p[A] & m_p[np.maximum(A - 1, 0)]
    col("right_matched")[:] = m_p[B + 2]
    col("right_matched_over_stop")[:] = st_p[B + 2] & m_p[np.minimum(B + 3, n + 1)]
    d = np.minimum(A - prev_p[A], next_p[B + 2] - B)
    col("near")[:] = np.where(d < n + 1, np.exp(-(d - 1) / 3), 0.0)
    col("break_left")[:] = (A == 0) | brk[A]
    col("break_right")[:] = (B == n - 1) | brk_p[B + 2]
    col("sent_start")[:] = A == 0
    col("sent_end")[:] = B == n - 1
    content = cum_content[B + 1] - cum_content[A]
    col("rarity")[:] = np.where(content > 0, (cum_rar[B + 1] - cum_rar[A]) / np.maximum(content, 1), 0.0)
    col("digits")[:] = cum_dig[B + 1] - cum_dig[A] > 0
    col("date_exact")[:] = [r in date_exact for r in ranges]
    col("date_share")[:] = (cum_date[B + 1] - cum_date[A]) / K
    col("amount_exact")[:] = [r in amount_exact for r in ranges]
    col("amount_share")[:] = (cum_amount[B + 1] - cum_amount[A]) / K
    locative = np.array([raw_p[i] in _LOCATIVE for i in range(n + 2)])
    b_prefix = np.array([r[:1] == "ب" for r in raw]) & ~st
    col("locative_before")[:] = locative[A] | b_prefix[A]
    col("al_start")[:] = al[A]
    col("cluster_left")[:] = np.array(left_cluster)[A]
    col("cluster_right")[:] = np.array(right_cluster)[B]
    col("position")[:] = A / n
    copula = np.array([raw_p[i] in _COPULA for i in range(n + 2)])
    col("copula_before")[:] = copula[A]
    col("latin_share")[:] = (cum_latin[B + 1] - cum_latin[A]) / K
    col("stop_before")[:] = st_p[A]
    col("stop_after")[:] = st_p[B + 2]
    wa = np.array([r[:1] in ("و", "ف") and len(r) > 3 for r in raw]) & ~st
    wa_p = pad(wa, False)
    cum_wa = np.concatenate([[0], np.cumsum(wa)])
    col("wa_start")[:] = wa[A]
    col("wa_after")[:] = wa_p[B + 2]
    col("wa_inside")[:] = (cum_wa[B + 1] - cum_wa[A + 1]) / K
    # a whole run of unmatched content words between matched words, stop words or punctuation
    edge = m | st
    edge_p = pad(edge, True)
    col("maximal_run")[:] = (edge_p[A] | brk[A]) & (edge_p[B + 2] | brk_p[B + 2]) & (nm == 0) & (
        cum_content[B + 1] - cum_content[A] == K
    )
    # an answer does not repeat the question: spans holding its words are dropped,
    keep = ((nm == 0) & ~st[A] & ~st[B]) | whole  # nor starts or ends with a stop word
    X, A, B, K = X[keep], A[keep], B[keep], K[keep]
    ranges = [r for r, k in zip(ranges, keep) if k]
    bounds = [(toks[a].start, toks[b].end) for a, b in ranges]
    rule = rule_span_at(q.type, text, toks, m.tolist(), st.tolist(), idf)
    if rule is not None:
        inside = np.array([t.start >= rule[0] and t.end <= rule[1] for t in toks])
        cum_rule = np.concatenate([[0], np.cumsum(inside)])
        got = cum_rule[B + 1] - cum_rule[A]
        X[:, _F["rule_exact"]] = [bd == rule for bd in bounds]
        X[:, _F["rule_overlap"]] = 2 * got / (K + inside.sum())  # Dice overlap with the rule's span
    return Candidates(bounds, X)


def extract_span(q: Question, text: str, idf: Callable[[str], float] | None = None) -> tuple[int, int] | None:
    """The answer span of ``text`` (offsets into it, ``tidy``), or None for "use the sentence"."""
    span = _extract_span(q, text, idf)
    return None if span is None else tidy(text, span)


def _extract_span(q: Question, text: str, idf: Callable[[str], float] | None = None) -> tuple[int, int] | None:
    """``extract_span`` before ``tidy``.

    «Who» questions keep the rule: in news they ask for the name beside a role («الوزير
    فلان»), which the rule's apposition handling finds, while ARCD's Wikipedia «who»
    questions mostly ask for a description; the learned ranker would trade the former for
    the latter (0.01 of ARCD-train F1 given up: 0.295 instead of 0.306)."""
    qtype = q.type
    if qtype == "yesno":
        return None  # an offline extractor cannot say yes or no: the sentence is the answer
    if qtype in RULE_TYPES:
        return rule_span(q, text, idf)
    if q.asks_name:
        quoted = quoted_span(list(q.terms), text)
        if quoted is not None:
            return quoted
    if q.asks_what_was_said:
        said = said_span(text)
        if said is not None:
            return said
    wanted = q.measure
    if wanted is not None and wanted.search(text):
        return measured_span(wanted, list(q.terms), text)
    if qtype == "howmany":
        counted = counted_span(q, text)
        if counted is not None:
            return counted
    cands = candidates(q, text, idf)
    if not cands.bounds:
        return None
    best = int(np.argmax(cands.X @ LinearModel.load(WEIGHTS_FILE, FEATURES).weights(qtype)))
    return None if cands.X[best, _F["whole"]] else cands.bounds[best]
