"""``sanad export`` / ``sanad import``: the whole archive in Sanad's own JSONL, for backups
and moving machines. The first line is a header (``{"sanad_export": 1, ...}``); then one line
per original article, one per syndicated copy (with ``copy_of``), one with the followed feeds.
Gzip when the name ends in ``.gz``. A round trip gives the same ``sanad sources --json``:
ids, dates and ingestion times are kept, copies stay copies of the same originals."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from rag.loaders import LoadError
from rag.records import Article, IngestReport

VERSION = 1


def _open(path: Path, mode: str, gz: bool | None = None):
    if path.suffix == ".gz" if gz is None else gz:
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def export_archive(sanad, path: Path) -> dict:
    """Write every article, copy and followed feed to ``path`` (via a temporary file, renamed
    into place when complete)."""
    from rag.feeds import FOLLOWED, Follower

    path = Path(path)
    totals = sanad.articles.totals()
    feeds = Follower(sanad)._stored() if sanad.store_usable() else json.loads(sanad.articles.meta(FOLLOWED) or "[]")
    tmp = path.with_name(path.name + ".part")
    with _open(tmp, "w", gz=path.suffix == ".gz") as f:
        f.write(json.dumps({"sanad_export": VERSION, **totals, "feeds": len(feeds)}) + "\n")
        for copies in (False, True):
            for rec in sanad.articles.iter_all(copies=copies):
                f.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
        f.write(json.dumps({"feeds": feeds}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return {"articles": totals["articles"], "copies": totals["copies"], "feeds": len(feeds)}


def _article(d: dict) -> Article:
    return Article(d["doc_id"], d.get("title", ""), d["text"], d.get("source", ""), d.get("date", ""),
                   d.get("url", ""), d.get("path", ""), ingested_at=int(d.get("ingested_at", 0) or 0))


def read_export(path: Path):
    """(header, originals, copies, feeds) of an export file; a clear LoadError otherwise."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    originals, copies, feeds = [], [], []
    try:
        with _open(path, "r") as f:
            try:
                header = json.loads(f.readline() or "{}")
            except ValueError:
                header = None
            if not isinstance(header, dict) or "sanad_export" not in header:
                raise LoadError(f"{path}: not a file written by sanad export (to add articles, use sanad ingest)")
            for n, line in enumerate(f, 2):
                if not line.strip():
                    continue
                d = json.loads(line)
                if "feeds" in d and "doc_id" not in d:
                    feeds = list(d["feeds"])
                elif d.get("copy_of"):
                    copies.append((_article(d), d["copy_of"], float(d.get("similarity") or 0.0)))
                else:
                    originals.append(_article(d))
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise LoadError(f"{path}: unreadable export ({type(exc).__name__}: {exc}); nothing was imported") from None
    return header, originals, copies, feeds


def import_archive(sanad, path: Path, progress: bool = False) -> tuple[IngestReport, dict]:
    """Bring an export into this archive: originals indexed (known originals: no copy
    detection among them), copies recorded against their originals, feeds followed."""
    from rag.feeds import Follower

    _, originals, copies, feeds = read_export(path)
    with sanad.writing():
        report = sanad.ingest_articles(originals, progress=progress, originals=True)
        known = sanad.articles.have(list({of for _, of, _ in copies}))
        recorded = 0
        for article, of, similarity in copies:
            if of in known:
                sanad.record_copy(article, of, similarity)
                recorded += 1
            else:
                report.errors.append(f"{article.doc_id}: a copy of {of}, which is not in the archive")
        follower = Follower(sanad)
        followed = sum(follower.follow(u) for u in feeds)
    return report, {"copies": recorded, "feeds": followed}
