"""Small linear rankers: one weight vector shared by all questions plus one per question
type, scored over a group of candidates (the sentences of the retrieved chunks, the spans of
a sentence). ``fit`` learns them with a softmax over each group (used by the training
scripts in bench/); at run time only ``LinearModel.load`` and ``weights`` are used."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answer.question import QUESTION_TYPES


@dataclass(frozen=True)
class LinearModel:
    features: tuple[str, ...]
    shared: np.ndarray  # (len(features),)
    typed: np.ndarray  # (len(QUESTION_TYPES), len(features))

    def weights(self, qtype: str) -> np.ndarray:
        return self.shared + self.typed[QUESTION_TYPES.index(qtype)]

    def save(self, path: Path, **about) -> None:
        doc = {
            **about,
            "features": list(self.features),
            "types": list(QUESTION_TYPES),
            "shared": [round(float(x), 5) for x in self.shared],
            "typed": {t: [round(float(x), 5) for x in self.typed[i]] for i, t in enumerate(QUESTION_TYPES)},
        }
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @staticmethod
    @lru_cache(maxsize=8)
    def load(path: Path, features: tuple[str, ...]) -> "LinearModel":
        raw = json.loads(path.read_text(encoding="utf-8"))
        if tuple(raw["features"]) != features or tuple(raw["types"]) != QUESTION_TYPES:
            raise ValueError(f"{path} was fitted for other features; rerun its training script in bench/")
        typed = np.array([raw["typed"][t] for t in QUESTION_TYPES], dtype=np.float64)
        return LinearModel(features, np.array(raw["shared"], dtype=np.float64), typed)


def fit(
    features: tuple[str, ...],
    groups: list[tuple[np.ndarray, np.ndarray, str]],
    l2: float,
    l2_typed: float,
    steps: int = 300,
    lr: float = 0.05,
) -> LinearModel:
    """Fit on ``groups`` of (X: candidates x features, target distribution over the
    candidates, question type) by minimizing the cross-entropy of each group's softmax
    against its target, with L2 penalties (Adam, full batch)."""
    d, k = len(features), len(QUESTION_TYPES)
    X = np.concatenate([g[0] for g in groups]).astype(np.float64)
    target = np.concatenate([g[1] for g in groups])
    sizes = np.array([len(g[1]) for g in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    qt = np.repeat([QUESTION_TYPES.index(g[2]) for g in groups], sizes)
    rows = [np.flatnonzero(qt == t) for t in range(k)]
    w = np.zeros(d + k * d)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, steps + 1):
        shared, typed = w[:d], w[d:].reshape(k, d)
        z = X @ shared
        for t, r in enumerate(rows):
            z[r] += X[r] @ typed[t]
        g = (group_softmax(z, starts) - target) / len(groups)
        grad_shared = X.T @ g + l2 * shared
        grad_typed = np.stack([X[r].T @ g[r] for r in rows]) + l2_typed * typed
        grad = np.concatenate([grad_shared, grad_typed.ravel()])
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return LinearModel(features, w[:d].copy(), w[d:].reshape(k, d).copy())


def group_softmax(z: np.ndarray, starts: np.ndarray) -> np.ndarray:
    sizes = np.diff(np.append(starts, len(z)))
    e = np.exp(z - np.repeat(np.maximum.reduceat(z, starts), sizes))
    return e / np.repeat(np.add.reduceat(e, starts), sizes)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()
