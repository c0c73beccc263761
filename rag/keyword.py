"""The keyword index: BM25 (bm25s) over normalized, lightly stemmed Arabic terms.

It is derived from the vector store: it records the store generation it was built
from, and is rebuilt (from the store's own chunks) when the store has changed."""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rag.normalize import terms

log = logging.getLogger(__name__)


class KeywordIndex:
    def __init__(self, ids: list[str], retriever, df: dict[str, int], generation: str):
        self.ids = ids
        self.pos = {cid: i for i, cid in enumerate(ids)}
        self.retriever = retriever
        self.df = df
        self.generation = generation

    @classmethod
    def build(cls, entries: list[tuple[str, str]], generation: str, k1: float = 1.2, b: float = 0.75) -> "KeywordIndex":
        import bm25s

        ids = [cid for cid, _ in entries]
        corpus = [terms(text) for _, text in entries]
        df: dict[str, int] = {}
        for toks in corpus:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        retriever = None
        if ids:
            retriever = bm25s.BM25(k1=k1, b=b)
            retriever.index(corpus, show_progress=False)
        return cls(ids, retriever, df, generation)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        n = max(len(self.ids), 1)
        d = self.df.get(term, 0)
        return math.log(1 + (n - d + 0.5) / (d + 0.5))

    def scores(self, query_terms: list[str]) -> np.ndarray:
        if self.retriever is None or not query_terms:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(query_terms), dtype=np.float32)

    # --- persistence -----------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".kw-", dir=path.parent))
        try:
            if self.retriever is not None:
                self.retriever.save(str(tmp / "bm25"), show_progress=False)
            (tmp / "ids.json").write_text(json.dumps(self.ids, ensure_ascii=False))
            (tmp / "df.json").write_text(json.dumps(self.df, ensure_ascii=False))
            (tmp / "meta.json").write_text(json.dumps({"generation": self.generation, "count": len(self.ids)}))
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
            import bm25s

            meta = json.loads((path / "meta.json").read_text())
            ids = json.loads((path / "ids.json").read_text())
            df = json.loads((path / "df.json").read_text())
            retriever = bm25s.BM25.load(str(path / "bm25"), show_progress=False) if ids else None
            if len(ids) != meta["count"]:
                return None
            return cls(ids, retriever, df, meta["generation"])
        except (OSError, ValueError, KeyError) as exc:
            log.info("keyword index at %s not usable (%s); it will be rebuilt", path, exc)
            return None
