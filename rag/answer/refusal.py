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

Questions not written in MSA have their own model over the same five signals
(``VARIETIES_WEIGHTS_FILE``, fitted on English and dialect questions by
``bench/tune_varieties.py``): a dialect question's coverage is measured after the varieties
lexicon and runs lower than an MSA question's for the same evidence, and an English question's
word-matching signals are unknown.

The MSA models are fitted on ARCD-train by ``python bench/tune.py --write`` (three quarters of the articles
indexed, the other quarter's questions as the ones to refuse, four ways); at run time only
``AbstentionModel.load`` and ``probability`` are used. The refusal threshold on the
probability is the setting ``abstain_threshold``."""

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
# the same five signals, fitted on English and dialect questions (bench/tune_varieties.py)
VARIETIES_WEIGHTS_FILE = Path(__file__).with_name("refusal_varieties_weights.json")


def signals(retrieved: Retrieved, coverage: float, reader_margin: float = 0.0, lexical: bool = True) -> dict[str, float]:
    """Every evidence signal for one question: the retrieval evidence, the chosen sentence's
    idf-weighted coverage of the question (rag/answer/sentences.py) and the reader's span margin.
    Without ``lexical`` (a question not in MSA) the word-matching signals are NaN: unknown, and
    the model reads them at their mean (docs/quality.md, "Questions as people write them")."""
    r = retrieved
    out = {"dense_gap": r.dense_gap, "coverage": coverage, "dense_spread": r.dense_spread,
           "keyword_margin": r.keyword_margin, "reader_margin": reader_margin}
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

    def probability(self, x: np.ndarray | dict) -> float:
        if isinstance(x, dict):
            x = features(x, self.names)
        std = np.nan_to_num((x - self.mean) / self.scale, nan=0.0)  # an unknown signal counts as its mean
        z = float(std @ self.weights + self.bias)
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: Path, **about) -> None:
        doc = {
            **about,
            "features": list(self.names),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 5) for v in self.weights],
            "bias": round(float(self.bias), 5),
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
            np.array(raw["mean"]), np.array(raw["scale"]), np.array(raw["weights"]), float(raw["bias"]), names
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
