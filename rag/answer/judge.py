"""The judge: one trained model that chooses the sentence to answer from and gives the
probability that the passages answer the question, which decides the band.

The hand ranking of rag/answer/sentences.py is only the cheap first cut: its best
``candidates`` distinct sentences are read by the trained reader (rag/answer/reader.py). The
judge has two logistic layers, fitted together from one set of training questions
(``training/judge.py``) and kept in one file:

- the **candidate layer** reads the evidence of each (question, sentence) pair below and gives
  a logit: how likely this sentence states the answer. The highest one is answered from;
- the **question layer** reads that best logit, its lead over the next candidate's and how far
  the best passage stands out in dense and keyword search (``QUESTION_FEATURES``), and gives the
  probability that the passages answer the question: the answer's confidence, which decides
  the band (``band``): an answer, "the closest I found", or a refusal.

The evidence of one (question, sentence) pair (``FEATURES``):

- ``margin``, ``null``: the reader's best span score over its "no answer here" score, and that
  null score itself (the reader's own judgement of the pair);
- ``cover``: the idf-weighted share of the question's terms the sentence holds (the title at
  half credit; rag/answer/sentences.py);
- ``cover_ctx``: the same over the sentence, its passage and the article's title: what the
  article around the sentence states;
- ``missing``: the largest idf, as a share of the question's total, of a question term that
  neither the sentence, nor its passage, nor the title holds (matched through normalization,
  the article, clitics and suffixes). A near miss («وزير الخارجية» asked, «وزير الداخلية»
  written) has one rare term missing where an answerable question has none;
- ``slot_missing``: the term the question asks about (its focus, «الخارجية» of «من هو وزير
  الخارجية؟», the counted noun of «كم هدفاً») is not stated there;
- ``dense``: the passage's cosine with the question (raw: margins over other passages shrink
  as an archive grows, a cosine does not);
- ``keyword``: the passage's BM25 score over the question's total idf;
- ``rank``, ``sentence_rank``: the passage's place in retrieval, the sentence's in the first cut;
- ``span_kind``: the reader's span is of the kind asked for (a date for «متى», a number for «كم»,
  the measure named: a percentage, a duration), 0.5 where the question names no kind;
- ``span_echo``: the share of the span's words that are the question's own (an answer that
  repeats the question answers nothing); ``span_words``: how long the span is (log words).

The word-matching evidence and the cosine (``LEXICAL``) are unknown for an English question over
Arabic articles (its words are never the articles', and a cross-lingual cosine runs lower than
any same-language one): the model reads them at their mean, and ``cross_lingual`` (1) lets it
set its own base rate for such a question. No English-over-Arabic training questions exist
here, so ``training/judge.py`` teaches that base rate on copies of a share of its Arabic
questions with that evidence made unknown.

The weights (``judge_weights.json``: both layers, fitted by ``training/judge.py`` on ARCD-train,
TyDi-QA and MLQA Arabic questions, AAQAD's unanswerable ones, questions about articles not in
the index and near misses made from the answerable ones; never ARCD-test) hold the answer and
"closest" thresholds too."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from rag.answer.question import DATE, DURATION, NUMBER_WORD, Question
from rag.answer.sentences import Matcher, Sentence, term_set
from rag.records import Hit, Retrieved

WEIGHTS_FILE = Path(__file__).with_name("judge_weights.json")
FEATURES = ("margin", "null", "cover", "cover_ctx", "missing", "slot_missing", "dense", "keyword", "rank",
            "sentence_rank", "span_kind", "span_echo", "span_words", "cross_lingual")
# what an English question over Arabic articles cannot measure: unknown (NaN, read at the mean)
LEXICAL = ("cover", "cover_ctx", "missing", "slot_missing", "keyword", "span_echo", "dense")
# the question layer: the best candidate's logit, its lead over the next, and how far the best
# passage stands out in dense and keyword search (rag/retrieval.py)
QUESTION_FEATURES = ("best", "lead", "dense_gap", "dense_spread", "keyword_margin")
LEAD_ALONE = 3.0  # the lead of a question's only candidate
CLIP = 15.0  # reader logits beyond this say nothing more


def slot_terms(q: Question) -> tuple[str, ...]:
    """The terms that say what the question asks about: its focus with the term after it (the
    office of «وزير الخارجية», not only «وزير») and the words a «كم» question counts."""
    from rag.normalize import normalize, stem

    out = []
    if q.focus and q.focus in q.terms:
        i = q.terms.index(q.focus)
        out += list(q.terms[i : i + 2])
    out += [stem(normalize(w)) for w in q.counted]
    return tuple(t for t in dict.fromkeys(out) if t in q.terms)


_DIGIT = re.compile(r"[0-9٠-٩]")


def span_kind(q: Question, span: str) -> float:
    """1 when the span is of the kind the question asks for, 0 when not, 0.5 when it names none."""
    if q.measure is not None:
        return float(bool(q.measure.search(span)))
    if q.type == "when":
        return float(bool(DATE.search(span) or _DIGIT.search(span)))
    if q.type == "howmany":
        return float(bool(_DIGIT.search(span) or NUMBER_WORD.search(span) or DURATION.search(span)))
    return 0.5


def evidence(q: Question, s: Sentence, margin: float, null: float, rank: int, sentence_rank: int,
             idf: Callable[[str], float], match: Matcher, span: str = "") -> dict[str, float]:
    """The judge's inputs for one candidate sentence (see the module docstring)."""
    c = s.hit.chunk
    context = term_set(s.text) | term_set(c.text) | term_set(c.title)
    weights = {t: idf(t) for t in q.terms}
    total = sum(weights.values()) or 1.0
    found = {t: match.exact_or_soft(t, context) > 0 for t in q.terms}
    missing = max((w for t, w in weights.items() if not found[t]), default=0.0) / total
    slots = slot_terms(q)
    out = {
        "margin": float(np.clip(margin, -CLIP, CLIP)),
        "null": float(np.clip(null, -CLIP, CLIP)),
        "cover": s.coverage,
        "cover_ctx": sum(w for t, w in weights.items() if found[t]) / total,
        "missing": missing,
        "slot_missing": float(any(not found[t] for t in slots)),
        "dense": s.hit.dense,
        "keyword": s.hit.keyword / total,
        "rank": float(rank),
        "sentence_rank": float(sentence_rank),
        "span_kind": span_kind(q, span),
        "span_echo": _echo(q, span, match),
        "span_words": float(np.log1p(len(span.split()))),
        "cross_lingual": float(q.variety == "english"),
    }
    if q.variety == "english":
        out.update({k: float("nan") for k in LEXICAL})
    return out


def _echo(q: Question, span: str, match: Matcher) -> float:
    """The share of the span's words that match a question term (as coverage matches them)."""
    words = term_set(span)
    if not words:
        return 0.0
    return sum(any(match.exact_or_soft(t, frozenset({w})) for t in q.terms) for w in words) / len(words)


def matcher(q: Question, sentences: list[Sentence]) -> Matcher:
    """One soft matcher for the question's terms over every candidate's words and context."""
    vocab: set[str] = set()
    for s in sentences:
        vocab |= term_set(s.text) | term_set(s.hit.chunk.text) | term_set(s.hit.chunk.title)
    return Matcher(list(q.terms), vocab, dialect=q.variety == "dialect")


@dataclass(frozen=True)
class Judge:
    """A logistic model over standardized evidence; an unknown (NaN) input counts as its mean."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float = 0.5  # answer at or above
    closest: float = 0.3  # "the closest I found" at or above, below ``threshold``
    question: "Layer | None" = None  # the question layer over QUESTION_FEATURES
    names: tuple[str, ...] = FEATURES

    def logit(self, x: dict[str, float] | np.ndarray) -> float:
        """The candidate layer's logit: how likely this sentence states the answer, against
        the question's other candidates (what orders them)."""
        if isinstance(x, dict):
            x = np.array([x[n] for n in self.names], dtype=np.float64)
        std = np.nan_to_num((x - self.mean) / self.scale, nan=0.0)
        return float(std @ self.weights + self.bias)

    def probability(self, best: float, second: float | None, retrieved: Retrieved | None = None,
                    lexical: bool = True) -> float:
        """The probability that the passages answer the question, answered from the candidate
        whose logit is ``best`` (``second``: the next candidate's, None when there is none).
        ``lexical`` False (an English question over Arabic articles): the keyword evidence is unknown."""
        return self.question.probability(question_evidence(best, second, retrieved, lexical))

    def band(self, p: float) -> str:
        """The band of ``p`` at the thresholds this judge was fitted with (``band``)."""
        return band(p, self.threshold, self.closest)

    def save(self, path: Path, **about) -> None:
        q = self.question
        doc = {**about, "threshold": round(self.threshold, 4), "closest": round(self.closest, 4),
               "candidate": _layer_doc(self.names, self.mean, self.scale, self.weights, self.bias),
               "question": _layer_doc(q.names, q.mean, q.scale, q.weights, q.bias)}
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @staticmethod
    @lru_cache(maxsize=4)
    def load(path: Path = WEIGHTS_FILE) -> "Judge":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        c, q = raw.get("candidate", {}), raw.get("question", {})
        if tuple(c.get("features", ())) != FEATURES or tuple(q.get("features", ())) != QUESTION_FEATURES:
            raise ValueError(f"{path} was fitted for other evidence than this judge reads; rerun training/judge.py")
        question = Layer(np.array(q["mean"]), np.array(q["scale"]), np.array(q["weights"]), float(q["bias"]),
                         QUESTION_FEATURES)
        return Judge(np.array(c["mean"]), np.array(c["scale"]), np.array(c["weights"]), float(c["bias"]),
                     float(raw["threshold"]), float(raw["closest"]), question)


def band(p: float, threshold: float, closest: float) -> str:
    """'answer' (at or above ``threshold``), 'closest' (the closest passage, which may not
    answer: at or above ``closest``) or 'refused'."""
    return "answer" if p >= threshold else "closest" if p >= closest else "refused"


def _layer_doc(names, mean, scale, weights, bias) -> dict:
    return {"features": list(names), "mean": [round(float(v), 6) for v in mean],
            "scale": [round(float(v), 6) for v in scale], "weights": [round(float(v), 5) for v in weights],
            "bias": round(float(bias), 5)}


@dataclass(frozen=True)
class Layer:
    """One logistic layer over standardized inputs; an unknown (NaN) input counts as its mean."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    names: tuple[str, ...]

    def probability(self, x: dict[str, float]) -> float:
        v = np.array([x[n] for n in self.names], dtype=np.float64)
        z = float(np.nan_to_num((v - self.mean) / self.scale, nan=0.0) @ self.weights + self.bias)
        return 1.0 / (1.0 + float(np.exp(-z)))


def question_evidence(best: float, second: float | None, retrieved: Retrieved | None, lexical: bool = True
                      ) -> dict[str, float]:
    """The question layer's inputs (QUESTION_FEATURES)."""
    r = retrieved
    return {"best": best, "lead": best - second if second is not None else LEAD_ALONE,
            "dense_gap": r.dense_gap if r else float("nan"), "dense_spread": r.dense_spread if r else float("nan"),
            "keyword_margin": r.keyword_margin if r and lexical else float("nan")}


def fit(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, l2: float = 1e-3,
        steps: int = 60) -> Judge:
    """Logistic regression of ``y`` (1 = the sentence states the answer) on standardized ``X``
    (Newton's method, L2 on the weights; NaN read at the mean)."""
    mean, scale = np.nanmean(X, 0), np.nanstd(X, 0) + 1e-9
    Z = np.c_[np.nan_to_num((X - mean) / scale, nan=0.0), np.ones(len(X))]
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    sw = sw / sw.mean()
    w = np.zeros(Z.shape[1])
    penalty = l2 * np.r_[np.ones(Z.shape[1] - 1), 0.0]
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-Z @ w))
        grad = Z.T @ (sw * (p - y)) / len(y) + penalty * w
        hess = (Z * (sw * p * (1 - p))[:, None]).T @ Z / len(y) + np.diag(penalty + 1e-9)
        w -= np.linalg.solve(hess, grad)
    return Judge(mean, scale, w[:-1], float(w[-1]))


def fit_layer(X: np.ndarray, y: np.ndarray, names: tuple[str, ...], l2: float = 1e-3) -> Layer:
    """A logistic layer over ``X`` (columns ``names``), fitted as ``fit`` fits the candidate layer."""
    j = fit(X, y, l2=l2)
    return Layer(j.mean, j.scale, j.weights, j.bias, names)


def rank_of(hits: list[Hit], hit: Hit) -> int:
    return next((i for i, h in enumerate(hits) if h.chunk.chunk_id == hit.chunk.chunk_id), len(hits))
