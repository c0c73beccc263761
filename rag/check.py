"""``sanad check``: the article store (rag/articles.py) is the truth, Chroma's chunks and vectors
and the BM25 index are derived from it; this verifies the three against each other: SQLite's own
check of the article store and of Chroma's database, chunk counts, a sample of articles' chunks
and vectors read back and searched (``full``: every article and every vector), and the keyword
index. Each problem is one line saying what is wrong and what to run (rag/repair.py mends it)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.articles import BACKFILL, ArticleStore

SAMPLE = 24  # articles whose chunks and vectors the quick check reads back
REPAIR = "sanad repair"


@dataclass
class Problem:
    part: str  # "articles", "index" or "keyword"
    what: str
    fix: str

    def line(self) -> str:
        return f"{self.part}: {self.what} - run: {self.fix}"


@dataclass
class Health:
    problems: list[Problem] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # worth knowing, nothing to repair
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def parts(self) -> set[str]:
        return {p.part for p in self.problems}

    def to_dict(self) -> dict:
        return {"ok": self.ok, "problems": [asdict(p) for p in self.problems], "notes": self.notes,
                "counts": self.counts, "seconds": round(self.seconds, 2)}


def sqlite_check(path: Path, full: bool = False) -> list[str]:
    """SQLite's own check of a database file, read-only: [] when sound."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if [r[0] for r in rows] == ["ok"] else [" ".join(str(r[0]).split()) for r in rows[:3]]


def check(sanad, full: bool = False) -> Health:
    """Verify the article store, the index and the keyword index against each other."""
    t0 = time.perf_counter()
    health = Health()
    articles = _check_articles(sanad, health, full)
    chunks = _check_index(sanad, health, full, articles)
    if chunks is not None:
        _check_keyword(sanad, health, chunks)
    health.seconds = time.perf_counter() - t0
    return health


def _check_articles(sanad, health: Health, full: bool) -> dict | None:
    store: ArticleStore = sanad.articles
    if not store.exists:
        health.counts.update(articles=0, copies=0)
        return {"articles": 0, "copies": 0, "chunks": 0, "new": True}
    damage = store.integrity(full)
    if damage:
        health.problems.append(Problem(
            "articles", f"the article store {store.path} is damaged ({'; '.join(damage)})",
            f"{REPAIR} (it is moved aside and rebuilt from what can be read of it and from the index)"))
        return None
    totals = store.totals()
    health.counts.update(articles=totals["articles"], copies=totals["copies"])
    if store.meta(BACKFILL):
        health.problems.append(Problem(
            "articles", "the index holds articles made before the article store existed, not yet copied into it",
            f"{REPAIR} (it copies them out of the index)"))
    return totals


def _check_index(sanad, health: Health, full: bool, articles: dict | None) -> int | None:
    s = sanad.settings
    if not s.chroma_url:
        db = s.chroma_path / "chroma.sqlite3"
        if db.exists():
            damage = sqlite_check(db, full)
            if damage:
                health.problems.append(Problem(
                    "index", f"Chroma's database {db} is damaged ({'; '.join(damage)})",
                    f"{REPAIR} (it moves {s.chroma_path} aside and rebuilds the index from the article store)"))
                return None
    try:
        count = sanad.store.count()
    except Exception as exc:  # noqa: BLE001 - any failure to open is the finding
        health.problems.append(Problem("index", f"the index cannot be read: {short_error(exc)}",
                                       f"{REPAIR} (it rebuilds the index from the article store)"))
        return None
    health.counts["chunks"] = count
    if articles is None:
        return count
    if articles.get("new") and count:
        health.problems.append(Problem(
            "articles", f"there is no article store in {s.home}: the index's articles are kept nowhere else",
            f"{REPAIR} (it copies them out of the index)"))
        return count
    if count != articles["chunks"] and not sanad.articles.meta(BACKFILL):
        health.problems.append(Problem(
            "index", f"the index holds {count} chunks, the article store's {articles['articles']} articles "
                     f"{articles['chunks']}", f"{REPAIR} (it re-indexes what differs)"))
    try:
        if full:
            _full_compare(sanad, health)
        else:
            _sample(sanad, health)
    except Exception as exc:  # noqa: BLE001
        health.problems.append(Problem("index", f"the index's chunks or vectors cannot be read: {short_error(exc)}",
                                       f"{REPAIR} (it rebuilds the index from the article store)"))
    return count


def _sample(sanad, health: Health) -> None:
    """A few articles' chunks and vectors read back, and one search with a stored vector."""
    picked = dict(sanad.articles.sample(SAMPLE))
    if not picked:
        return
    got = sanad.store.docs_chunks(list(picked))
    off = [d for d, n in picked.items() if len(got.get(d, {}).get("ids", [])) != n]
    if off and not sanad.articles.meta(BACKFILL):
        health.problems.append(Problem(
            "index", f"{len(off)} of {len(picked)} sampled articles have missing or extra chunks (e.g. {off[0]})",
            f"{REPAIR} (it re-indexes what differs)"))
    vectors = [v for d in got.values() for v in d["embeddings"]]
    bad = [v for v in vectors if v is None or not np.all(np.isfinite(np.asarray(v, dtype=np.float32)))]
    if bad:
        health.problems.append(Problem("index", f"{len(bad)} stored vectors are unreadable",
                                       f"{REPAIR} (it rebuilds the index from the article store)"))
    elif vectors:
        sanad.store.nearest(np.asarray(vectors[0], dtype=np.float32), 3)


@dataclass
class Differences:
    """The index against the article store, article by article (``differences``)."""

    stale: list[str]  # originals missing from the index or indexed from another version, in store order
    extra: list[str]  # in the index, not in the store
    chunk_ids: list[str]  # every chunk id in the index
    missing: list[str] = field(default_factory=list)  # of ``stale``: not in the index at all


def differences(sanad) -> Differences:
    """Every original's chunk count and content hash in the store against the index's chunks
    (one listing of the index's metadata): ``sanad check --full`` reports them, ``sanad repair``
    mends them."""
    want = sanad.articles.chunk_counts()
    have: dict[str, list] = {}
    for cid, meta in sanad.store.iter_meta():
        have.setdefault(meta["doc_id"], []).append((cid, meta.get("doc_hash")))
    stale = [d for d, (n, h) in want.items()
             if len(have.get(d, [])) != n or any(x != h for _, x in have.get(d, []))]
    return Differences(stale, [d for d in have if d not in want],
                       [cid for rows in have.values() for cid, _ in rows], [d for d in stale if d not in have])


def _full_compare(sanad, health: Health) -> None:
    """Every article's chunk count and hash against the store, and every vector read back."""
    diff = differences(sanad)
    missing, extra = diff.missing, diff.extra
    differ = [d for d in diff.stale if d not in set(missing)]
    backfill = sanad.articles.meta(BACKFILL)
    for label, docs in (("missing from the index", missing), ("in the index but not in the article store", extra),
                        ("indexed from another version of the article", differ)):
        if docs and not (backfill and label.startswith("in the index")):
            health.problems.append(Problem("index", f"{len(docs)} articles {label} (e.g. {docs[0]})",
                                           f"{REPAIR} (it re-indexes what differs)"))
    ids = diff.chunk_ids
    for start in range(0, len(ids), 2000):
        got = sanad.store.get(ids[start : start + 2000], embeddings=True)
        if got.get("embeddings") is None or len(got["embeddings"]) != len(got["ids"]):
            raise RuntimeError("vectors missing")


def _check_keyword(sanad, health: Health, chunks: int) -> None:
    s = sanad.settings
    state = s.keyword_path / s.collection / "state.json"
    fix = f"{REPAIR} (or ask a question: it is rebuilt from the index then)"
    if not state.exists():
        if chunks and s.keyword_path.exists():  # saved once, its files gone since
            health.problems.append(Problem("keyword", f"the keyword (BM25) index {state.parent} is missing", fix))
        elif chunks:
            health.notes.append("the keyword index is not built yet: the first question builds it")
        return
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
        live = len(data["hashes"])
        bm25 = state.parent / "bm25"
        if data["main_ids"] and not bm25.is_dir():
            raise ValueError("its bm25 folder is missing")
    except (OSError, ValueError, KeyError) as exc:
        health.problems.append(Problem("keyword", f"the keyword index {state.parent} is unreadable ({exc})", fix))
        return
    health.counts["keyword_chunks"] = live
    try:
        current = data.get("generation") == sanad.store.generation()
    except Exception:  # noqa: BLE001 - reported by the index check
        return
    if current and live != chunks:
        health.problems.append(Problem(
            "keyword", f"the keyword index holds {live} chunks, the index {chunks}", fix))


def short_error(exc: Exception) -> str:
    from rag.store import REPAIR_HINT

    text = str(exc).replace(REPAIR_HINT, "").splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:300]}"


