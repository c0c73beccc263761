"""``sanad repair`` (under the writer lock) mends what ``sanad check`` (rag/check.py) finds: a
damaged Chroma directory is moved aside (never deleted) and the index rebuilt from the article
store, with the embedding cache re-embedding nothing it has seen; the state records (feeds,
copies, the bot's memory) are carried over when they can still be read, and the copies and
followed feeds are restored from the article store when they cannot. Killed half way, it is
run again and carries on: the articles already back in the index are found unchanged and
skipped."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.articles import BACKFILL, ArticleStore, StoredArticle
from rag.check import Health, check, differences, short_error
from rag.records import Article

log = logging.getLogger(__name__)


# --- repair --------------------------------------------------------------------------------
@dataclass
class RepairReport:
    found: list[str] = field(default_factory=list)
    moved_aside: list[str] = field(default_factory=list)
    articles_recovered: int = 0  # copied into the article store from the index
    reindexed: int = 0  # articles written to the index again
    removed: int = 0  # articles in the index that the store no longer holds
    copies_restored: int = 0
    state_carried: int = 0
    keyword_rebuilt: bool = False
    seconds: float = 0.0
    after: Health | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["after"] = self.after.to_dict() if self.after else None
        return out


def repair(sanad, progress: bool = False, say: Callable[[str], None] = log.warning) -> RepairReport:
    """Mend what ``check`` finds; see the module's docstring."""
    t0 = time.perf_counter()
    rep = RepairReport()
    with sanad.writing():
        health = check(sanad)
        rep.found = [p.line() for p in health.problems]
        parts = health.parts()
        carried: list = []
        if "index" in parts and _index_unusable(health):
            carried = _carry_state(sanad)
            _move_index_aside(sanad, rep, say)
        if "articles" in parts:
            _mend_articles(sanad, health, rep, say)
        _reindex(sanad, rep, progress, say)
        if carried:
            _restore_state(sanad, carried, rep)
        _restore_copies(sanad, rep)
        if "keyword" in parts or rep.reindexed or rep.removed or rep.moved_aside:
            _rebuild_keyword(sanad, rep)
        rep.after = check(sanad)
    rep.seconds = time.perf_counter() - t0
    return rep


def _index_unusable(health: Health) -> bool:
    return any(p.part == "index" and ("damaged" in p.what or "cannot be read" in p.what or "unreadable" in p.what)
               for p in health.problems)


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def _carry_state(sanad) -> list:
    """The state records, when they can still be read from the damaged store."""
    try:
        return list(sanad.state.dump())
    except Exception as exc:  # noqa: BLE001 - they are rebuilt from the article store instead
        log.warning("the state records cannot be read from the damaged index (%s): the copies and the followed "
                    "feeds are restored from the article store; the bot's conversation memory starts afresh", short_error(exc))
        return []


def _move_index_aside(sanad, rep: RepairReport, say) -> None:
    s = sanad.settings
    sanad.store.close()
    if s.chroma_url:
        say(f"the collection {s.collection!r} on {s.chroma_url} is damaged: dropping it to rebuild it from "
            "the article store")
        sanad.store.reset()
        sanad.store.drop_collection(f"{s.collection}-state")
        rep.moved_aside.append(f"{s.chroma_url} {s.collection}")
    elif s.chroma_path.exists():
        aside = s.chroma_path.with_name(f"{s.chroma_path.name}.damaged-{_stamp()}")
        s.chroma_path.rename(aside)
        rep.moved_aside.append(str(aside))
        say(f"moved the damaged index aside to {aside} (delete it when the repair is done)")
    sanad.forget_index()


def _mend_articles(sanad, health: Health, rep: RepairReport, say) -> None:
    store: ArticleStore = sanad.articles
    salvaged: list[StoredArticle] = []
    if any(p.part == "articles" and "damaged" in p.what for p in health.problems):
        store.close()
        aside = store.path.with_name(f"{store.path.stem}.damaged-{_stamp()}{store.path.suffix}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(store.path) + suffix)
            if part.exists():
                part.rename(Path(str(aside) + suffix))
        rep.moved_aside.append(str(aside))
        say(f"moved the damaged article store aside to {aside}")
        salvaged = _salvage(aside)
        store.put(salvaged)
    # copy out of the index what the store lacks (an index made before the store existed,
    # or a damaged store's articles that could not be read back); copies from their records
    # (their text was never kept before the article store: they are listed, not indexed)
    if sanad.store_usable():
        have = store.have(sanad.doc_ids())
        recovered = [a for a in _articles_from_index(sanad) if a.article.doc_id not in have]
        store.put(recovered)
        copies = [c for c in _copies_from_state(sanad) if c.article.doc_id not in store.have([c.article.doc_id])]
        store.put(copies)
        rep.articles_recovered = len(recovered) + len(salvaged) + len(copies)
    store.del_meta(BACKFILL)


def _salvage(path: Path) -> list[StoredArticle]:
    """What can still be read from a damaged article store, row by row."""
    from rag.articles import COLUMNS

    out = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        ids = [r[0] for r in conn.execute("SELECT doc_id FROM articles")]
        for d in ids:
            try:
                row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM articles WHERE doc_id = ?", (d,)).fetchone()
                if row:
                    out.append(StoredArticle.from_row(row))
            except sqlite3.DatabaseError:
                continue
        conn.close()
    except sqlite3.DatabaseError as exc:
        log.warning("nothing could be read from %s (%s): the articles come from the index", path, exc)
    return out


def _articles_from_index(sanad):
    """Articles put back together from their chunks (each chunk is ``text[start:end]``;
    a gap between chunks, whitespace in the original, becomes spaces, so offsets hold)."""
    by_doc: dict[str, list] = {}
    for cid, text, meta in sanad.store.iter_all():
        by_doc.setdefault(meta["doc_id"], []).append((int(meta["start"]), int(meta["end"]), text, meta))
    for doc_id, parts in by_doc.items():
        parts.sort(key=lambda p: p[0])
        text = ""
        for start, end, chunk, _ in parts:
            if start > len(text):
                text += " " * (start - len(text))
            text = text[:start] + chunk if end > len(text) else text
        meta = parts[0][3]
        at = int(meta.get("ingested_at", 0) or 0)
        article = Article(doc_id, meta.get("title", ""), text, str(meta.get("source", "") or ""),
                          str(meta.get("date", "") or ""), str(meta.get("url", "") or ""),
                          str(meta.get("path", "") or ""), ingested_at=at)
        yield StoredArticle(article, str(meta.get("doc_hash", "")), len(parts), at)


def _copies_from_state(sanad):
    from rag.dedupe import COPY

    try:
        records = list(sanad.state.iter_kind(COPY))
    except Exception:  # noqa: BLE001 - unreadable state: the copies are not recovered
        return
    for _key, c in records:
        article = Article(c["doc_id"], c.get("title", ""), "", c.get("source", ""), c.get("date", ""), c.get("url", ""))
        yield StoredArticle(article, copy_of=c["of"], similarity=c.get("similarity"))


def _reindex(sanad, rep: RepairReport, progress: bool, say) -> None:
    """Bring the index in line with the article store: what is missing or differs is written
    again (unchanged chunks are skipped, cached vectors reused), what the store no longer
    holds leaves."""
    diff = differences(sanad)
    todo = diff.stale
    for doc_id in diff.extra:  # its article left the store (a removal cut short): its chunks go too
        sanad.remove(doc_id)
    rep.removed = len(diff.extra)
    if todo:
        say(f"re-indexing {len(todo)} articles from the article store")

        def stream():
            for start in range(0, len(todo), 200):
                got = sanad.articles.get(todo[start : start + 200])
                yield from (got[d].article for d in todo[start : start + 200] if d in got)

        report = sanad.ingest_articles(stream(), progress=progress, total=len(todo), originals=True)
        rep.reindexed = len(report.added) + len(report.replaced)


def _restore_state(sanad, carried: list, rep: RepairReport) -> None:
    by_kind: dict[str, dict] = {}
    for key, value, kind in carried:
        by_kind.setdefault(kind, {})[key] = value
    for kind, records in by_kind.items():
        items = list(records.items())
        for start in range(0, len(items), 500):
            sanad.state.put(dict(items[start : start + 500]), kind=kind)
    rep.state_carried = len(carried)


def _restore_copies(sanad, rep: RepairReport) -> None:
    """The copies and the followed feeds, from the article store where the state lacks them."""
    from rag.dedupe import COPY
    from rag.feeds import FOLLOWED

    copies = list(sanad.articles.iter_all(copies=True))
    known = set()
    keys = [f"{COPY}:{c.article.doc_id}" for c in copies]
    for start in range(0, len(keys), 500):
        known |= set(sanad.state.get(keys[start : start + 500]))
    for c in copies:
        if f"{COPY}:{c.article.doc_id}" not in known:
            sanad.record_copy(c.article, c.copy_of, c.similarity or 0.0)
            rep.copies_restored += 1
    followed = sanad.articles.meta(FOLLOWED)
    if followed and not sanad.state.get([FOLLOWED]):
        sanad.state.put({FOLLOWED: json.loads(followed)})


def _rebuild_keyword(sanad, rep: RepairReport) -> None:
    s = sanad.settings
    path = s.keyword_path / s.collection
    if path.exists():
        shutil.rmtree(path)
    sanad.forget_index()
    sanad.keyword()
    rep.keyword_rebuilt = True
