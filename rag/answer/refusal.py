"""When to refuse: the probability that the retrieved passages answer the question.

A logistic model over four signals (five with the trained reader: its best span's margin
over "no answer here", rag/answer/reader.py), each measuring how far the best evidence stands out
rather than a raw score that depends on the embedding model or the corpus: how far the best
dense match stands above the other candidates (``dense_gap``), how spread out the candidates'
similarities are (together: how many standard deviations the best stands out), how far the
best BM25 match leads the best match from another document (relative to the question's total
idf), and the best sentence's idf-weighted coverage of the question. The dense signals are
per document, and documents that copy the best passage count as one with it
(rag/retrieval.py: ``copies``). Raw cosines and fused
z-scores separated ARCD's questions a little better but refused plainly answerable questions
over a corpus of a few articles (the bundled seeds), so they are left out.

Fitted on ARCD-train by ``python bench/tune.py --write`` (three quarters of the articles
indexed, the other quarter's questions as the ones to refuse, four ways); at run time only
``AbstentionModel.load`` and ``probability`` are used. The refusal threshold on the
probability is the setting ``abstain_threshold``.

Those indexes hold about 200 chunks. In a larger index every question's candidates are nearer
to it, so the dense gap and the keyword margin shrink for answerable and unanswerable questions
alike, and the same threshold refuses more and more answerable ones. ``bench/tune_size.py``
refits one number on the same questions over indexes grown with thousands of other Arabic
paragraphs: the slope of a log-odds correction in ln(index chunks / fitted size)
(``size_slope``, ``size_base``); it is 0 for an index no larger than the fitted ones."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.records import Retrieved

FEATURES = ("dense_gap", "coverage", "dense_spread", "keyword_margin")  # the rules-only model
LEXICAL = ("coverage", "keyword_margin")  # word-matching signals: unknown (NaN) for dialect and English questions
READER_FEATURES = (*FEATURES, "reader_margin")  # with the trained reader's span margin
WEIGHTS_FILE = Path(__file__).with_name("refusal_weights.json")
READER_WEIGHTS_FILE = Path(__file__).with_name("refusal_reader_weights.json")


def signals(retrieved: Retrieved, coverage: float, reader_margin: float = 0.0, lexical: bool = True) -> dict[str, float]:
    """Every evidence signal for one question: the retrieval evidence, the chosen sentence's
    idf-weighted coverage of the question (rag/answer/sentences.py) and the reader's span margin.
    Without ``lexical`` (a question not in MSA) the word-matching signals are NaN: unknown, and
    the model reads them at their mean (docs/quality.md, "Questions as people write them")."""
    r = retrieved
    out = {"dense_gap": r.dense_gap, "coverage": coverage, "dense_spread": r.dense_spread,
           "keyword_margin": r.keyword_margin, "reader_margin": reader_margin, "index_chunks": r.index_chunks}
    if not lexical:
        out.update({k: float("nan") for k in LEXICAL})
    return out


def features(sig: dict[str, float], names: tuple[str, ...] = FEATURES) -> np.ndarray:
    """The model's inputs, in ``names`` order."""
    return np.array([sig[n] for n in names], dtype=np.float64)


@dataclass(frozen=True)
class AbstentionModel:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    names: tuple[str, ...] = FEATURES
    # the index-size correction (bench/tune_size.py): in an index of n chunks larger than
    # size_base, size_slope * ln(n / size_base) is added to the log-odds
    size_base: float = 0.0
    size_slope: float = 0.0

    def probability(self, x: np.ndarray | dict, index_chunks: int = 0) -> float:
        """The probability that the passages answer; a signals dict carries its index size."""
        if isinstance(x, dict):
            index_chunks = int(x.get("index_chunks", 0))
            x = features(x, self.names)
        std = np.nan_to_num((x - self.mean) / self.scale, nan=0.0)  # an unknown signal counts as its mean
        z = float(std @ self.weights + self.bias) + self.size_slope * self.growth(index_chunks)
        return 1.0 / (1.0 + np.exp(-z))

    def growth(self, index_chunks: int) -> float:
        """How much larger than the fitted indexes this one is: ln(n / size_base), 0 when not larger."""
        if self.size_base <= 0 or index_chunks <= self.size_base:
            return 0.0
        return float(np.log(index_chunks / self.size_base))

    def save(self, path: Path, **about) -> None:
        doc = {
            **about,
            "features": list(self.names),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 5) for v in self.weights],
            "bias": round(float(self.bias), 5),
            **({"size_base": self.size_base, "size_slope": round(self.size_slope, 5)} if self.size_base else {}),
        }
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @staticmethod
    @lru_cache(maxsize=4)
    def load(path: Path | None = None, reader: bool = False) -> "AbstentionModel":
        """The fitted model: with the reader's margin (``reader``) or the rules-only one."""
        path = path or (READER_WEIGHTS_FILE if reader else WEIGHTS_FILE)
        expected = READER_FEATURES if reader else FEATURES
        raw = json.loads(path.read_text(encoding="utf-8"))
        names = tuple(raw["features"])
        if names not in (FEATURES, READER_FEATURES) or (reader and names != expected):
            raise ValueError(f"{path} was fitted for other features; rerun bench/tune.py --write")
        return AbstentionModel(
            np.array(raw["mean"]), np.array(raw["scale"]), np.array(raw["weights"]), float(raw["bias"]), names,
            float(raw.get("size_base", 0.0)), float(raw.get("size_slope", 0.0)),
        )


def fit(X: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50,
        names: tuple[str, ...] = FEATURES) -> AbstentionModel:
    """Logistic regression of ``y`` (1 = answerable) on standardized ``X`` (Newton's method,
    L2 penalty on the weights, not the bias). An unknown (NaN) signal is read at its mean, as
    ``probability`` reads it: a dialect question among the training rows keeps its other signals."""
    mean, scale = np.nanmean(X, 0), np.nanstd(X, 0) + 1e-9
    Z = np.c_[np.nan_to_num((X - mean) / scale, nan=0.0), np.ones(len(X))]
    w = np.zeros(Z.shape[1])
    penalty = l2 * np.r_[np.ones(Z.shape[1] - 1), 0.0]
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-Z @ w))
        grad = Z.T @ (p - y) / len(y) + penalty * w
        hess = (Z * (p * (1 - p))[:, None]).T @ Z / len(y) + np.diag(penalty + 1e-9)
        w -= np.linalg.solve(hess, grad)
    return AbstentionModel(mean, scale, w[:-1], float(w[-1]), names)
