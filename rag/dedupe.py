"""Syndicated copies: the same story printed by several papers (a wire story, lightly edited)
is recognised at ingestion and kept once for retrieval, with every paper that printed it
recorded.

Each article is reduced to a MinHash signature (datasketch, ``NUM_PERM`` permutations) of its
normalized word shingles (``SHINGLE`` words, tashkeel/alef/ة folded as for matching, the title
included); an LSH index finds candidates, and a candidate whose estimated Jaccard similarity
reaches the threshold (``dedupe_threshold``, chosen on a hand-checked sample of SaudiNewsNet
pairs: docs/quality.md, "Syndicated copies") is the same story. The first one ingested is the
original; later ones are copies: not chunked, not embedded, recorded in the store's state
collection, so a restarted import, another process or a bot process sees them too.

State records (rag/store.py StateStore, kind "minhash" for signatures):
- ``minhash:<doc_id>``: an indexed article's signature;
- ``copy:<doc_id>``: a copy: the original's id, the copy's title, source, date, URL, similarity;
- ``story:<doc_id>``: an original's copies, in the order they arrived (what citations show)."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import numpy as np

from rag.normalize import tokenize
from rag.records import Article

log = logging.getLogger(__name__)

NUM_PERM = 128
SHINGLE = 5  # words per shingle
SEED = 1
SCHEME = "affine32"  # datasketch's hashing scheme; a stored signature is only comparable within one
KIND = "minhash"  # state record kinds (and key prefixes)
COPY = "copy"
STORY = "story"


def shingles(article: Article) -> set[bytes]:
    """The article's normalized word shingles (the title and the text)."""
    words = [t.norm for t in tokenize(f"{article.title}\n{article.text}", keep_stopwords=True)]
    if len(words) <= SHINGLE:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}


def signature(article: Article) -> np.ndarray:
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    m.update_batch(list(shingles(article)))
    return np.asarray(m.hashvalues, dtype=np.uint32)


def lean(sig: np.ndarray):
    from datasketch import LeanMinHash

    return LeanMinHash(seed=SEED, hashvalues=sig, scheme=SCHEME)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def encode(sig: np.ndarray) -> str:
    return base64.b64encode(sig.astype("<u4").tobytes()).decode()


def decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)


@dataclass(frozen=True)
class Copy:
    doc_id: str  # the copy
    of: str  # the original it repeats
    similarity: float


class Copies:
    """The signatures of the indexed articles, searchable for near-duplicates (in memory,
    loaded from the state collection when the store has changed since)."""

    def __init__(self, state, threshold: float):
        from datasketch import MinHashLSH

        self.state = state
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._sigs: dict[str, np.ndarray] = {}
        self.generation: str | None = None  # the store generation the index was loaded at

    def load(self, generation: str) -> None:
        """(Re)read every stored signature."""
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)
        self._sigs = {}
        for key, value in self.state.iter_kind(KIND):
            self._add(key.split(":", 1)[1], decode(value["sig"]))
        self.generation = generation
        log.info("copy detection: %d signatures loaded", len(self._sigs))

    def __len__(self) -> int:
        return len(self._sigs)

    def _add(self, doc_id: str, sig: np.ndarray) -> None:
        if doc_id in self._sigs:
            self._lsh.remove(doc_id)
        self._sigs[doc_id] = sig
        self._lsh.insert(doc_id, lean(sig))

    def forget(self, doc_id: str) -> None:
        if doc_id in self._sigs:
            self._lsh.remove(doc_id)
            del self._sigs[doc_id]

    def original_of(self, doc_id: str, sig: np.ndarray) -> Copy | None:
        """The indexed article that ``sig`` repeats (the most similar at or above the
        threshold, never ``doc_id`` itself), or None."""
        best = None
        for other in self._lsh.query(lean(sig)):
            if other == doc_id:
                continue
            sim = similarity(sig, self._sigs[other])
            if sim >= self.threshold and (best is None or sim > best.similarity):
                best = Copy(doc_id, other, sim)
        return best

    def add(self, doc_id: str, sig: np.ndarray) -> dict:
        """Index an original; returns the state record to write."""
        self._add(doc_id, sig)
        return {f"{KIND}:{doc_id}": {"sig": encode(sig)}}
