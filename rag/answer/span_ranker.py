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


@dataclass
class _Tokens:
    """Per-token facts of one sentence that the span features are computed from."""

    text: str
    toks: list[Token]
    raw: list[str]  # normalized surface forms
    m: np.ndarray  # matches a question term
    st: np.ndarray  # stop word
    brk: np.ndarray  # punctuation before the token
    rar: np.ndarray  # idf share (0 for stop words)
    dig: np.ndarray
    latin: np.ndarray
    al: np.ndarray  # starts with ال / وال
    date_in: np.ndarray
    date_exact: set[tuple[int, int]]
    amount_in: np.ndarray
    amount_exact: set[tuple[int, int]]

    @property
    def n(self) -> int:
        return len(self.toks)


def _cum(a: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(a)])


def _pad(arr, fill) -> np.ndarray:
    """Index -1 and n made valid: position i of the sentence is i + 1."""
    return np.concatenate([[fill], arr, [fill]])


def _tokens(q: Question, text: str, idf: Callable[[str], float] | None) -> _Tokens | None:
    toks: list[Token] = tokenize(text, keep_stopwords=True)
    n = len(toks)
    if n == 0:
        return None
    qset = set(q.terms)
    raw = [normalize(text[t.start : t.end]) for t in toks]
    m = np.array([any(soft_match(t.norm, term, prepositions=False) for term in qset) for t in toks], dtype=bool)
    st = np.array([r in STOPWORDS for r in raw], dtype=bool)
    brk = np.array([i > 0 and bool(BREAK.search(text[toks[i - 1].end : toks[i].start])) for i in range(n)])
    top = idf("\uffff\uffff") if idf else 1.0  # an unseen term: the largest idf
    rar = np.array([0.0 if s else (min(idf(t.norm) / top, 1.0) if idf else 0.5) for t, s in zip(toks, st)])

    def marks(*patterns: re.Pattern) -> tuple[np.ndarray, set[tuple[int, int]]]:
        inside = np.zeros(n, dtype=bool)
        exact = set()
        for mt in (mt for p in patterns for mt in p.finditer(text)):
            idx = [i for i, t in enumerate(toks) if t.start >= mt.start() and t.end <= mt.end()]
            if idx:
                inside[idx] = True
                exact.add((idx[0], idx[-1]))
        return inside, exact

    return _Tokens(
        text, toks, raw, m, st, brk, rar,
        dig=np.array([any(c.isdigit() for c in r) for r in raw]),
        latin=np.array([any("a" <= c <= "z" for c in r) for r in raw]),
        al=np.array([r.startswith("ال") or r.startswith("وال") for r in raw]),
        date_in=(d := marks(DATE))[0], date_exact=d[1],
        amount_in=(am := marks(AMOUNT, AMOUNT_WORDS))[0], amount_exact=am[1],
    )


def _clusters(tk: _Tokens) -> tuple[np.ndarray, np.ndarray]:
    """log(1 + size) of the matched cluster ending just before / starting just after each
    token (a single stop word bridges)."""
    n, m, st = tk.n, tk.m, tk.st

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

    left = np.array([cluster(a - 1, -1) if a > 0 else 0.0 for a in range(n)])
    right = np.array([cluster(b + 1, 1) if b + 1 < n else 0.0 for b in range(n)])
    return left, right


def _shape_features(X: np.ndarray, tk: _Tokens, A: np.ndarray, B: np.ndarray, K: np.ndarray) -> None:
    """Length, edges, punctuation and position of each span."""
    n, st = tk.n, tk.st
    col = lambda name: X[:, _F[name]]  # noqa: E731
    col("bias")[:] = 1.0
    col("whole")[:] = K > MAX_SPAN_WORDS
    for name, lo, hi in (("len1", 1, 1), ("len2", 2, 2), ("len3", 3, 3), ("len4_5", 4, 5), ("len6_8", 6, 8),
                         ("len9_", 9, MAX_SPAN_WORDS)):
        col(name)[:] = (K >= lo) & (K <= hi)
    col("len_frac")[:] = K / n
    col("start_stop")[:] = st[A]
    col("end_stop")[:] = st[B]
    cum_brk = _cum(tk.brk)
    col("inner_breaks")[:] = np.minimum(cum_brk[B + 1] - cum_brk[A + 1], 2) / 2
    brk_p, st_p = _pad(tk.brk, False), _pad(st, False)
    col("break_left")[:] = (A == 0) | tk.brk[A]
    col("break_right")[:] = (B == n - 1) | brk_p[B + 2]
    col("sent_start")[:] = A == 0
    col("sent_end")[:] = B == n - 1
    col("position")[:] = A / n
    col("stop_before")[:] = st_p[A]
    col("stop_after")[:] = st_p[B + 2]


def _question_features(X: np.ndarray, tk: _Tokens, A: np.ndarray, B: np.ndarray, K: np.ndarray) -> None:
    """Where each span sits next to the question's words."""
    n, m, st = tk.n, tk.m, tk.st
    col = lambda name: X[:, _F[name]]  # noqa: E731
    m_p, st_p, brk_p = _pad(m, False), _pad(st, False), _pad(tk.brk, False)
    col("left_matched")[:] = m_p[A]
    col("left_matched_over_stop")[:] = st_p[A] & m_p[np.maximum(A - 1, 0)]
    col("right_matched")[:] = m_p[B + 2]
    col("right_matched_over_stop")[:] = st_p[B + 2] & m_p[np.minimum(B + 3, n + 1)]
    # nearest matched token before each position / after each position
    idx = np.arange(n)
    prev_p = _pad(np.maximum.accumulate(np.where(m, idx, -10**6)), -10**6)
    next_p = _pad(np.minimum.accumulate(np.where(m, idx, 10**6)[::-1])[::-1], 10**6)
    d = np.minimum(A - prev_p[A], next_p[B + 2] - B)
    col("near")[:] = np.where(d < n + 1, np.exp(-(d - 1) / 3), 0.0)
    left, right = _clusters(tk)
    col("cluster_left")[:] = left[A]
    col("cluster_right")[:] = right[B]
    # a whole run of unmatched content words between matched words, stop words or punctuation
    cum_m, cum_content = _cum(m), _cum(~st)
    edge_p = _pad(m | st, True)
    col("maximal_run")[:] = (edge_p[A] | tk.brk[A]) & (edge_p[B + 2] | brk_p[B + 2]) & (cum_m[B + 1] - cum_m[A] == 0) & (
        cum_content[B + 1] - cum_content[A] == K
    )


def _content_features(X: np.ndarray, tk: _Tokens, A: np.ndarray, B: np.ndarray, K: np.ndarray, ranges) -> None:
    """What each span holds: rare words, digits, dates, amounts, Latin, what precedes it."""
    n, st, raw = tk.n, tk.st, tk.raw
    col = lambda name: X[:, _F[name]]  # noqa: E731
    cum_content, cum_rar = _cum(~st), _cum(tk.rar)
    content = cum_content[B + 1] - cum_content[A]
    col("rarity")[:] = np.where(content > 0, (cum_rar[B + 1] - cum_rar[A]) / np.maximum(content, 1), 0.0)
    cum_dig, cum_date, cum_amount, cum_latin = _cum(tk.dig), _cum(tk.date_in), _cum(tk.amount_in), _cum(tk.latin)
    col("digits")[:] = cum_dig[B + 1] - cum_dig[A] > 0
    col("date_exact")[:] = [r in tk.date_exact for r in ranges]
    col("date_share")[:] = (cum_date[B + 1] - cum_date[A]) / K
    col("amount_exact")[:] = [r in tk.amount_exact for r in ranges]
    col("amount_share")[:] = (cum_amount[B + 1] - cum_amount[A]) / K
    raw_p = ["", *raw, ""]
    locative = np.array([raw_p[i] in _LOCATIVE for i in range(n + 2)])
    b_prefix = np.array([r[:1] == "ب" for r in raw]) & ~st
    col("locative_before")[:] = locative[A] | b_prefix[A]
    col("al_start")[:] = tk.al[A]
    copula = np.array([raw_p[i] in _COPULA for i in range(n + 2)])
    col("copula_before")[:] = copula[A]
    col("latin_share")[:] = (cum_latin[B + 1] - cum_latin[A]) / K
    wa = np.array([r[:1] in ("و", "ف") and len(r) > 3 for r in raw]) & ~st
    cum_wa = _cum(wa)
    col("wa_start")[:] = wa[A]
    col("wa_after")[:] = _pad(wa, False)[B + 2]
    col("wa_inside")[:] = (cum_wa[B + 1] - cum_wa[A + 1]) / K


def candidates(q: Question, text: str, idf: Callable[[str], float] | None = None) -> Candidates:
    """Every run of 1..MAX_SPAN_WORDS words (and the whole sentence) that does not repeat the
    question nor start or end with a stop word, with its features."""
    tk = _tokens(q, text, idf)
    if tk is None:
        return Candidates([], np.zeros((0, len(FEATURES))))
    n = tk.n
    ranges = [(a, b) for a in range(n) for b in range(a, min(n, a + MAX_SPAN_WORDS))]
    if n > MAX_SPAN_WORDS:
        ranges.append((0, n - 1))
    A = np.array([r[0] for r in ranges])
    B = np.array([r[1] for r in ranges])
    K = B - A + 1
    X = np.zeros((len(ranges), len(FEATURES)))
    _shape_features(X, tk, A, B, K)
    _question_features(X, tk, A, B, K)
    _content_features(X, tk, A, B, K, ranges)
    cum_m = _cum(tk.m)
    nm = cum_m[B + 1] - cum_m[A]
    # an answer does not repeat the question: spans holding its words are dropped,
    keep = ((nm == 0) & ~tk.st[A] & ~tk.st[B]) | (K > MAX_SPAN_WORDS)  # nor starts or ends with a stop word
    X, A, B, K = X[keep], A[keep], B[keep], K[keep]
    bounds = [(tk.toks[a].start, tk.toks[b].end) for (a, b), k in zip(ranges, keep) if k]
    rule = rule_span_at(q.type, text, tk.toks, tk.m.tolist(), tk.st.tolist(), idf)
    if rule is not None:
        inside = np.array([t.start >= rule[0] and t.end <= rule[1] for t in tk.toks])
        cum_rule = _cum(inside)
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
