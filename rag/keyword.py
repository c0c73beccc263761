"""The keyword index: BM25 over normalized, lightly stemmed Arabic terms.

It is derived from the vector store: it records the store generation it was built from
and the content hash of every chunk. A bm25s index holds the chunks present at the last
full build; chunks added since sit in a small delta scored with the same BM25 formula
(Lucene variant, as bm25s), and removed ones are masked. When the delta grows past
COMPACT_SHARE of the index, the next refresh rebuilds it whole. So adding an article to a
large index costs that article's chunks, not a rebuild."""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from rag.lexicon import terms, terms_version

log = logging.getLogger(__name__)

K1, B = 1.2, 0.75


def _bm25s():
    """bm25s, imported lazily; it sets its own logger to DEBUG on import, which we undo."""
    import bm25s

    logging.getLogger("bm25s").setLevel(max(logging.getLogger().level, logging.WARNING))
    return bm25s
COMPACT_SHARE = 0.2


class KeywordIndex:
    def __init__(self, main_ids: list[str], retriever, df: dict[str, int], hashes: dict[str, str],
                 generation: str, main_lengths_sum: int):
        self.main_ids = main_ids
        self.main_pos = {cid: i for i, cid in enumerate(main_ids)}
        self.retriever = retriever
        self.df = df
        self.hashes = hashes  # every live chunk id -> content hash
        self.generation = generation
        self.dead = np.zeros(len(main_ids), dtype=bool)  # main entries removed since the build
        self.delta: dict[str, tuple[Counter, int, str]] = {}  # id -> (term counts, length, text)
        self.total_length = main_lengths_sum

    # --- building ------------------------------------------------------------------
    @classmethod
    def build(cls, entries: list[tuple[str, str, str]], generation: str) -> "KeywordIndex":
        """entries: (chunk id, text to index, content hash)."""
        bm25s = _bm25s()
        ids = [cid for cid, _, _ in entries]
        corpus = [terms(text) for _, text, _ in entries]
        df: dict[str, int] = {}
        for toks in corpus:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        retriever = None
        if ids:
            retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
            retriever.index(corpus, show_progress=False)
        hashes = {cid: h for cid, _, h in entries}
        return cls(ids, retriever, df, hashes, generation, sum(len(c) for c in corpus))

    def apply(self, added: list[tuple[str, str, str]], removed: list[str], generation: str) -> None:
        """Apply a change without a rebuild: ``added`` (id, text, hash) replace any chunk
        with the same id; ``removed`` ids are masked."""
        for cid in list(removed) + [cid for cid, _, _ in added]:
            self._drop(cid)
        for cid, text, h in added:
            toks = terms(text)
            self.delta[cid] = (Counter(toks), len(toks), text)
            for t in set(toks):
                self.df[t] = self.df.get(t, 0) + 1
            self.total_length += len(toks)
            self.hashes[cid] = h
        self.generation = generation

    def _drop(self, cid: str) -> None:
        if cid not in self.hashes:
            return
        del self.hashes[cid]
        if cid in self.delta:
            counts, length, _ = self.delta.pop(cid)
            for t in counts:
                self.df[t] = max(0, self.df.get(t, 0) - 1)
            self.total_length -= length
        elif cid in self.main_pos:
            self.dead[self.main_pos[cid]] = True  # its df stays counted until the next rebuild

    def needs_compaction(self) -> bool:
        changed = len(self.delta) + int(self.dead.sum())
        return changed > max(50, COMPACT_SHARE * max(len(self.main_ids), 1))

    # --- reading ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def ids(self) -> list[str]:
        """Live chunk ids."""
        return [cid for i, cid in enumerate(self.main_ids) if not self.dead[i]] + list(self.delta)

    def idf(self, term: str) -> float:
        n = max(len(self.hashes), 1)
        d = self.df.get(term, 0)
        return math.log(1 + (n - d + 0.5) / (d + 0.5))

    def score_map(self, query_terms: list[str]) -> dict[str, float]:
        """BM25 score of every live chunk that shares a term with the query."""
        out: dict[str, float] = {}
        if not query_terms:
            return out
        if self.retriever is not None:
            scores = np.asarray(self.retriever.get_scores(query_terms), dtype=np.float32)
            scores[self.dead] = 0.0
            for i in np.flatnonzero(scores > 0):
                out[self.main_ids[i]] = float(scores[i])
        if self.delta:
            avg = self.total_length / max(len(self.hashes), 1)
            qs = Counter(query_terms)
            for cid, (counts, length, _) in self.delta.items():
                s = 0.0
                for t, qn in qs.items():
                    tf = counts.get(t, 0)
                    if tf:
                        s += qn * self.idf(t) * tf / (tf + K1 * (1 - B + B * length / max(avg, 1e-9)))
                if s > 0:
                    out[cid] = s
        return out

    # --- persistence -------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".kw-", dir=path.parent))
        try:
            if self.retriever is not None:
                self.retriever.save(str(tmp / "bm25"), show_progress=False)
            state = {
                "generation": self.generation,
                "terms": terms_version(),
                "main_ids": self.main_ids,
                "dead": [cid for i, cid in enumerate(self.main_ids) if self.dead[i]],
                "delta": {cid: [text, self.hashes[cid]] for cid, (_, _, text) in self.delta.items()},
                "hashes": self.hashes,
                "df": self.df,
                "total_length": self.total_length,
            }
            (tmp / "state.json").write_text(json.dumps(state, ensure_ascii=False))
            old = path.with_name(path.name + ".old")
            if path.exists():
                shutil.rmtree(old, ignore_errors=True)
                path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, path: Path) -> "KeywordIndex | None":
        try:
            bm25s = _bm25s()
            state = json.loads((path / "state.json").read_text())
            if state.get("terms") != terms_version():
                log.info("keyword index at %s was built with another tokenization; it will be rebuilt", path)
                return None
            main_ids = state["main_ids"]
            retriever = bm25s.BM25.load(str(path / "bm25"), show_progress=False) if main_ids else None
            kw = cls(main_ids, retriever, state["df"], state["hashes"], state["generation"], state["total_length"])
            for cid in state["dead"]:
                kw.dead[kw.main_pos[cid]] = True
            for cid, (text, _h) in state["delta"].items():
                toks = terms(text)
                kw.delta[cid] = (Counter(toks), len(toks), text)
            return kw
        except (OSError, ValueError, KeyError) as exc:
            log.info("keyword index at %s not usable (%s); it will be rebuilt", path, exc)
            return None
