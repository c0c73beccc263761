"""Evaluation metrics: SQuAD-style exact match / F1 with the MLQA Arabic normalization,
sentence containment, retrieval hit@k / MRR, abstention accounting. A metric with
nothing to measure is None, never a made-up number."""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence

from rag.normalize import normalize

_PUNCT = {chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)).startswith("P")} | set(
    string.punctuation
)


def normalize_answer(text: str) -> str:
    """MLQA's normalization for Arabic (lower-case, drop punctuation, drop the article
    ال as its regex does, fold white space), after Sanad's Arabic letter normalization."""
    text = normalize(text)
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = re.sub(r"\sال^|ال", " ", text)  # MLQA evaluate_mlqa.py, lang='ar'
    return " ".join(text.split())


def _golds(golds: Sequence[str] | str) -> list[str]:
    return [golds] if isinstance(golds, str) else list(golds)


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    golds = _golds(golds)
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in golds)) if golds else 0.0


def _f1(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if not p or not g:
        return float(p == g)
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Sequence[str]) -> float:
    golds = _golds(golds)
    return max((_f1(prediction, g) for g in golds), default=0.0)


def contains(text: str, golds: Sequence[str]) -> float:
    golds = _golds(golds)
    t = normalize_answer(text)
    return float(any(normalize_answer(g) and normalize_answer(g) in t for g in golds))


def first_gold_rank(ranked_doc_ids: Sequence[str], gold: set[str]) -> int | None:
    """1-based rank of the first chunk whose article is a gold source."""
    for i, d in enumerate(ranked_doc_ids, 1):
        if d in gold:
            return i
    return None


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def hit_at(ranks: Sequence[int | None], k: int) -> float | None:
    return mean([1.0 if r is not None and r <= k else 0.0 for r in ranks])


def mrr(ranks: Sequence[int | None]) -> float | None:
    return mean([1.0 / r if r else 0.0 for r in ranks])


def abstention(abstained_answerable: Sequence[bool], abstained_unanswerable: Sequence[bool]) -> dict:
    """Precision/recall of refusing (positives: unanswerable questions), and the rate of
    refusing answerable ones."""
    tp = sum(abstained_unanswerable)
    fp = sum(abstained_answerable)
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / len(abstained_unanswerable) if abstained_unanswerable else None,
        "false_abstain_rate": fp / len(abstained_answerable) if abstained_answerable else None,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)
