"""The article store: every ingested article, kept apart from the index.

The articles are the truth; Chroma's chunks and vectors and the BM25 index are derived from
them and can always be rebuilt from this file (``sanad repair``; the embedding cache means a
rebuild re-embeds nothing it has seen). One SQLite database in ``SANAD_HOME`` (WAL journal,
``synchronous=FULL``): an article's row is committed before its chunks reach Chroma, and
removed before its chunks leave it, so a crash between the two leaves the index behind the
truth, never ahead of it. Syndicated copies (rag/dedupe.py) are rows with ``copy_of`` set; a
few archive-wide records (the followed feeds) live in ``meta``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from rag.records import Article

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    date TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '',
    doc_hash TEXT NOT NULL DEFAULT '',
    n_chunks INTEGER NOT NULL DEFAULT 0,
    ingested_at INTEGER NOT NULL DEFAULT 0,
    copy_of TEXT,
    similarity REAL
);
CREATE INDEX IF NOT EXISTS articles_copy_of ON articles (copy_of);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
COLUMNS = ("doc_id", "title", "text", "source", "date", "url", "path", "doc_hash", "n_chunks", "ingested_at",
           "copy_of", "similarity")
BACKFILL = "backfill"  # meta key: the store was created over an index that already held articles


@dataclass(frozen=True)
class StoredArticle:
    """An article as kept: the article itself, how it was indexed, or which article it repeats."""

    article: Article
    doc_hash: str = ""  # rag.chunking.article_hash: the chunks in the index must carry the same
    n_chunks: int = 0
    ingested_at: int = 0
    copy_of: str | None = None  # a syndicated copy: not indexed, cited with its original
    similarity: float | None = None

    def row(self) -> tuple:
        a = self.article
        return (a.doc_id, a.title, a.text, a.source, a.date, a.url, a.path, self.doc_hash, self.n_chunks,
                self.ingested_at, self.copy_of, self.similarity)

    @classmethod
    def from_row(cls, row) -> StoredArticle:
        doc_id, title, text, source, date, url, path, doc_hash, n_chunks, at, copy_of, sim = row
        article = Article(doc_id, title, text, source, date, url, path, ingested_at=at)
        return cls(article, doc_hash, n_chunks, at, copy_of, sim)

    def to_dict(self) -> dict:
        a = self.article
        out = {"doc_id": a.doc_id, "title": a.title, "text": a.text, "source": a.source, "date": a.date,
               "url": a.url, "path": a.path, "ingested_at": self.ingested_at}
        if self.copy_of is not None:
            out.update(copy_of=self.copy_of, similarity=self.similarity)
        return out


class ArticleStoreError(RuntimeError):
    pass


class ArticleStore:
    """``SANAD_HOME/articles.sqlite3``. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def conn(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=60, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=FULL")
                    conn.executescript(SCHEMA)
                except sqlite3.DatabaseError as exc:
                    conn.close()
                    raise ArticleStoreError(
                        f"the article store {self.path} is damaged ({exc}); run: sanad check, then sanad repair "
                        "(it rebuilds the store from the index)") from None
                self._conn = conn
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _write(self, sql: str, rows: Iterable[tuple] = ((),), many: bool = True) -> None:
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, rows) if many else conn.execute(sql, *rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # --- writes ----------------------------------------------------------------------
    def put(self, records: Iterable[StoredArticle]) -> None:
        """Add or replace articles, in one transaction (committed and synced on return)."""
        rows = [r.row() for r in records]
        if rows:
            self._write(f"INSERT OR REPLACE INTO articles VALUES ({', '.join('?' * len(COLUMNS))})", rows)

    def remove(self, doc_ids: Iterable[str]) -> None:
        self._write("DELETE FROM articles WHERE doc_id = ?", [(d,) for d in doc_ids])

    def remove_copies_of(self, doc_id: str) -> None:
        self._write("DELETE FROM articles WHERE copy_of = ?", [(doc_id,)])

    def clear(self) -> None:
        self._write("DELETE FROM articles", many=False)
        self._write("DELETE FROM meta WHERE key = ?", [(BACKFILL,)])

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(key, value)])

    def del_meta(self, key: str) -> None:
        self._write("DELETE FROM meta WHERE key = ?", [(key,)])

    # --- reads -----------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def get(self, doc_ids: list[str]) -> dict[str, StoredArticle]:
        out: dict[str, StoredArticle] = {}
        for start in range(0, len(doc_ids), 500):
            part = doc_ids[start : start + 500]
            with self._lock:
                rows = self.conn.execute(
                    f"SELECT {', '.join(COLUMNS)} FROM articles WHERE doc_id IN ({', '.join('?' * len(part))})", part
                ).fetchall()
            out.update((r[0], StoredArticle.from_row(r)) for r in rows)
        return out

    def have(self, doc_ids: list[str]) -> set[str]:
        out: set[str] = set()
        for start in range(0, len(doc_ids), 500):
            part = doc_ids[start : start + 500]
            with self._lock:
                rows = self.conn.execute(
                    f"SELECT doc_id FROM articles WHERE doc_id IN ({', '.join('?' * len(part))})", part).fetchall()
            out.update(r[0] for r in rows)
        return out

    def iter_all(self, copies: bool | None = None, batch: int = 500) -> Iterator[StoredArticle]:
        """Every article in id order (``copies``: True only copies, False only originals)."""
        where = "" if copies is None else ("AND copy_of IS NOT NULL" if copies else "AND copy_of IS NULL")
        last = ""
        while True:
            with self._lock:
                rows = self.conn.execute(
                    f"SELECT {', '.join(COLUMNS)} FROM articles WHERE doc_id > ? {where} ORDER BY doc_id LIMIT ?",
                    (last, batch)).fetchall()
            if not rows:
                return
            yield from (StoredArticle.from_row(r) for r in rows)
            last = rows[-1][0]

    def under(self, folder: str) -> list[str]:
        """Ids of the articles read from files under ``folder``."""
        prefix = folder.rstrip("/") + "/"
        with self._lock:
            rows = self.conn.execute("SELECT doc_id FROM articles WHERE substr(path, 1, ?) = ? ORDER BY doc_id",
                                     (len(prefix), prefix)).fetchall()
        return [r[0] for r in rows]

    def chunk_counts(self) -> dict[str, tuple[int, str]]:
        """doc_id -> (chunks, doc_hash) of every original."""
        with self._lock:
            rows = self.conn.execute("SELECT doc_id, n_chunks, doc_hash FROM articles WHERE copy_of IS NULL").fetchall()
        return {d: (n, h) for d, n, h in rows}

    def sample(self, n: int) -> list[tuple[str, int]]:
        """Up to ``n`` originals chosen at random, with their chunk counts."""
        with self._lock:
            return self.conn.execute(
                "SELECT doc_id, n_chunks FROM articles WHERE copy_of IS NULL ORDER BY random() LIMIT ?", (n,)
            ).fetchall()

    def totals(self) -> dict:
        """Originals, copies and the chunks the originals should have in the index."""
        with self._lock:
            originals, chunks = self.conn.execute(
                "SELECT count(*), coalesce(sum(n_chunks), 0) FROM articles WHERE copy_of IS NULL").fetchone()
            copies = self.conn.execute("SELECT count(*) FROM articles WHERE copy_of IS NOT NULL").fetchone()[0]
        return {"articles": originals, "copies": copies, "chunks": chunks}

    def integrity(self, full: bool = False) -> list[str]:
        """SQLite's own check (``quick_check``; ``integrity_check`` with ``full``): [] when sound."""
        try:
            with self._lock:
                rows = self.conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
        except (sqlite3.DatabaseError, ArticleStoreError) as exc:
            return [str(exc)]
        return [] if [r[0] for r in rows] == ["ok"] else [" ".join(str(r[0]).split()) for r in rows[:3]]


def stored(article: Article, doc_hash: str, n_chunks: int, now: int) -> StoredArticle:
    """An original article as it is written to the index now (or at its recorded time)."""
    at = article.ingested_at or now
    return StoredArticle(replace(article, ingested_at=at), doc_hash, n_chunks, at)
