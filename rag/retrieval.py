"""Hybrid retrieval: dense (Chroma) + keyword (BM25), fused by weighted z-scores."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from rag.chunking import split_sentences
from rag.keyword import KeywordIndex
from rag.lexicon import terms
from rag.normalize import normalize
from rag.records import Chunk, Hit, Retrieved
from rag.store import VectorStore


def zscores(values: np.ndarray) -> np.ndarray:
    std = float(values.std())
    if std < 1e-9:
        return np.zeros_like(values)
    return (values - values.mean()) / std


COPY_MIN_CHARS = 40  # a shared sentence at least this long makes two passages copies


@lru_cache(maxsize=4096)
def long_sentences(text: str) -> frozenset[str]:
    """The normalized sentences of a passage long enough to tell a copy by."""
    return frozenset(
        normalize(text[s:e]) for s, e in split_sentences(text) if e - s >= COPY_MIN_CHARS
    )


def copies(chunks: list[Chunk], of: Chunk) -> set[str]:
    """Ids of the documents among ``chunks`` that repeat sentences of ``of`` (its own document
    included): a story republished or quoted elsewhere backs the same evidence rather than
    competing with it. One shared sentence found in more than a quarter of the documents (a
    byline, a copyright line) is boilerplate, not a copy; two shared sentences always are."""
    mine = long_sentences(of.text)
    shared: dict[str, set[str]] = {}  # doc -> its sentences shared with ``of``
    for c in chunks:
        if c.doc_id != of.doc_id:
            shared.setdefault(c.doc_id, set()).update(mine & long_sentences(c.text))
    spread: dict[str, int] = {}
    for sents in shared.values():
        for sent in sents:
            spread[sent] = spread.get(sent, 0) + 1
    common = max(3, (len(shared) + 1) // 4)
    return {of.doc_id} | {
        d for d, sents in shared.items() if len(sents) >= 2 or any(spread[x] <= common for x in sents)
    }


def keyword_lead(ranked: list[tuple[str, float]], same: set[str] = frozenset()) -> float:
    """How far the best keyword match leads the best match from another document, given
    (doc_id, score) pairs best first (chunks of one article overlap, so its own chunks are no
    competition; nor are the documents in ``same``, copies of the best one)."""
    if not ranked:
        return 0.0
    doc, best = ranked[0]
    return best - next((score for d, score in ranked[1:] if d != doc and d not in same), 0.0)


def _with(together: set[str], doc: str) -> set[str]:
    return set(together) if doc in together else set()


def hybrid_search(
    store: VectorStore,
    keyword: KeywordIndex,
    query_vec: np.ndarray,
    question: str,
    k: int,
    candidates: int,
    weight_dense: float,
    weight_keyword: float,
    choose: Callable[[list[Hit]], tuple[list[Hit], set[str]]] | None = None,
) -> Retrieved:
    """Top ``k`` chunks by fused score. Every candidate gets both a dense and a keyword
    score (missing dense scores are computed from stored vectors), then each score list is
    z-normalized over the candidate set and the two are mixed with the given weights. ``choose``
    may reorder the fused hits and name documents that count as one with the best for the
    evidence, like copies of it (rag/recency.py ``prefer_dates``)."""
    dense: dict[str, float] = {}
    if weight_dense > 0 or weight_keyword == 0:
        dense = dict(store.nearest(query_vec, min(candidates, len(keyword))))

    qterms = terms(question)
    kw_scores = keyword.score_map(qterms) if weight_keyword > 0 else {}
    kw_top = heapq.nlargest(candidates, kw_scores, key=kw_scores.__getitem__)

    keyword_only = [cid for cid in kw_top if cid not in dense] if weight_dense > 0 else []
    found = store.chunks([*dense, *kw_top], keyword.generation, vectors=keyword_only)
    chunks = {cid: chunk for cid, (chunk, _) in found.items()}
    dense = {cid: sim for cid, sim in dense.items() if cid in chunks}
    for cid in keyword_only:
        if cid in found:  # its dense score from its stored vector
            dense[cid] = float(np.dot(found[cid][1], query_vec))
    if not chunks:
        return Retrieved([])
    ids = list(chunks)
    d = np.array([dense.get(cid, 0.0) for cid in ids], dtype=np.float32)
    kw = np.array([kw_scores.get(cid, 0.0) for cid in ids], dtype=np.float32)
    fused = weight_dense * zscores(d) + weight_keyword * zscores(kw)
    order = np.argsort(-fused, kind="stable")[:k]
    hits = [Hit(chunks[ids[i]], float(fused[i]), float(d[i]), float(kw[i])) for i in order]
    hits, together = choose(hits) if choose else (hits, set())
    # The evidence features, per document (an article's chunks overlap: its best chunk speaks
    # for it), with copies of the best document counted as one with it.
    gap = spread = top = margin = 0.0
    if dense:
        best = max(dense, key=dense.__getitem__)
        same = copies(list(chunks.values()), chunks[best]) | _with(together, chunks[best].doc_id)
        per_doc: dict[str, float] = {}
        for cid, sim in dense.items():
            doc = chunks[best].doc_id if chunks[cid].doc_id in same else chunks[cid].doc_id
            per_doc[doc] = max(sim, per_doc.get(doc, -1.0))
        sims = sorted(per_doc.values(), reverse=True)
        top = sims[0]
        gap = top - float(np.mean(sims[1:])) if len(sims) > 1 else 0.0
        spread = float(np.std(sims))
    ranked_kw = [c for c in kw_top if c in chunks]
    idf_sum = sum(keyword.idf(t) for t in set(qterms))
    if ranked_kw and idf_sum > 0:
        same = copies([chunks[c] for c in ranked_kw], chunks[ranked_kw[0]]) | _with(together, chunks[ranked_kw[0]].doc_id)
        margin = keyword_lead([(chunks[c].doc_id, kw_scores[c]) for c in ranked_kw], same) / idf_sum

    return Retrieved(hits, top, gap, spread, margin)
