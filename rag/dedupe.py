"""Syndicated copies: the same story printed by several papers (a wire story, lightly edited)
is recognised at ingestion and kept once for retrieval, with every paper that printed it
recorded.

Each article is reduced to a MinHash signature (datasketch, ``NUM_PERM`` permutations) of its
normalized word shingles (``SHINGLE`` words, tashkeel/alef/ة folded as for matching, the title
included); an LSH index finds candidates, and a candidate whose estimated Jaccard similarity
reaches the threshold (``dedupe_threshold``, chosen on a hand-checked sample of SaudiNewsNet
pairs: docs/experiments.md, "Syndicated copies") is the same story, unless the new article is
more than ``LONGER`` times as long (in shingles): a fuller version holds what the shorter one
lacks, so both stay. The first one ingested is the original; later ones are copies: not
chunked, not embedded, recorded in the store's state collection, so a restarted import,
another process or a bot process sees them too.

State records (rag/state.py StateStore, kind "minhash" for signatures):
- ``minhash:<doc_id>``: an indexed article's signature;
- ``copy:<doc_id>``: a copy: the original's id, the copy's title, source, date, URL, similarity;
- ``story:<doc_id>``: an original's copies, in the order they arrived (what citations show)."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import numpy as np

from rag.lexicon import tokenize
from rag.records import Article

log = logging.getLogger(__name__)

NUM_PERM = 128
SHINGLE = 5  # words per shingle
SEED = 1
LONGER = 1.2  # a near-duplicate this much longer than the indexed article is not its copy
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


@dataclass(frozen=True)
class Signature:
    values: np.ndarray  # NUM_PERM MinHash values
    size: int  # how many shingles


def signature(article: Article) -> Signature:
    from datasketch import MinHash

    grams = shingles(article)
    m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    m.update_batch(list(grams))
    return Signature(np.asarray(m.hashvalues, dtype=np.uint32), len(grams))


def lean(sig: np.ndarray):
    from datasketch import LeanMinHash

    return LeanMinHash(seed=SEED, hashvalues=sig, scheme=SCHEME)


def similarity(a, b) -> float:
    """Estimated Jaccard similarity of two signatures (or their value arrays)."""
    a, b = getattr(a, "values", a), getattr(b, "values", b)
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
        self._sigs: dict[str, Signature] = {}
        self.generation: str | None = None  # the store generation the index was loaded at

    def load(self, generation: str) -> None:
        """(Re)read every stored signature."""
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)
        self._sigs = {}
        for key, value in self.state.iter_kind(KIND):
            self._add(key.split(":", 1)[1], Signature(decode(value["sig"]), int(value.get("n", 0))))
        self.generation = generation
        log.info("copy detection: %d signatures loaded", len(self._sigs))

    def __len__(self) -> int:
        return len(self._sigs)

    def _add(self, doc_id: str, sig: Signature) -> None:
        if doc_id in self._sigs:
            self._lsh.remove(doc_id)
        self._sigs[doc_id] = sig
        self._lsh.insert(doc_id, lean(sig.values))

    def forget(self, doc_id: str) -> None:
        if doc_id in self._sigs:
            self._lsh.remove(doc_id)
            del self._sigs[doc_id]

    def original_of(self, doc_id: str, sig: Signature) -> Copy | None:
        """The indexed article that ``sig`` repeats (the most similar at or above the
        threshold and not LONGER times shorter, never ``doc_id`` itself), or None."""
        best = None
        for other in self._lsh.query(lean(sig.values)):
            if other == doc_id:
                continue
            known = self._sigs[other]
            sim = similarity(sig, known)
            if known.size and sig.size > LONGER * known.size:
                continue  # a fuller version of it
            if sim >= self.threshold and (best is None or sim > best.similarity):
                best = Copy(doc_id, other, sim)
        return best

    def add(self, doc_id: str, sig: Signature) -> dict:
        """Index an original; returns the state record to write."""
        self._add(doc_id, sig)
        return {f"{KIND}:{doc_id}": {"sig": encode(sig.values), "n": sig.size}}
