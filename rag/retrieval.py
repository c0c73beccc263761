"""Hybrid retrieval: dense (Chroma) + keyword (BM25), fused by weighted z-scores."""

from __future__ import annotations

import heapq

import numpy as np

from rag.keyword import KeywordIndex
from rag.normalize import terms
from rag.records import Chunk, Hit, Retrieved
from rag.store import VectorStore, chunk_from


def zscores(values: np.ndarray) -> np.ndarray:
    std = float(values.std())
    if std < 1e-9:
        return np.zeros_like(values)
    return (values - values.mean()) / std


def keyword_lead(ranked: list[tuple[str, float]]) -> float:
    """How far the best keyword match leads the best match from another document, given
    (doc_id, score) pairs best first (chunks of one article overlap, so its own chunks are no
    competition)."""
    if not ranked:
        return 0.0
    doc, best = ranked[0]
    return best - next((score for d, score in ranked[1:] if d != doc), 0.0)


def hybrid_search(
    store: VectorStore,
    keyword: KeywordIndex,
    query_vec: np.ndarray,
    question: str,
    k: int,
    candidates: int,
    weight_dense: float,
    weight_keyword: float,
) -> Retrieved:
    """Top ``k`` chunks by fused score. Every candidate gets both a dense and a keyword
    score (missing dense scores are computed from stored vectors), then each score list is
    z-normalized over the candidate set and the two are mixed with the given weights."""
    chunks: dict[str, Chunk] = {}
    dense: dict[str, float] = {}
    if weight_dense > 0 or weight_keyword == 0:
        for chunk, sim in store.query(query_vec, min(candidates, len(keyword))):
            chunks[chunk.chunk_id] = chunk
            dense[chunk.chunk_id] = sim

    qterms = terms(question)
    kw_scores = keyword.score_map(qterms) if weight_keyword > 0 else {}
    kw_top = heapq.nlargest(candidates, kw_scores, key=kw_scores.__getitem__)

    missing = [cid for cid in kw_top if cid not in chunks]
    if missing:
        got = store.get(missing, embeddings=weight_dense > 0)
        for i, cid in enumerate(got["ids"]):
            chunks[cid] = chunk_from(cid, got["documents"][i], got["metadatas"][i])
            if weight_dense > 0:
                dense[cid] = float(np.dot(np.asarray(got["embeddings"][i], dtype=np.float32), query_vec))
    if not chunks:
        return Retrieved([])
    sims = sorted(dense.values(), reverse=True)
    top = sims[0] if sims else 0.0
    gap = top - float(np.mean(sims[1:])) if len(sims) > 1 else 0.0
    spread = float(np.std(sims)) if sims else 0.0
    idf_sum = sum(keyword.idf(t) for t in set(qterms))
    lead = keyword_lead([(chunks[c].doc_id, kw_scores[c]) for c in kw_top if c in chunks])
    margin = lead / idf_sum if idf_sum > 0 else 0.0

    ids = list(chunks)
    d = np.array([dense.get(cid, 0.0) for cid in ids], dtype=np.float32)
    kw = np.array([kw_scores.get(cid, 0.0) for cid in ids], dtype=np.float32)
    fused = weight_dense * zscores(d) + weight_keyword * zscores(kw)
    order = np.argsort(-fused, kind="stable")[:k]
    hits = [Hit(chunks[ids[i]], float(fused[i]), float(d[i]), float(kw[i])) for i in order]
    return Retrieved(hits, top, gap, spread, margin)
